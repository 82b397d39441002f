import Addresses
import Glibc
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
    let desired: DesiredService

    init(parameters: IPVSParameters, context: AgentContext, host: Void) throws {
        self.parameters = parameters
        self.context = context
        desired = try parameters.desiredService()
    }

    var identity: IPVSService.Identity { desired.service.identity }
    var log: Log { context.log }
    var recordFile: StateFile { context.state.file(agent: Self.name, instance: context.instance) }

    /// The IPVS socket in the configured namespace.
    /// - Throws: `OCF_ERR_INSTALLED` without IPVS, `OCF_ERR_ARGS` when the namespace is missing here.
    func openTable(in namespacePath: String? = nil) throws -> IPVSSocket {
        try IPVSSocket.open(in: namespacePath.map { NamespaceReference(path: $0) } ?? parameters.netns)
    }

    // MARK: validate-all

    func validate() throws {
        _ = try openTable()
    }

    // MARK: start

    func start() throws {
        let table = try openTable()
        try context.state.create()
        // Recorded first: a stop after a failed start (even with a broken configuration) finds it.
        try Record(service: identity, namespace: parameters.netns?.path).save(to: recordFile)
        let actual = try netlink("reading \(identity)") { () throws(NetlinkError) in try table.service(identity) }
        guard actual != nil else {
            try create(in: table)
            log.info("created \(identity) with \(desired.destinations.count) real server(s)")
            return
        }
        // An existing service is adopted and corrected.
        let plan = try plan(table)
        if !plan.isEmpty {
            for difference in plan.differences { log.info("adopting \(identity): \(difference)") }
            try apply(plan.operations, to: table)
        }
    }

    /// Creates the service and its real servers as one unit: when any step fails, what this
    /// start created is removed and the kernel's reason is the exit reason.
    private func create(in table: IPVSSocket) throws {
        let overrides = try loadOverrides()
        let plan = desired.plan(actual: nil, actualDestinations: [], overrides: overrides)
        let outcomes = try netlink("creating \(identity)") { () throws(NetlinkError) in try table.apply(plan.operations) }
        guard let failure = outcomes.compactMap({ $0 }).first else { return }
        // The first operation adds the service; deleting it removes its real servers too.
        let serviceCreated = outcomes.first.map { $0 == nil } ?? false
        if serviceCreated {
            _ = try? table.apply([.deleteService(identity)])
        }
        throw OCFError.generic("\(failure.function): \(failure.message)")
    }

    // MARK: stop

    func stop() throws {
        let record = try Record.load(from: recordFile)
        try Self.remove(identity, namespace: record?.namespace ?? parameters.netns?.path, drainFor: parameters.drainTimeout,
                        desired: desired, context: context)
        try recordFile.remove()
    }

    /// With a configuration that does not parse, the recorded service is still removed.
    static func stop(unparsableConfiguration problems: ParameterProblems, context: AgentContext, host: Void) throws {
        let file = context.state.file(agent: name, instance: context.instance)
        guard let record = try Record.load(from: file) else { return }
        try remove(record.service, namespace: record.namespace, drainFor: 0, desired: nil, context: context)
        try file.remove()
    }

    /// Deletes the service, after draining it when asked; success when it (or IPVS) is absent.
    static func remove(_ identity: IPVSService.Identity, namespace: String?, drainFor seconds: Int, desired: DesiredService?,
                       context: AgentContext) throws {
        let table: IPVSSocket
        switch try IPVSPresence.check(in: namespace.map { NamespaceReference(path: $0) }) {
        case .present(let socket):
            table = socket
        case .absent(let reason):
            context.log.info("nothing to stop: \(reason)")
            return
        }
        guard try netlink("reading \(identity)", { () throws(NetlinkError) in try table.service(identity) }) != nil else { return }
        if seconds > 0, let desired {
            try drain(table, desired: desired, seconds: seconds, context: context)
        }
        let outcome = try netlink("deleting \(identity)") { () throws(NetlinkError) in try table.apply([.deleteService(identity)]) }
        if let failure = outcome.first ?? nil, failure.kind != .notFound {
            throw OCFError.generic("\(failure.function): \(failure.message)")
        }
        context.log.info("deleted \(identity)")
    }

    /// Weight 0 everywhere, then wait until no real server has active connections or the
    /// drain time (within the stop's own deadline) is over.
    static func drain(_ table: IPVSSocket, desired: DesiredService, seconds: Int, context: AgentContext) throws {
        let identity = desired.service.identity
        let current = try netlink("reading \(identity)") { () throws(NetlinkError) in try table.destinations(of: identity) }
        _ = try netlink("draining \(identity)") { () throws(NetlinkError) in try table.apply(desired.drain(current)) }
        let deadline = min(ContinuousClock.now + .seconds(seconds), context.deadline - .seconds(1))
        context.log.info("draining \(identity) for at most \(seconds) s")
        var pause = Duration.milliseconds(20)
        while true {
            let active = try netlink("reading \(identity)") { () throws(NetlinkError) in try table.destinations(of: identity) }
                .reduce(0) { $0 + Int($1.activeConnections) }
            if active == 0 {
                context.log.info("\(identity) drained")
                return
            }
            guard ContinuousClock.now < deadline else {
                context.log.warning("\(identity) still has \(active) active connection(s) after draining; deleting it anyway")
                return
            }
            sleep(for: min(pause, ContinuousClock.now.duration(to: deadline)))
            pause = min(pause * 2, .milliseconds(250))
        }
    }

    // MARK: monitor

    func monitor() throws -> MonitorResult {
        guard let table = try IPVSPresence.socketForMonitor(in: parameters.netns, isProbe: context.isProbe) else {
            return .notRunning
        }
        guard let actual = try netlink("reading \(identity)", { () throws(NetlinkError) in try table.service(identity) }) else {
            if try Record.load(from: recordFile) != nil, !context.isProbe {
                throw OCFError.generic("\(identity) disappeared from the IPVS table")
            }
            return .notRunning
        }
        let destinations = try netlink("reading the real servers of \(identity)") { () throws(NetlinkError) in
            try table.destinations(of: identity)
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

    /// Applies changed reloadable parameters to the live service: real servers added, removed
    /// or changed, service settings set — never a delete and re-create, so connections survive.
    /// A service that is not running stays stopped (the next start uses the new parameters).
    func reloadAgent() throws {
        let table = try openTable()
        guard try netlink("reading \(identity)", { () throws(NetlinkError) in try table.service(identity) }) != nil else {
            log.info("\(identity) is not running; the new parameters apply at its next start")
            return
        }
        let plan = try plan(table)
        for difference in plan.differences { log.info("reloading \(identity): \(difference)") }
        try apply(plan.operations, to: table)
        log.info("reloaded \(identity)")
    }

    // MARK: Shared

    private func plan(_ table: IPVSSocket) throws -> Plan {
        let actual = try netlink("reading \(identity)") { () throws(NetlinkError) in try table.service(identity) }
        let destinations = try netlink("reading the real servers of \(identity)") { () throws(NetlinkError) in
            try table.destinations(of: identity)
        }
        return desired.plan(actual: actual, actualDestinations: destinations, overrides: try loadOverrides())
    }

    private func apply(_ operations: [IPVSOperation], to table: IPVSSocket) throws {
        let outcomes = try netlink("changing \(identity)") { () throws(NetlinkError) in try table.apply(operations) }
        let failures = outcomes.compactMap { $0 }
        guard let first = failures.first else { return }
        for failure in failures { log.error("\(failure.function): \(failure.message)") }
        throw OCFError.generic("\(first.function): \(first.message)" + (failures.count > 1 ? " (and \(failures.count - 1) more)" : ""))
    }

    private func loadOverrides() throws -> HealthOverrides {
        let (overrides, ignored) = try HealthOverrides.load(for: parameters.service, in: context.state)
        for line in ignored { log.warning("ignoring an unreadable health-check override: \(line)") }
        return overrides
    }
}

/// What a start recorded: the service and namespace a stop must clean up.
struct Record: Equatable {
    var service: IPVSService.Identity
    var namespace: String?

    static func load(from file: StateFile) throws -> Record? {
        guard let values = try file.read(), let text = values["service"],
              let spec = try? ServiceSpec(parsing: text) else { return nil }
        let namespace = values["netns"].flatMap { $0.isEmpty ? nil : $0 }
        return Record(service: spec.identity, namespace: namespace)
    }

    func save(to file: StateFile) throws {
        try file.write([("service", ServiceSpec(identity: service).description), ("netns", namespace ?? "")])
    }
}
