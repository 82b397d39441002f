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
        ActionAdvertisement("start", timeout: 20),
        ActionAdvertisement("stop", timeout: 20),
        ActionAdvertisement("promote", timeout: 20),
        ActionAdvertisement("demote", timeout: 20),
        ActionAdvertisement("monitor", timeout: 20, interval: 11, role: "Promoted"),
        ActionAdvertisement("monitor", timeout: 20, interval: 13, role: "Unpromoted"),
        ActionAdvertisement("notify", timeout: 20),
        ActionAdvertisement("validate-all", timeout: 20),
        ActionAdvertisement("meta-data", timeout: 5),
    ]

    /// The promotion score every instance asks for: equal everywhere, the colocation decides.
    static let promotionScore = 10

    let parameters: SyncParameters
    let context: AgentContext

    init(parameters: SyncParameters, context: AgentContext) throws {
        self.parameters = parameters
        self.context = context
    }

    var log: Log { context.log }

    func table() throws(OCFError) -> IPVSSocket { try IPVSSocket.open(in: parameters.netns) }

    /// Which daemons run, and whether they are the configured ones.
    func running(in table: IPVSSocket) throws -> (master: IPVSSyncDaemon?, backup: IPVSSyncDaemon?) {
        let daemons = try netlink("reading the sync daemons") { () throws(NetlinkError) in try table.daemons() }
        return (daemons.first { $0.state == .master }, daemons.first { $0.state == .backup })
    }

    /// Whether a running daemon is the configured one (the kernel reports what it applied: zero
    /// settings stand for its defaults, which it may report filled in).
    func isConfigured(_ daemon: IPVSSyncDaemon) -> Bool {
        let wanted = parameters.daemon(daemon.state)
        return daemon.interface == wanted.interface && daemon.syncID == wanted.syncID
            && (wanted.maximumLength == 0 || daemon.maximumLength == wanted.maximumLength)
            && (wanted.group == nil || daemon.group == wanted.group)
            && (wanted.port == 0 || daemon.port == wanted.port)
            && (daemon.ttl == 0 || daemon.ttl == wanted.ttl)
    }

    // MARK: Actions

    func validate() throws {
        _ = try table()
        let namespace = try parameters.netns?.open()
        guard try netlink("looking up \(parameters.interface)", { () throws(NetlinkError) in
            try RouteSocket(in: namespace).link(named: parameters.interface)
        }) != nil else {
            throw OCFError.invalidArguments("interface: \(parameters.interface) does not exist on this node")
        }
    }

    /// Starts unpromoted: the backup daemon.
    func start() throws {
        let table = try table()
        let (master, backup) = try running(in: table)
        if let master { try stopDaemon(master.state, in: table) }
        try ensure(.backup, current: backup, in: table)
        setPromotionScore()
    }

    func stop() throws {
        switch try IPVSPresence.check(in: parameters.netns) {
        case .absent(let reason):
            log.info("nothing to stop: \(reason)")
        case .present(let table):
            let (master, backup) = try running(in: table)
            // Only daemons with this configuration are this resource's to stop.
            for daemon in [master, backup].compactMap({ $0 }) where isConfigured(daemon) {
                try stopDaemon(daemon.state, in: table)
            }
        }
        removePromotionScore()
    }

    /// The master daemon takes over; the backup daemon stops.
    func promote() throws {
        let table = try table()
        let (master, backup) = try running(in: table)
        try ensure(.master, current: master, in: table)
        if backup != nil { try stopDaemon(.backup, in: table) }
    }

    /// Back to the backup daemon.
    func demote() throws {
        let table = try table()
        let (master, backup) = try running(in: table)
        if master != nil { try stopDaemon(.master, in: table) }
        try ensure(.backup, current: backup, in: table)
    }

    /// Nothing to do on notifications; advertised so clones may use notify=true.
    func notify() throws {}

    func monitor() throws -> MonitorResult {
        guard let table = try IPVSPresence.socketForMonitor(in: parameters.netns, isProbe: context.isProbe) else {
            return .notRunning
        }
        let (master, backup) = try running(in: table)
        if let master {
            guard isConfigured(master) else {
                return .failedPromoted("the master sync daemon runs on \(master.interface) with sync ID \(master.syncID), not as configured")
            }
            if !context.isProbe { setPromotionScore() }
            return .runningPromoted
        }
        if let backup {
            guard isConfigured(backup) else {
                throw OCFError.generic("the backup sync daemon runs on \(backup.interface) with sync ID \(backup.syncID), not as configured")
            }
            if !context.isProbe { setPromotionScore() }
            return .running
        }
        return .notRunning
    }

    // MARK: Daemons

    /// Makes the configured daemon of `state` run: a differently configured one is replaced.
    private func ensure(_ state: IPVSSyncDaemon.State, current: IPVSSyncDaemon?, in table: IPVSSocket) throws {
        if let current {
            if isConfigured(current) { return }
            try stopDaemon(state, in: table)
        }
        try startDaemon(state, in: table)
    }

    private func startDaemon(_ state: IPVSSyncDaemon.State, in table: IPVSSocket) throws {
        let outcome = try netlink("starting the \(state) sync daemon") { () throws(NetlinkError) in
            try table.apply([.startDaemon(parameters.daemon(state))])
        }
        if let failure = outcome.first ?? nil {
            if failure.kind == .invalid {
                // (The exit reason is cut at 128 characters: the cause comes first.)
                throw OCFError.generic("a service has real servers of the other address family: the kernel refuses the sync daemon (\(failure.message))")
            }
            throw OCFError.generic("starting the \(state) sync daemon on \(parameters.interface): \(failure.message)")
        }
        log.info("started the \(state) sync daemon on \(parameters.interface), sync ID \(parameters.syncID)")
    }

    private func stopDaemon(_ state: IPVSSyncDaemon.State, in table: IPVSSocket) throws {
        let outcome = try netlink("stopping the \(state) sync daemon") { () throws(NetlinkError) in
            try table.apply([.stopDaemon(state)])
        }
        if let failure = outcome.first ?? nil, failure.kind != .notFound {
            throw OCFError.generic("stopping the \(state) sync daemon: \(failure.message)")
        }
        log.info("stopped the \(state) sync daemon")
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
            try NodeAttributes(deadline: context.deadline).setPromotionScore(Self.promotionScore)
        } catch {
            log.warning("cannot set the promotion score: \(error.reason)")
        }
    }

    private func removePromotionScore() {
        guard inPromotableClone else { return }
        do {
            try NodeAttributes(deadline: context.deadline).removePromotionScore()
        } catch {
            log.warning("cannot remove the promotion score: \(error.reason)")
        }
    }
}
