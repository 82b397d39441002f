import Glibc

/// How far a replica is behind, or why that is unknown.
public enum Lag: Sendable, Equatable, CustomStringConvertible {
    case seconds(Double)
    case unknown(String)

    public func within(_ limit: Int) -> Bool {
        if case .seconds(let value) = self { return value <= Double(limit) }
        return false
    }

    public var description: String {
        switch self {
        case .seconds(let value): value < 10 ? "\(Double(Int(value * 10)) / 10) s" : "\(Int(value)) s"
        case .unknown(let reason): "unknown (\(reason))"
        }
    }
}

/// The replication of one server, classified.
public enum ReplicationHealth: Sendable, Equatable, CustomStringConvertible {
    /// No replica status: the server replicates from nobody.
    case notReplica
    /// Both threads run.
    case replicating(Lag)
    /// The IO thread cannot reach its master and retries (the master is down, frozen or cut
    /// off); the SQL thread runs. `errno` is Last_IO_Errno (2003, 2013, 1045…).
    case ioReconnecting(errno: Int, message: String)
    /// The IO thread stopped: by an admin (errno 0) or by an error it does not retry (1236…).
    case ioStopped(errno: Int, message: String)
    /// The SQL thread stopped: by an admin (errno 0) or by an error (1062 duplicate key, 1032
    /// row not found, 1950 out-of-order GTID: the pair has diverged).
    case sqlStopped(errno: Int, message: String)

    public init(_ replica: ReplicaStatus?, lag: Lag) {
        guard let replica else {
            self = .notReplica
            return
        }
        switch (replica.sqlRunning, replica.ioRunning) {
        case (.stopped, _), (.connecting, _), (.other, _):
            self = .sqlStopped(errno: replica.lastSQLErrno, message: replica.lastSQLError)
        case (.running, .running):
            self = .replicating(lag)
        case (.running, .connecting):
            self = .ioReconnecting(errno: replica.lastIOErrno, message: replica.lastIOError)
        case (.running, .stopped), (.running, .other):
            self = .ioStopped(errno: replica.lastIOErrno, message: replica.lastIOError)
        }
    }

    /// The master is out of reach but nothing on this side is broken: a network or server
    /// errno (2002, 2003, 2005, 2006, 2013, 2026 or none yet), not a refused login or a missing
    /// binlog position.
    public var masterUnreachable: Bool {
        if case .ioReconnecting(let errno, _) = self { return errno == 0 || (2000..<3000).contains(errno) }
        return false
    }

    public var description: String {
        switch self {
        case .notReplica: "not a replica"
        case .replicating(let lag): "replicating, lag \(lag)"
        case .ioReconnecting(let errno, _): "replication IO thread reconnecting (errno \(errno))"
        case .ioStopped(0, _): "replication IO thread stopped"
        case .ioStopped(let errno, _): "replication IO thread stopped by error \(errno)"
        case .sqlStopped(0, _): "replication SQL thread stopped"
        case .sqlStopped(let errno, _): "replication SQL thread stopped by error \(errno)"
        }
    }
}

/// Measures GTID lag across looks at a replica: how long the oldest transaction that was
/// received but is still not applied has been waiting. A mark remembers the received position
/// and when it was seen; once everything up to the mark is applied, a new mark starts. The
/// result is never below Seconds_Behind_Master when the server reports one.
public struct GTIDLagMark: Sendable, Equatable {
    public var received: GTIDPosition
    /// Seconds on a clock that all looks share (CLOCK_MONOTONIC for an agent's processes).
    public var seen: Double

    public init(received: GTIDPosition, seen: Double) {
        self.received = received
        self.seen = seen
    }

    /// CLOCK_MONOTONIC seconds: the same clock in every process (an agent's actions, the
    /// checker's threads), reset at boot along with an agent's state directory.
    public static var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// The lag now, and the mark to keep for the next look (`nil`: caught up).
    public static func measure(received: GTIDPosition, applied: GTIDPosition, secondsBehind: SQLValue, mark: GTIDLagMark?,
                               now: Double) -> (lag: Lag, mark: GTIDLagMark?) {
        let reported = secondsBehind.text.flatMap(Double.init) ?? 0
        guard !applied.covers(received) else { return (.seconds(0), nil) }
        if let mark, !applied.covers(mark.received) {
            return (.seconds(max(now - mark.seen, reported)), mark)
        }
        return (.seconds(reported), GTIDLagMark(received: received, seen: now))
    }
}
