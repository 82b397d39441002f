import Addresses
import AgentRecords
import Netlink
import OCF
import OCFNetlink

/// `ocf:tandem:ipvs-sync`: IPVS connection synchronisation as a promotable clone. Promoted, the
/// node runs the master daemon (it sends connection state); unpromoted, the backup daemon
/// (it receives it). Colocate the promoted role with the director group.
final class SyncDaemonAgent: ResourceAgent {
    static let name = "ipvs-sync"
    static let version = tandemVersion
    static let shortDescription = "IPVS connection synchronisation (promotable: master / backup daemon)"
    static let longDescription = """
        Runs the kernel's IPVS connection synchronisation daemons as a promotable clone, the OCF successor of \
        LVSSyncDaemonSwap: the promoted instance runs the master daemon, which multicasts the connection table \
        of the active director; unpromoted instances run the backup daemon, which fills the standby's table, so \
        established connections survive a director failover. Colocate the promoted role with the director \
        group: colocation sync-with-director inf: ipvs-sync-clone:Promoted director. Every instance sets an \
        equal promotion score, so placement follows that colocation. The kernel refuses a sync daemon while \
        a virtual service has real servers of the other address family (tunnelled IPv4/IPv6 mixes).
        """
    static let actions = [
        ActionAdvertisement(.start, timeout: 20),
        ActionAdvertisement(.stop, timeout: 20),
        ActionAdvertisement(.promote, timeout: 20),
        ActionAdvertisement(.demote, timeout: 20),
        ActionAdvertisement(.monitor, timeout: 20, interval: 11, role: .promoted),
        ActionAdvertisement(.monitor, timeout: 20, interval: 13, role: .unpromoted),
        ActionAdvertisement(.notify, timeout: 20),
        ActionAdvertisement(.validateAll, timeout: 20),
        ActionAdvertisement(.metaData, timeout: 5),
    ]

    /// The promotion score every instance asks for: equal everywhere, the colocation decides.
    static let promotionScore = 10

    let parameters: SyncParameters
    let context: AgentContext
    let kernel: any Kernel

    init(parameters: SyncParameters, context: AgentContext, host: any Kernel) throws {
        self.parameters = parameters
        self.context = context
        self.kernel = context.traced(host)
    }

    var log: Log { context.log }
    var recordFile: StateFile { context.stateFile(agent: Self.name) }

    func table() throws(OCFError) -> any IPVSTable { try kernel.ipvsTable(in: parameters.netns) }

    /// The configuration of the daemons this resource runs.
    var configured: SyncDaemonRecord { SyncDaemonRecord(netns: parameters.netns?.path, daemon: parameters.daemon(.backup)) }

    /// Which daemons run: this resource's (on its interface with its sync ID, as configured or
    /// as a start recorded) and anybody else's.
    func running(in table: any IPVSTable, record: SyncDaemonRecord?) throws -> (master: IPVSSyncDaemon?, backup: IPVSSyncDaemon?, foreign: [IPVSSyncDaemon]) {
        let daemons = try netlink("reading the sync daemons") { try table.daemons() }
        let ours = daemons.filter { configured.owns($0) || record?.owns($0) == true }
        return (ours.first { $0.state == .master }, ours.first { $0.state == .backup },
                daemons.filter { daemon in !ours.contains(daemon) })
    }

    // MARK: Actions

    func validate() throws {
        _ = try table()
        let routes = try kernel.routeTable(in: parameters.netns)
        guard try netlink("looking up \(parameters.interface)", {
            try routes.link(named: parameters.interface)
        }) != nil else {
            throw OCFError.invalidArguments("interface: \(parameters.interface) does not exist on this node")
        }
    }

