import HealthCheck
import MySQLClient
import MySQLReplication

/// The mysql check's verdict on one server, from what one look at it found.
enum MySQLVerdict {
    /// Whether the server serves the check's role: any (the query alone), the writer
    /// (read_only OFF), or a reader (the writer, or a healthy replica within the lag). With
    /// mysql_max_lag and role any, a server must be a healthy replica within the lag.
    static func outcome(_ connection: MySQLConnection, check: MySQLCheck, marks: inout GTIDLagMark?) throws(MySQLError) -> CheckOutcome {
        guard check.role != .any || check.maxLag != nil else { return .pass }
        if check.role == .writer {
            let readOnly = try connection.query("SELECT @@global.read_only AS ro").first?["ro"].integer
            return readOnly == 0 ? .pass : .fail("read_only is ON: not the writer")
        }
        let state = try ServerState.read(connection, heartbeatTable: check.lagSource == .heartbeat ? check.heartbeatTable : nil)
        switch check.role {
        case .reader where !state.readOnly:
            return .pass
        case .reader, .any, .writer:
            let lag = state.lag(by: check.lagSource, mark: &marks, now: GTIDLagMark.now)
            let health = ReplicationHealth(state.replica, lag: lag)
            guard case .replicating(let lag) = health else { return .fail("\(health)") }
            let limit = check.maxLag ?? MySQLCheck.defaultReaderLag
            return lag.within(limit) ? .pass : .fail("replication lag \(lag) (more than \(limit) s)")
        }
    }
}
