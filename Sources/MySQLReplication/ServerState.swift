/// What one look at a server found: its role switch, its GTID positions and its replica
/// status, in two statements (three with a heartbeat table).
public struct ServerState: Sendable, Equatable {
    /// MariaDB or MySQL: they differ in GTIDs and in what read_only stops.
    public enum Flavor: Sendable, Equatable {
        case mariaDB
        /// MySQL: read_only lets SUPER (and CONNECTION_ADMIN) write; super_read_only stops them.
        case mySQL
    }

    public var readOnly: Bool
    public var flavor: Flavor = .mariaDB
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

    /// The replica's lag by `source`. For GTID lag, `mark` is what the previous look kept (in
    /// and out); `now` is on a clock all looks share.
    public func lag(by source: LagSource, mark: inout GTIDLagMark?, now: Double) -> Lag {
        guard let replica else { return .unknown("not a replica") }
        switch source {
        case .secondsBehindMaster:
            return replica.secondsBehind.text.flatMap(Double.init).map(Lag.seconds) ?? .unknown("Seconds_Behind_Master is NULL")
        case .heartbeat:
            return heartbeatAge.map { .seconds(max(0, $0)) } ?? .unknown("no heartbeat row")
        case .gtid:
            guard let received = replica.received, let applied = current else { return .unknown("no GTID positions: use heartbeat") }
            let (lag, next) = GTIDLagMark.measure(received: received, applied: applied, secondsBehind: replica.secondsBehind,
                                                  mark: mark, now: now)
            mark = next
            return lag
        }
    }
}
