import MySQLReplication

extension ServerState {
    /// Reads the state; `heartbeatTable` is read as well when given.
    public static func read(_ connection: MySQLConnection, heartbeatTable: String? = nil) throws(MySQLError) -> ServerState {
        let row: SQLRow
        do {
            row = try connection.query("""
                SELECT @@global.read_only AS read_only, @@server_id AS server_id, @@global.gtid_slave_pos AS applied, \
                @@global.gtid_binlog_pos AS binlog
                """).first ?? SQLRow([:])
        } catch where error.errno == 1193 {
            // MySQL: no MariaDB GTID variables.
            row = try connection.query("SELECT @@global.read_only AS read_only, @@server_id AS server_id").first ?? SQLRow([:])
        }
        guard let readOnly = row["read_only"].integer, let serverID = row["server_id"].integer else {
            throw MySQLError(errno: 0, message: "the server did not report read_only and server_id")
        }
        var statusRows: [SQLRow]
        do {
            statusRows = try connection.query("SHOW REPLICA STATUS")
        } catch where error.errno == 1064 {
            statusRows = try connection.query("SHOW SLAVE STATUS")
        }
        var state = ServerState(readOnly: readOnly != 0, serverID: Int(serverID),
                                applied: row["applied"].text.flatMap(GTIDPosition.init), binlog: row["binlog"].text.flatMap(GTIDPosition.init),
                                replica: statusRows.first.map(ReplicaStatus.init))
        if let heartbeatTable {
            let age = try connection.query("SELECT TIMESTAMPDIFF(MICROSECOND, MAX(ts), UTC_TIMESTAMP(6)) AS age FROM \(heartbeatTable)")
            state.heartbeatAge = age.first?["age"].text.flatMap(Double.init).map { $0 / 1_000_000 }
        }
        return state
    }

}
