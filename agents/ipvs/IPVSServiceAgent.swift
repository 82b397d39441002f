import Addresses
import AgentRecords
import LVS
import Netlink
import OCF
import OCFNetlink

/// `ocf:tandem:ipvs`: one IPVS virtual service and its real servers, kept as configured.
final class IPVSServiceAgent: ResourceAgent {
    static let name = "ipvs"
    static let version = tandemVersion
    static let shortDescription = "IPVS virtual service with its real servers"
    static let longDescription = """
        Manages one IPVS (LVS) virtual service and its real servers over the kernel's generic-netlink \
        interface, without ipvsadm. start creates the service and its real servers as one unit (a partial \
        failure is rolled back); stop can drain connections first, then deletes the service; monitor reads \
        the service and its real servers (one request and one dump) and repairs, reports or fails on drift; \
        reload-agent applies changed parameters (all but service and netns) to the live service, so established \
        connections survive. Weights and real servers the health checker (ocf:tandem:healthcheck) took over are \
        not drift.
        """
    static let actions = [
        ActionAdvertisement(.start, timeout: 20),
        ActionAdvertisement(.stop, timeout: 60),
        ActionAdvertisement(.monitor, timeout: 20, interval: 10),
        ActionAdvertisement(.reloadAgent, timeout: 20),
        ActionAdvertisement(.validateAll, timeout: 20),
        ActionAdvertisement(.metaData, timeout: 5),
    ]

    let parameters: IPVSParameters
    let context: AgentContext
    let kernel: any Kernel
    let desired: DesiredService

    init(parameters: IPVSParameters, context: AgentContext, host: any Kernel) throws {
        self.parameters = parameters
        self.context = context
        self.kernel = context.traced(host)
        desired = try parameters.desiredService()
    }

    var identity: IPVSService.Identity { desired.service.identity }
    var log: Log { context.log }
    var recordFile: StateFile { context.stateFile(agent: Self.name) }
    /// The health checker's overrides of this service, and the lock both sides change it under.
    var overrides: HealthOverrides.Store {
        HealthOverrides.Store(service: parameters.service, namespace: parameters.netns?.path, directory: context.state.path)
    }

    /// The IPVS table in the configured namespace.
    /// - Throws: `OCF_ERR_INSTALLED` without IPVS, `OCF_ERR_ARGS` when the namespace is missing here.
    func openTable() throws -> any IPVSTable { try kernel.ipvsTable(in: parameters.netns) }

    // MARK: validate-all

    func validate() throws {
        _ = try openTable()
    }

    // MARK: start

    /// Creates the service, or adopts and corrects an existing one, as one unit: when any
    /// step fails the kernel is put back as it was before the start.
    func start() throws {
        let table = try openTable()
        try context.state.create()
        // Recorded first: a stop after a failed start (even with a broken configuration) finds it.
        try ServiceRecord(service: identity, namespace: parameters.netns?.path).save(to: recordFile)
        try overrides.withLock(deadline: context.deadline) {
            try releaseExpiredHold(table)
            let (actual, destinations) = try read(table)
            let plan = desired.plan(actual: actual, actualDestinations: destinations, overrides: try loadOverrides())
            if actual != nil {
                for difference in plan.differences { log.info("adopting \(identity): \(difference)") }
            }
            try applyAllOrNothing(plan, to: table, before: actual, destinations: destinations)
            try overrides.publishDesired(desired.destinations)
            if actual == nil { log.info("created \(identity) with \(plan.operations.count - 1) real server(s)") }
        }
    }

    // MARK: stop

    func stop() throws {
        let record = try ServiceRecord.load(from: recordFile)
        let namespace = record?.namespace ?? parameters.netns?.path
        try Self.remove(identity, namespace: namespace, drainFor: parameters.drainTimeout, desired: desired,
                        context: context, kernel: kernel)
        if let record, record.service != identity {
            try Self.remove(record.service, namespace: record.namespace, drainFor: 0, desired: nil, context: context, kernel: kernel)
        }
        context.forget(recordFile)
    }

    /// With a configuration that does not parse, the recorded service is still removed.
    static func stop(unparsableConfiguration problems: ParameterProblems, context: AgentContext, host: any Kernel) throws {
        let file = context.stateFile(agent: name)
        guard let record = try ServiceRecord.load(from: file) else {
            context.log.info("no service was recorded as started: nothing to stop")
            context.forget(file)
            return
        }
        try remove(record.service, namespace: record.namespace, drainFor: 0, desired: nil, context: context,
                   kernel: context.traced(host))
        context.forget(file)
    }

