import MySQLReplication

extension ServerState {
    /// Reads the state; `heartbeatTable` is read as well when given.
    public static func read(_ connection: MySQLConnection, heartbeatTable: String? = nil) throws(MySQLError) -> ServerState {
        let row: SQLRow
        var flavor = ServerState.Flavor.mariaDB
        do {
            row = try connection.query("""
                SELECT @@global.read_only AS read_only, @@server_id AS server_id, @@global.gtid_slave_pos AS applied, \
                @@global.gtid_binlog_pos AS binlog
                """).first ?? SQLRow([:])
        } catch where error.errno == 1193 {
            // MySQL: no MariaDB GTID variables.
            row = try connection.query("SELECT @@global.read_only AS read_only, @@server_id AS server_id").first ?? SQLRow([:])
            flavor = .mySQL
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
        state.flavor = flavor
        if let heartbeatTable {
            let age = try connection.query("SELECT TIMESTAMPDIFF(MICROSECOND, MAX(ts), UTC_TIMESTAMP(6)) AS age FROM \(heartbeatTable)")
            state.heartbeatAge = age.first?["age"].text.flatMap(Double.init).map { $0 / 1_000_000 }
        }
        return state
    }

}

/// Where a server keeps its data and how else it can be reached, as it says itself: what finds
/// it again when the way the agent was given stops answering (a socket file removed, a server
/// restarted with another socket) while the server may still take writes.
public struct ServerPlacement: Sendable, Equatable {
    /// The data directory, without a trailing slash: a running mysqld works in it (its cwd).
    public var dataDirectory: String
    /// Its unix socket; `nil` when it has none.
    public var socket: String?
    /// Where it listens for TCP on this host; `nil` with skip_networking.
    public var tcp: MySQLEndpoint?

    public init(dataDirectory: String, socket: String?, tcp: MySQLEndpoint?) {
        self.dataDirectory = dataDirectory
        self.socket = socket
        self.tcp = tcp
    }

    public static func read(_ connection: MySQLConnection) throws(MySQLError) -> ServerPlacement {
        let row = try connection.query(
            "SELECT @@datadir AS datadir, @@socket AS socket, @@port AS port, @@skip_networking AS skip, @@bind_address AS bind")
            .first ?? SQLRow([:])
        var directory = row["datadir"].text ?? ""
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        let socket = row["socket"].text.flatMap { $0.hasPrefix("/") ? $0 : nil }
        var tcp: MySQLEndpoint?
        if row["skip"].integer != 1, let port = row["port"].text.flatMap({ UInt16($0) }), port > 0 {
            tcp = .tcp(host: loopback(for: row["bind"].text ?? ""), port: port)
        }
        return ServerPlacement(dataDirectory: directory, socket: socket, tcp: tcp)
    }

    /// The address to reach a server bound to `bind` from its own host: the loopback for every
    /// address (empty, *, 0.0.0.0, ::), else the first address it names.
    static func loopback(for bind: String) -> String {
        let first = bind.split(separator: ",").first.map { String($0.filter { $0 != " " }) } ?? ""
        switch first {
        case "", "*", "0.0.0.0": return "127.0.0.1"
        case "::": return "::1"
        default: return first
        }
    }
}
