/// What one look at a server found: its role switch, its GTID positions and its replica
/// status, in two statements (three with a heartbeat table).
public struct ServerState: Sendable, Equatable {
    public var readOnly: Bool
    public var serverID: Int
    /// MariaDB's GTID positions; `nil` on MySQL.
    public var applied: GTIDPosition?
    public var binlog: GTIDPosition?
    /// `nil` when the server is no replica (no replica status row).
    public var replica: ReplicaStatus?
    /// Seconds since the newest heartbeat row; `nil` when not read or the table has none.
    public var heartbeatAge: Double?

    public init(readOnly: Bool, serverID: Int, applied: GTIDPosition?, binlog: GTIDPosition?, replica: ReplicaStatus?,
                heartbeatAge: Double? = nil) {
        self.readOnly = readOnly
        self.serverID = serverID
        self.applied = applied
        self.binlog = binlog
        self.replica = replica
        self.heartbeatAge = heartbeatAge
    }

    /// Everything this server holds: its own binlog and what it applied from others.
    public var current: GTIDPosition? {
        guard let applied, let binlog else { return applied ?? binlog }
        return applied.merging(binlog)
    }
}