    /// Deletes the service, after draining it when asked; success when it (or IPVS) is absent.
    /// The drain never makes the stop fail: when it cannot finish in time, or reading the
    /// counters fails, that is logged and the service is deleted anyway (a failed stop would
    /// get the node fenced).
    static func remove(_ identity: IPVSService.Identity, namespace: String?, drainFor seconds: Int, desired: DesiredService?,
                       context: AgentContext, kernel: any Kernel) throws {
        // The health checker stops checking a service no ipvs resource runs here.
        context.forget(HealthOverrides.Store(service: ServiceSpec(identity: identity), namespace: namespace, directory: context.state.path)
            .desiredFile)
        let table: any IPVSTable
        switch try IPVSPresence.check(kernel, in: namespace.map { NamespaceReference(path: $0) }) {
        case .present(let opened):
            table = opened
        case .absent(let reason):
            context.log.info("nothing to stop: \(reason)")
            return
        }
        guard try netlink("reading \(identity)", { try table.service(identity) }) != nil else { return }
        if seconds > 0, let desired {
            drain(table, desired: desired, seconds: seconds, context: context)
        }
        try delete(identity, from: table, namespace: namespace, context: context, kernel: kernel)
    }

    /// Deletes the service; a transport failure is retried on a fresh socket until the deadline.
    static func delete(_ identity: IPVSService.Identity, from table: any IPVSTable, namespace: String?,
                       context: AgentContext, kernel: any Kernel) throws {
        var table = table
        var pause = Duration.milliseconds(50)
        while true {
            do {
                let outcome = try table.apply([.deleteService(identity)])
                if let failure = outcome.first ?? nil, failure.kind != .notFound {
                    throw OCFError.generic("deleting \(identity): \(failure.function): \(failure.message)")
                }
                context.log.info("deleted \(identity)")
                return
            } catch let error as NetlinkError {
                guard ContinuousClock.now + pause < context.deadline else { throw error.ocf(while: "deleting \(identity)") }
                context.log.warning("deleting \(identity): \(error); trying again")
                sleep(for: pause)
                pause = min(pause * 2, .seconds(1))
                table = try kernel.ipvsTable(in: namespace.map { NamespaceReference(path: $0) })
            }
        }
    }

    /// Weight 0 everywhere, then wait until no real server has active connections, the drain
    /// time is over or the stop's deadline draws near (the deletion keeps a second of it).
    static func drain(_ table: any IPVSTable, desired: DesiredService, seconds: Int, context: AgentContext) {
        let identity = desired.service.identity
        let deadline = min(ContinuousClock.now + .seconds(seconds), context.deadline - .seconds(1))
        do throws(NetlinkError) {
            let current = try table.destinations(of: identity)
            let outcomes = try table.apply(desired.drain(current))
            if let failure = outcomes.compactMap({ $0 }).first {
                context.log.warning("draining \(identity): \(failure); deleting it without waiting")
                return
            }
            context.log.info("draining \(identity) for at most \(seconds) s")
            var pause = Duration.milliseconds(20)
            while true {
                let active = try table.destinations(of: identity).reduce(0) { $0 + Int($1.activeConnections) }
                if active == 0 {
                    context.log.info("\(identity) drained")
                    return
                }
                guard ContinuousClock.now < deadline else {
                    context.log.warning("\(identity) still has \(active) active connection(s) after draining; deleting it anyway")
                    return
                }
                sleep(for: min(pause, max(.zero, ContinuousClock.now.duration(to: deadline))))
                pause = min(pause * 2, .milliseconds(250))
            }
        } catch {
            context.log.warning("draining \(identity): \(error); deleting it anyway")
        }
    }

    // MARK: monitor

    func monitor() throws -> MonitorResult {
        guard let table = try IPVSPresence.tableForMonitor(kernel, in: parameters.netns, isProbe: context.isProbe) else {
            return .notRunning
        }
        // A probe only reports: it reads without the lock and never repairs.
        guard !context.isProbe else {
            return try netlink("reading \(identity)", { try table.service(identity) }) == nil
                ? .notRunning : .running
        }
        // The health checker holds the lock for a sync (milliseconds); one that holds it for
        // seconds is frozen, and that is its monitor's business: this service is judged without
        // a repair, never failed (a restart would drop its connections).
        let lockDeadline = min(context.deadline, .now + Self.lockPatience)
        do {
            return try overrides.withLock(deadline: lockDeadline) { try monitorUnderLock(table) }
        } catch let error as StateError where error.isLockHeld {
            guard try netlink("reading \(identity)", { try table.service(identity) }) != nil else {
                if try ServiceRecord.load(from: recordFile) != nil { throw OCFError.generic("\(identity) disappeared from the IPVS table") }
                return .notRunning
            }
            return .degraded("drift not checked: \(error) (the health checker's lock of \(identity))")
        }
    }

    /// How long monitor waits for the override lock before it judges without it.
    static let lockPatience = Duration.seconds(5)

    private func monitorUnderLock(_ table: any IPVSTable) throws -> MonitorResult {
        try releaseExpiredHold(table)
        let (actual, destinations) = try read(table)
        guard actual != nil else {
            // Started here and gone without a stop is a failure, not a clean stop.
            if try ServiceRecord.load(from: recordFile) != nil {
                throw OCFError.generic("\(identity) disappeared from the IPVS table")
            }
            return .notRunning
        }
        let plan = desired.plan(actual: actual, actualDestinations: destinations, overrides: try loadOverrides())
        guard !plan.isEmpty else { return .running }
        let summary = plan.differences.joined(separator: "; ")
        switch parameters.onDrift {
        case .repair:
            for difference in plan.differences { log.warning("drift in \(identity): \(difference); repairing") }
            try apply(plan.operations, to: table)
            return .running
        case .report:
            return .degraded("drift in \(identity): \(summary)")
        case .fail:
            throw OCFError.generic("drift in \(identity): \(summary)")
        }
    }