    /// Starts unpromoted: the backup daemon.
    func start() throws {
        let table = try table()
        let record = try SyncDaemonRecord.load(from: recordFile)
        let (master, backup, foreign) = try running(in: table, record: record)
        if let other = foreign.first(where: { $0.state == .backup }) {
            throw OCFError.generic("a backup sync daemon of another resource runs (\(other.interface), sync ID \(other.syncID)); not replacing it")
        }
        // Recorded first: a stop after a failed start (even with a broken configuration) finds it.
        try context.state.create()
        try configured.save(to: recordFile)
        if let master { try stopDaemon(master, in: table) }
        try ensure(.backup, current: backup, in: table)
        setPromotionScore()
    }

    func stop() throws {
        try Self.stopDaemons(of: [configured, try SyncDaemonRecord.load(from: recordFile)].compactMap { $0 }, context: context, kernel: kernel)
        context.forget(recordFile)
        removePromotionScore()
    }

    /// With a configuration that does not parse, the daemons a start recorded are stopped.
    static func stop(unparsableConfiguration problems: ParameterProblems, context: AgentContext, host: any Kernel) throws {
        let file = context.stateFile(agent: name)
        guard let record = try SyncDaemonRecord.load(from: file) else {
            context.log.info("no sync daemon was recorded as started: nothing to stop")
            context.forget(file)
            return
        }
        try stopDaemons(of: [record], context: context, kernel: context.traced(host))
        context.forget(file)
    }

    /// Stops every daemon that matches one of `records`; success when IPVS or the namespace
    /// is absent (nothing can run there).
    static func stopDaemons(of records: [SyncDaemonRecord], context: AgentContext, kernel: any Kernel) throws {
        for netns in Set(records.map(\.netns)) {
            switch try IPVSPresence.check(kernel, in: netns.map { NamespaceReference(path: $0) }) {
            case .absent(let reason):
                context.log.info("nothing to stop: \(reason)")
            case .present(let table):
                let daemons = try netlink("reading the sync daemons") { try table.daemons() }
                for daemon in daemons where records.contains(where: { $0.netns == netns && $0.owns(daemon) }) {
                    try stopDaemon(daemon, in: table, log: context.log)
                }
            }
        }
    }

    /// The master daemon takes over; the backup daemon stops.
    func promote() throws {
        let table = try table()
        let record = try SyncDaemonRecord.load(from: recordFile)
        let (master, backup, foreign) = try running(in: table, record: record)
        guard record != nil || master != nil || backup != nil else {
            throw OCFError.generic("not started here: promote follows a start")
        }
        if let other = foreign.first(where: { $0.state == .master }) {
            throw OCFError.generic("a master sync daemon of another resource runs (\(other.interface), sync ID \(other.syncID)); not replacing it")
        }
        try ensure(.master, current: master, in: table)
        if let backup { try stopDaemon(backup, in: table) }
    }

    /// Back to the backup daemon; nothing to do when not started (or nothing can run here).
    func demote() throws {
        guard case .present(let table) = try IPVSPresence.check(kernel, in: parameters.netns) else {
            log.info("no IPVS here: nothing is promoted")
            return
        }
        let record = try SyncDaemonRecord.load(from: recordFile)
        let (master, backup, _) = try running(in: table, record: record)
        guard record != nil || master != nil || backup != nil else {
            log.info("not started here: nothing to demote")
            return
        }
        if let master { try stopDaemon(master, in: table) }
        try ensure(.backup, current: backup, in: table)
    }

    /// Nothing to do on notifications; advertised so clones may use notify=true.
    func notify() throws {}

    func monitor() throws -> MonitorResult {
        guard let table = try IPVSPresence.tableForMonitor(kernel, in: parameters.netns, isProbe: context.isProbe) else {
            return .notRunning
        }
        let record = try SyncDaemonRecord.load(from: recordFile)
        let (master, backup, _) = try running(in: table, record: record)
        if let master {
            if !context.isProbe { setPromotionScore() }
            guard configured.matches(master) else { return .degradedPromoted(otherSettings(master)) }
            return .runningPromoted
        }
        if let backup {
            if !context.isProbe { setPromotionScore() }
            guard configured.matches(backup) else { return .degraded(otherSettings(backup)) }
            return .running
        }
        // Started here and gone without a stop is a failure, not a clean stop.
        if record != nil && !context.isProbe {
            throw OCFError.generic("the sync daemon of this resource is gone (started on \(parameters.interface), never stopped)")
        }
        return .notRunning
    }

