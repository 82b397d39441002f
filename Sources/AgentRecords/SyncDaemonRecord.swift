import Addresses
import Netlink
import OCF

/// What `ocf:tandem:ipvs-sync` recorded at start in `$HA_RSCTMP/ipvs-sync-<instance>`: the
/// namespace and the daemon settings, so a stop finds this resource's daemons whatever its
/// parameters say by then.
public struct SyncDaemonRecord: Equatable, Sendable {
    public static let prefix = "ipvs-sync-"

    /// The namespace file, `nil` for the node's own.
    public var netns: String?
    /// The settings, as a backup daemon's (the state is the role of the moment).
    public var daemon: IPVSSyncDaemon

    public init(netns: String?, daemon: IPVSSyncDaemon) {
        self.netns = netns
        self.daemon = daemon
    }

    /// Reads a record back with the same checks as the parameters: a damaged record names nothing.
    public init?(_ values: [String: String]) {
        guard let interface = values["interface"].flatMap(InterfaceName.init), let syncID = values["syncid"].flatMap(UInt8.init),
              let maximumLength = values["maxlen"].flatMap(UInt16.init), let port = values["port"].flatMap(UInt16.init),
              let ttl = values["ttl"].flatMap(UInt8.init)
        else { return nil }
        let group = values["group"].flatMap(IPAddress.init)
        let netns = values["netns"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        self.init(netns: netns, daemon: IPVSSyncDaemon(state: .backup, interface: interface.rawValue, syncID: syncID,
                                                       maximumLength: maximumLength, group: group, port: port, ttl: ttl))
    }

    public var values: [(String, String)] {
        [("netns", netns ?? ""), ("interface", daemon.interface), ("syncid", String(daemon.syncID)),
         ("maxlen", String(daemon.maximumLength)), ("group", daemon.group?.description ?? ""),
         ("port", String(daemon.port)), ("ttl", String(daemon.ttl))]
    }

    public static func recognises(_ values: [String: String]) -> Bool { values["syncid"] != nil }

    public static func load(from file: StateFile) throws(StateError) -> SyncDaemonRecord? {
        try file.read().flatMap(SyncDaemonRecord.init)
    }

    public func save(to file: StateFile) throws(StateError) { try file.write(values) }

    /// Whether a running daemon (of either state) is this resource's: the kernel runs one
    /// master and one backup per namespace, told apart from other directors' by the interface
    /// and the sync ID.
    public func owns(_ running: IPVSSyncDaemon) -> Bool {
        running.interface == daemon.interface && running.syncID == daemon.syncID
    }

    /// Whether a running daemon of this resource has exactly the recorded settings. The kernel
    /// reports what it applied: zero settings stand for its defaults, which it reports filled in.
    public func matches(_ running: IPVSSyncDaemon) -> Bool {
        running.interface == daemon.interface && running.syncID == daemon.syncID
            && (daemon.maximumLength == 0 || running.maximumLength == daemon.maximumLength)
            && (daemon.group == nil || running.group == daemon.group)
            && (daemon.port == 0 || running.port == daemon.port)
            && (running.ttl == 0 || running.ttl == daemon.ttl)
    }
}