    // MARK: reload-agent

    /// Applies changed reloadable parameters to the live service as one unit: real servers
    /// added, removed or changed, service settings set — never a delete and re-create, so
    /// connections survive. A service that is not running stays stopped (the next start uses
    /// the new parameters).
    func reloadAgent() throws {
        let table = try openTable()
        try overrides.withLock(deadline: context.deadline) {
            try releaseExpiredHold(table)
            let (actual, destinations) = try read(table)
            guard actual != nil else {
                log.info("\(identity) is not running; the new parameters apply at its next start")
                return
            }
            let plan = desired.plan(actual: actual, actualDestinations: destinations, overrides: try loadOverrides())
            for difference in plan.differences { log.info("reloading \(identity): \(difference)") }
            try applyAllOrNothing(plan, to: table, before: actual, destinations: destinations)
            try overrides.publishDesired(desired.destinations)
            log.info("reloaded \(identity)")
        }
    }

    // MARK: Shared

    /// The service and its real servers as the kernel has them.
    private func read(_ table: any IPVSTable) throws -> (IPVSService?, [IPVSDestination]) {
        guard let actual = try netlink("reading \(identity)", { try table.service(identity) }) else {
            return (nil, [])
        }
        let destinations = try netlink("reading the real servers of \(identity)") {
            try table.destinations(of: identity)
        }
        return (actual, destinations)
    }

    /// Applies a plan; every refused request is logged and the first is the exit reason.
    private func apply(_ operations: [IPVSOperation], to table: any IPVSTable) throws {
        let outcomes = try netlink("changing \(identity)") { try table.apply(operations) }
        if let failure = failure(of: outcomes) { throw OCFError.generic(failure) }
    }

    /// Applies a plan as one unit. When a request is refused, or the transport fails half-way
    /// (a later batch never answered), the kernel is put back from a fresh read: the service
    /// deleted if it was not there before, else its settings and real servers restored.
    private func applyAllOrNothing(_ plan: Plan, to table: any IPVSTable, before: IPVSService?,
                                   destinations beforeDestinations: [IPVSDestination]) throws {
        guard !plan.isEmpty else { return }
        let problem: String
        do {
            guard let failure = failure(of: try table.apply(plan.operations)) else { return }
            problem = failure
        } catch {
            problem = "\(error)"
        }
        let undone: String
        do {
            undone = try undo(before: before, destinations: beforeDestinations)
        } catch {
            throw OCFError.generic("\(problem); undoing it failed too: \(error)")
        }
        throw OCFError.generic("\(problem); \(identity) \(undone)")
    }

    /// Puts the service back as it was before a failed change, read afresh on a fresh socket
    /// (the old one may be what failed). Returns what it did.
    private func undo(before: IPVSService?, destinations beforeDestinations: [IPVSDestination]) throws -> String {
        let table = try openTable()
        guard let before else {
            let outcome = try netlink("deleting \(identity)") { try table.apply([.deleteService(identity)]) }
            if let failure = outcome.first ?? nil, failure.kind != .notFound { throw failure.ocf(while: "deleting \(identity)") }
            return "was removed again"
        }
        let (now, nowDestinations) = try read(table)
        let back = DesiredService(snapshot: before, destinations: beforeDestinations)
        try apply(back.plan(actual: now, actualDestinations: nowDestinations).operations, to: table)
        return "is back as it was"
    }

    /// The exit reason for refused requests (each logged), `nil` when all were applied.
    private func failure(of outcomes: [NetlinkError?]) -> String? {
        let failures = outcomes.compactMap { $0 }
        guard let first = failures.first else { return nil }
        for failure in failures { log.error("\(failure.function): \(failure.message)") }
        return "\(first.function): \(first.message)" + (failures.count > 1 ? " (and \(failures.count - 1) more)" : "")
    }

    private func loadOverrides() throws -> HealthOverrides {
        let (loaded, ignored) = try overrides.load()
        for line in ignored { log.warning("ignoring an unreadable health-check override: \(line)") }
        return loaded
    }

    /// The real servers a stopped health checker held out, once no checker took them over in
    /// time: back to their configured weights (the contract, not drift: also when monitor only
    /// reports drift), and the file removed. Under the lock.
    private func releaseExpiredHold(_ table: any IPVSTable) throws {
        let (held, _) = try overrides.load()
        guard held.holdExpired() else { return }
        if try netlink("reading \(identity)", { try table.service(identity) }) != nil {
            let destinations = try netlink("reading the real servers of \(identity)") {
                try table.destinations(of: identity)
            }
            let operations = WeightSync.operations(service: identity, configured: desired.destinations, overrides: HealthOverrides(),
                                                   previous: held, actual: destinations)
            try apply(operations, to: table)
        }
        try overrides.file.remove()
        log.info("no health checker took over the \(held.entries.count) real server(s) a stopped one held out of \(identity): they have their configured weights back")
    }
}