    /// Why a daemon of this resource is not quite as configured.
    private func otherSettings(_ daemon: IPVSSyncDaemon) -> String {
        "the \(daemon.state) sync daemon runs with other settings than configured (maxlen \(daemon.maximumLength), "
            + "group \(daemon.group?.description ?? "default"), port \(daemon.port), ttl \(daemon.ttl)); a restart applies them"
    }

    // MARK: Daemons

    /// Makes the configured daemon of `state` run: one of this resource's with an older
    /// configuration is replaced.
    private func ensure(_ state: IPVSSyncDaemon.State, current: IPVSSyncDaemon?, in table: any IPVSTable) throws {
        if let current {
            if configured.matches(current) { return }
            try stopDaemon(current, in: table)
        }
        try startDaemon(state, in: table)
    }

    private func startDaemon(_ state: IPVSSyncDaemon.State, in table: any IPVSTable) throws {
        let outcome = try netlink("starting the \(state) sync daemon") {
            try table.apply([.startDaemon(parameters.daemon(state))])
        }
        guard let failure = outcome.first ?? nil else {
            log.info("started the \(state) sync daemon on \(parameters.interface), sync ID \(parameters.syncID)")
            return
        }
        // The kernel says EINVAL both for settings it refuses and for a table with real servers
        // of the other address family: look before blaming the table.
        if failure.kind == .invalid, let service = try mixedFamilyService(in: table) {
            // (The exit reason is cut at 128 characters: the cause comes first.)
            throw OCFError.generic("\(service) has real servers of the other address family: the kernel refuses the sync daemon")
        }
        throw OCFError.generic("the kernel refused the \(state) sync daemon on \(parameters.interface): \(failure.message)")
    }

    /// A virtual service with a real server of the other address family, if there is one.
    private func mixedFamilyService(in table: any IPVSTable) throws -> IPVSService.Identity? {
        let services = try netlink("reading the services") { try table.services() }
        for service in services {
            let destinations = try netlink("reading the real servers of \(service.identity)") {
                try table.destinations(of: service.identity)
            }
            if destinations.contains(where: { $0.address.family != service.identity.family }) { return service.identity }
        }
        return nil
    }

    private func stopDaemon(_ daemon: IPVSSyncDaemon, in table: any IPVSTable) throws {
        try Self.stopDaemon(daemon, in: table, log: log)
    }

    static func stopDaemon(_ daemon: IPVSSyncDaemon, in table: any IPVSTable, log: Log) throws {
        let outcome = try netlink("stopping the \(daemon.state) sync daemon") {
            try table.apply([.stopDaemon(daemon.state)])
        }
        if let failure = outcome.first ?? nil, failure.kind != .notFound {
            throw OCFError.generic("stopping the \(daemon.state) sync daemon: \(failure.message)")
        }
        log.info("stopped the \(daemon.state) sync daemon on \(daemon.interface)")
    }

    // MARK: Promotion score

    /// Only inside a promotable clone (Pacemaker passes its promoted-max): by hand, with
    /// ocf-tester or crm_resource, there is no clone to score.
    private var inPromotableClone: Bool {
        context.environment.meta("promoted_max") != nil || context.environment.meta("master_max") != nil
    }

    private func setPromotionScore() {
        guard inPromotableClone else { return }
        do {
            try context.nodeAttributes.setPromotionScore(Self.promotionScore)
        } catch {
            log.warning("cannot set the promotion score: \(error.reason)")
        }
    }

    private func removePromotionScore() {
        guard inPromotableClone else { return }
        do {
            try context.nodeAttributes.removePromotionScore()
        } catch {
            log.warning("cannot remove the promotion score: \(error.reason)")
        }
    }
}

