import MySQLClient
import MySQLReplication
import OCF

/// lag_source's values.
extension LagSource: OCFEnumeration {}

/// The parameters of `ocf:tandem:mysql-mm`, each declared once.
struct MasterMasterParameters: ParameterSet {
    @Parameter("socket", short: "Server socket",
               long: "The unix socket of the local server. Default: /run/mysqld/mysqld.sock, unless host is set.")
    var socket: String? = nil

    @Parameter("host", short: "Server host (TCP)",
               long: "Reach the local server over TCP at this address or name instead of its socket (then socket must be unset).")
    var host: String? = nil

    @Parameter("port", short: "Server port (TCP)", long: "The TCP port with host.", valid: 1...65_535)
    var port: Int = 3306

    @Parameter("credentials_file", short: "Client defaults file with the agent's login",
               long: """
                   A client option file whose [client] section holds user= and password= (mode 0600, owned by root): \
                   the password never appears on a command line, in the cluster configuration or in a log. The same \
                   account must exist on the peer (promote checks that it is read-only). It needs SLAVE MONITOR, \
                   BINLOG MONITOR, PROCESS, READ_ONLY ADMIN, CONNECTION ADMIN and REPLICATION SLAVE ADMIN (on \
                   MySQL: REPLICATION CLIENT, PROCESS, SUPER or SYSTEM_VARIABLES_ADMIN, CONNECTION_ADMIN, \
                   REPLICATION_SLAVE_ADMIN). Unset: the agent logs in as its OS user over the socket (root with \
                   unix_socket authentication).
                   """)
    var credentialsFile: String? = nil

    @Parameter("connect_timeout", .reloadable, short: "Connect timeout",
               long: "How long a connection (and the server's greeting) may take.", valid: .seconds(1)...(.seconds(60)))
    var connectTimeout: Interval = .seconds(5)

    @Parameter("read_timeout", .reloadable, short: "Statement timeout",
               long: "How long the server may take to answer one statement: a frozen server fails the check after this.",
               valid: .seconds(1)...(.seconds(300)))
    var readTimeout: Interval = .seconds(10)

    @Parameter("max_lag", .reloadable, short: "Replication lag in seconds a healthy replica may have",
               long: """
                   A replica within this lag (lag_source) is readable and promotable; beyond it, or with a replication \
                   thread down, it is neither.
                   """, valid: 0...86_400)
    var maxLag: Int = 10

    @Parameter("lag_source", .reloadable, short: "How replication lag is measured",
               long: """
                   gtid (MariaDB): how long transactions have been received but not applied (Gtid_IO_Pos against \
                   the applied position, every GTID domain), never less than Seconds_Behind_Master. heartbeat: now \
                   minus the newest ts of heartbeat_table, which pt-heartbeat --utc updates on the writer. \
                   seconds_behind_master: the server's own figure (0 while a master is frozen: not advised).
                   """)
    var lagSource: LagSource = .gtid

    @Parameter("heartbeat_table", .reloadable, short: "Heartbeat table for lag_source=heartbeat",
               long: "DATABASE.TABLE with a ts column holding the writer's UTC time, e.g. percona.heartbeat. The login needs SELECT on it.")
    var heartbeatTable: String? = nil

    @Parameter("reader_attribute", short: "Node attribute for readable nodes",
               long: """
                   Set to 1 on nodes whose server is healthy (the writer, or a replica with both threads running within \
                   max_lag), 0 otherwise; removed at stop. For reader VIPs: \
                   location ro-vip-on-readers ro-vip rule -inf: not_defined readable or readable ne 1.
                   """)
    var readerAttribute: String = "readable"

    @Parameter("writer_attribute", short: "Node attribute for the writer",
               long: "Set to 1 on the promoted node and 0 on the others when given; removed at stop. Default: none (colocate with the Promoted role instead).")
    var writerAttribute: String? = nil

    @Parameter("kill_connections_on_demote", .reloadable, short: "Kill client connections on demote",
               long: """
                   After read_only is ON, kill the clients' connections (replication threads excepted), so no client \
                   holds a session to the old writer and its uncommitted transactions fail at once.
                   """)
    var killConnectionsOnDemote: Bool = true

    @Parameter("catchup_timeout", .reloadable, short: "How long promote waits for the replica to catch up",
               long: """
                   Promote waits until every transaction this node received (and every one the reachable peer wrote) \
                   is applied, at most this long and never past the operation's timeout; then it fails, and the \
                   node stays read-only.
                   """, valid: .seconds(0)...(.seconds(3600)))
    var catchupTimeout: Interval = .seconds(60)

    @Parameter("require_peer_readonly", .reloadable, short: "Refuse to promote while the peer is writable",
               long: """
                   Promote connects to this node's replication master (the peer) with the same login and refuses \
                   while it is reachable with read_only OFF. False: a warning only. An unreachable peer never \
                   blocks a promotion (Pacemaker has stopped or fenced it).
                   """)
    var requirePeerReadonly: Bool = true

    init() {}

    static let defaultSocket = "/run/mysqld/mysqld.sock"

    var endpoint: MySQLEndpoint {
        if let host { return .tcp(host: host, port: UInt16(port)) }
        return .socket(socket ?? Self.defaultSocket)
    }

    var login: MySQLLogin {
        MySQLLogin(defaultsFile: credentialsFile, connectTimeout: connectTimeout.duration, readTimeout: readTimeout.duration)
    }

    func validate() throws(ParameterProblems) {
        var problems = ParameterProblems()
        if socket != nil && host != nil { problems.add("host", "give either socket or host, not both") }
        if let socket, !socket.hasPrefix("/") || socket.utf8.contains(where: { $0 < 0x20 }) {
            problems.add("socket", "'\(socket)' is not an absolute path")
        }
        if let host, !Self.isHostName(host) { problems.add("host", "'\(host)' is not a host name or address") }
        if let file = credentialsFile, !file.hasPrefix("/") || file.utf8.contains(where: { $0 < 0x20 }) {
            problems.add("credentials_file", "'\(file)' is not an absolute path")
        }
        if let table = heartbeatTable, !isSQLTableName(table) { problems.add("heartbeat_table", "'\(table)' is not DATABASE.TABLE") }
        if lagSource == .heartbeat && heartbeatTable == nil { problems.add("heartbeat_table", "lag_source=heartbeat needs the table") }
        if !Self.isAttributeName(readerAttribute) { problems.add("reader_attribute", "'\(readerAttribute)' is not a node attribute name") }
        if let writer = writerAttribute {
            if !Self.isAttributeName(writer) {
                problems.add("writer_attribute", "'\(writer)' is not a node attribute name")
            } else if writer == readerAttribute {
                problems.add("writer_attribute", "'\(writer)' is the reader attribute too")
            }
        }
        guard problems.isEmpty else { throw problems }
    }

    /// A node attribute name of at most 64 characters.
    static func isAttributeName(_ text: String) -> Bool { text.utf8.count <= 64 && NodeAttributes.isValidName(text) }

    /// Letters, digits, dots, dashes and colons (names, IPv4 and IPv6 addresses); never an option.
    static func isHostName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 253 && !text.hasPrefix("-") && text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ":")
        }
    }
}
