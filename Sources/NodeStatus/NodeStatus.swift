/// What Tandem runs on this node, as `tandem status` shows it: each resource the state
/// directory records, with what the kernel and the health checker say about it now.
public struct NodeStatus: Sendable {
    public var stateDirectory: String
    public var addresses: [AddressStatus] = []
    public var services: [ServiceStatus] = []
    public var syncDaemons: [SyncDaemonStatus] = []
    /// What could not be read, one sentence each (a damaged file, a kernel that did not answer).
    public var problems: [String] = []

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }
}

/// A floating address of an `ocf:tandem:vip` resource.
public struct AddressStatus: Sendable, Equatable {
    public var resource: String
    /// `192.0.2.10/24`.
    public var address: String
    public var interface: String
    /// The kernel has the address, on the recorded interface with the recorded prefix.
    public var held: Bool
    /// Where the address is announced: the interface gratuitous ARP or unsolicited neighbour
    /// advertisements go out of; `nil` for an LVS-DR real server's address, never announced.
    public var announcedOn: String?
    /// The real server's interface whose ARP replies are restricted (LVS-DR real servers).
    public var arpRestrictedOn: String?
    /// The announcements a start began are still being sent.
    public var announcing: Bool
}

/// A virtual service of an `ocf:tandem:ipvs` resource.
public struct ServiceStatus: Sendable, Equatable {
    public var resource: String
    /// `tcp:192.0.2.10:80`, as the ipvs agent's `service` parameter writes it.
    public var service: String
    /// The network namespace of the service's table; `nil` for the node's own.
    public var netns: String?
    /// The kernel's table has the service.
    public var inKernel: Bool
    public var scheduler: String?
    /// The `ocf:tandem:healthcheck` resource that checks it, if any.
    public var checker: CheckerStatus?
    public var realServers: [RealServerStatus]
}

/// The health checker of a service.
public struct CheckerStatus: Sendable, Equatable {
    public var resource: String
    public var check: String
    /// The daemon's process runs.
    public var running: Bool
    /// Milliseconds since the daemon last wrote its status.
    public var heartbeatAge: Int64?
    /// Every real server has been checked once and the verdicts applied (the daemon's
    /// readiness; before it, weights are still the configured ones).
    public var firstRoundDone: Bool
    /// Why the daemon stopped, when it could not go on.
    public var fatal: String?
}

/// One real server of a service.
public struct RealServerStatus: Sendable, Equatable {
    /// `192.0.2.11:80`.
    public var address: String
    /// `dr`, `nat`, `tunnel`, `local`.
    public var forwarding: String
    /// The weight the ipvs resource was configured with; `nil` for a fallback server the
    /// checker added while every real server was down.
    public var configuredWeight: Int32?
    /// The weight in the kernel's table now; `nil` when the kernel does not have the server.
    public var currentWeight: Int32?
    public var activeConnections: UInt32
    public var inactiveConnections: UInt32
    /// The checker's verdict: `up`, `down`, `unknown` (not checked yet), `maintenance`; `nil`
    /// when no checker looks at this server.
    public var health: String?
    /// Why, for a server that is down or changing.
    public var reason: String
    /// The last check's duration.
    public var latencyMicroseconds: Int?
}

/// The connection sync daemons of an `ocf:tandem:ipvs-sync` resource.
public struct SyncDaemonStatus: Sendable, Equatable {
    public var resource: String
    public var netns: String?
    public var interface: String
    public var syncID: Int
    /// `master` (promoted: sends), `backup` (receives), `master+backup`, or `stopped`.
    public var role: String
}
