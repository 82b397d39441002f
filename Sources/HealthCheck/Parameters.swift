import Addresses
import LVS
import MySQLReplication
import Netlink
import OCF
import OCFNetlink

/// The parameters of `ocf:tandem:healthcheck`, each declared once: the agent loads them from
/// `OCF_RESKEY_*`, the checker daemon from the configuration file the agent writes for it.
public struct HealthCheckParameters: ParameterSet {
    @Parameter("services", short: "The IPVS services whose real servers are checked",
               long: """
                   One or more virtual services in the ipvs agent's syntax, separated by spaces or commas \
                   (tcp:192.0.2.10:80 tcp:192.0.2.10:443). Each must be run on this node by an ocf:tandem:ipvs \
                   resource, which publishes its real servers and their configured weights; order the ipvs \
                   resource before this one. A real server that several services share is checked once.
                   """)
    public var services: ServiceList

    @Parameter("netns", short: "Network namespace",
               long: "The network namespace of the services' IPVS table, as for ocf:tandem:ipvs. Default: the agent's own.")
    public var netns: NamespaceReference? = nil

    @Parameter("check", .reloadable, short: "How a real server is checked",
               long: """
                   tcp: a TCP connection is accepted. tcp-expect: tcp_send is sent and tcp_expect must come back. \
                   http, https: an HTTP/1.1 request (http_* parameters; https verifies the certificate, tls_*). \
                   mysql: a login and a query that returns rows, optionally replication-aware (mysql_*). \
                   dns: a query each real server must answer (dns_*). \
                   ping: an ICMP echo is answered. external: external_command exits 0. none: no check, every \
                   real server counts as healthy (maintenance_dir still applies).
                   """)
    public var check: CheckKind = .tcp

    @Parameter("check_port", .reloadable, short: "Port to check instead of the real server's",
               long: "Check this port of each real server instead of its service port (needed for fwmark services).",
               valid: 1...65_535)
    public var checkPort: Int? = nil

    @Parameter("interval", .reloadable, short: "Time between two checks of a real server",
               long: "How often each real server is checked while its state is settled.",
               valid: .milliseconds(100)...Interval.seconds(3600))
    public var interval: Interval = .seconds(5)

    @Parameter("fast_interval", .reloadable, short: "Time between checks while a server changes state",
               long: """
                   How often a real server is checked after a result that contradicts its state (the first \
                   failures of a healthy server, the first successes of a failed one), so it is judged sooner. \
                   When it is longer than interval, interval is used.
                   """, valid: .milliseconds(100)...Interval.seconds(3600))
    public var fastInterval: Interval = .seconds(1)

    @Parameter("timeout", .reloadable, short: "Time a check may take",
               long: "A check that has not passed after this long fails (connection, TLS, request and answer together).",
               valid: .milliseconds(10)...Interval.seconds(600))
    public var timeout: Interval = .seconds(3)

    @Parameter("rise", .reloadable, short: "Successes in a row before a failed server is back",
               long: "A failed real server gets its weight back after this many checks in a row pass.", valid: 1...100)
    public var rise: Int = 2

    @Parameter("fall", .reloadable, short: "Failures in a row before a server is failed",
               long: "A healthy real server is taken out after this many checks in a row fail.", valid: 1...100)
    public var fall: Int = 3

    @Parameter("on_failure", .reloadable, short: "What happens to a failed real server",
               long: """
                   quiesce: weight 0, so established connections go on and new ones go elsewhere (ldirectord's \
                   quiescent=yes). remove: taken out of the IPVS table (connections to it break at once).
                   """)
    public var onFailure: FailureAction = .quiesce

    @Parameter("fallback", .reloadable, short: "Server added when every real server has failed",
               long: """
                   A real server in the ipvs agent's syntax (ADDR[:PORT] [gate|masq|ipip] [WEIGHT]), added to each \
                   service while none of its real servers is healthy and removed as soon as one is back, e.g. \
                   127.0.0.1:80 masq for a local "sorry" page.
                   """)
    public var fallback: String? = nil

    @Parameter("slow_start", .reloadable, short: "Seconds to ramp a returning server's weight",
               long: """
                   A real server that comes back starts at a small weight that grows in steps to its configured \
                   weight over this many seconds, so it is not flooded at once. 0 gives it its weight at once.
                   """, valid: 0...3600)
    public var slowStart: Int = 0

    @Parameter("attribute", .reloadable, short: "Node attribute with the number of healthy real servers",
               long: """
                   A transient node attribute (attrd_updater) holding how many real servers are healthy: of the \
                   service when there is one, of the service with the fewest when there are several. For location \
                   rules such as: location director-needs-servers director rule -inf: hc_healthy lt 1.
                   """)
    public var attribute: String? = nil

    @Parameter("maintenance_dir", .reloadable, short: "Directory of maintenance files",
               long: """
                   A file in this directory named after a real server (192.0.2.11, 192.0.2.11:80, [2001:db8::11]:80) \
                   takes it out as if it had failed, without touching the cluster configuration; removing the file \
                   brings it back once it is healthy (ldirectord's maintenancedir).
                   """)
    public var maintenanceDirectory: String? = nil

    @Parameter("degraded_on", .reloadable, short: "When monitor reports OCF_DEGRADED",
               long: """
                   never: monitor passes while the checker runs. some-down: OCF_DEGRADED (190) while any real server \
                   has failed. all-down: OCF_DEGRADED while some service has no healthy real server.
                   """)
    public var degradedOn: DegradedPolicy = .never

    @Parameter("tcp_send", [.reloadable, .secret], short: "What tcp-expect sends",
               long: "Bytes sent after connecting (escapes: \\r \\n \\t \\\\ \\xHH). Empty sends nothing and only reads. "
                   + "Secret (it may hold a password, e.g. a Redis AUTH): never logged or traced; keep it out of the CIB with cibsecret.")
    public var tcpSend: String? = nil

    @Parameter("tcp_expect", .reloadable, short: "What tcp-expect must receive",
               long: "The check passes once these bytes have arrived (same escapes as tcp_send).")
    public var tcpExpect: String? = nil

    @Parameter("http_method", .reloadable, short: "HTTP method", long: "The request method (GET, HEAD, OPTIONS, POST…).")
    public var httpMethod: String = "GET"

    @Parameter("http_path", .reloadable, short: "HTTP path", long: "The request target, e.g. /health?full=1.")
    public var httpPath: String = "/"

    @Parameter("http_host", .reloadable, short: "HTTP Host header",
               long: "The Host header (and TLS server name unless tls_server_name is set). Default: the real server's address.")
    public var httpHost: String? = nil

    @Parameter("http_headers", [.reloadable, .secret], short: "Extra HTTP request headers",
               long: "Extra request headers as Name: value, separated by |, e.g. X-Check: lvs|Authorization: Bearer …. "
                   + "Secret (an Authorization header is a password): never logged or traced; keep it out of the CIB with "
                   + "cibsecret set <resource> http_headers '<value>'.")
    public var httpHeaders: String? = nil

    @Parameter("http_status", .reloadable, short: "Expected HTTP status codes",
               long: "Status codes that pass, as codes and ranges separated by commas: 200, 200-299,301.")
    public var httpStatus: String = "200-399"

    @Parameter("http_body", .reloadable, short: "Text the HTTP body must contain",
               long: "The check fails unless the response body (its first 64 KiB) contains this text (ldirectord's receive).")
    public var httpBody: String? = nil

    @Parameter("http_body_regex", .reloadable, short: "Regular expression the HTTP body must match",
               long: "A POSIX extended regular expression the response body (its first 64 KiB) must match.")
    public var httpBodyRegex: String? = nil

    @Parameter("tls_verify", .reloadable, short: "Verify the server certificate (https)",
               long: """
                   Verify the real server's certificate chain, validity dates and name (tls_server_name, http_host, \
                   or its IP address). false accepts any certificate: a deliberate choice, logged at start.
                   """)
    public var tlsVerify: Bool = true

    @Parameter("tls_ca_file", .reloadable, short: "CA certificates (PEM) for https",
               long: "Trust these CA certificates instead of the system's (/etc/ssl/certs).")
    public var tlsCAFile: String? = nil

    @Parameter("tls_server_name", .reloadable, short: "TLS server name (SNI) for https",
               long: "The name sent as SNI and verified in the certificate. Default: http_host, or none for an IP address.")
    public var tlsServerName: String? = nil

    @Parameter("mysql_defaults_file", .reloadable, short: "Client defaults file with the mysql check's login",
               long: """
                   A MariaDB/MySQL client option file whose [client] section holds user= and password= (mode 0600, \
                   owned by root): the password never appears on a command line, in the cluster configuration or \
                   in a log. Needed by the mysql check.
                   """)
    public var mysqlDefaultsFile: String? = nil

    @Parameter("mysql_database", .reloadable, short: "Database the mysql check connects to",
               long: "The default database of the check's connection. Default: none.")
    public var mysqlDatabase: String? = nil

    @Parameter("mysql_query", .reloadable, short: "Query the mysql check runs",
               long: "A query that must return at least one row (a login alone proves little).")
    public var mysqlQuery: String = "SELECT 1"

    @Parameter("mysql_max_lag", .reloadable, short: "Replication lag in seconds that fails a server",
               long: """
                   Replication awareness: a server whose replica IO or SQL thread is not running (with its errno), \
                   that is not a replica at all, or that lags more than this many seconds (mysql_lag_source) fails. \
                   Unset: replication is not looked at.
                   """, valid: 0...86_400)
    public var mysqlMaxLag: Int? = nil

    @Parameter("mysql_lag_source", .reloadable, short: "How replication lag is measured",
               long: """
                   gtid: how long transactions have been received but not applied (Gtid_IO_Pos against \
                   @@gtid_slave_pos, every GTID domain; MariaDB). heartbeat: now minus the newest ts of \
                   mysql_heartbeat_table, a table the writer updates every second (pt-heartbeat --utc). \
                   seconds_behind_master: the server's own figure (0 while a master is frozen: not advised).
                   """)
    public var mysqlLagSource: LagSource = .gtid

    @Parameter("mysql_role", .reloadable, short: "Which MySQL servers pass the mysql check",
               long: """
                   any: every server that answers mysql_query. writer: only the server with read_only OFF, for the \
                   read-write service of a master-master pair (ocf:tandem:mysql-mm opens exactly one), so writes \
                   never reach two masters. reader: the writer, and replicas whose threads run within mysql_max_lag \
                   (10 s when unset).
                   """)
    public var mysqlRole: MySQLRole = .any

    @Parameter("mysql_heartbeat_table", .reloadable, short: "Heartbeat table for mysql_lag_source=heartbeat",
               long: "DATABASE.TABLE with a ts column holding the writer's UTC time, e.g. percona.heartbeat.")
    public var mysqlHeartbeatTable: String? = nil

    @Parameter("dns_name", .reloadable, short: "Name the dns check asks for",
               long: "A fully qualified name each real server (a DNS server) must answer, e.g. www.example.com.")
    public var dnsName: String? = nil

    @Parameter("dns_type", .reloadable, short: "Record type the dns check asks for", long: "The query type.")
    public var dnsType: DNSType = .A

    @Parameter("dns_expect", .reloadable, short: "Answer the dns check expects",
               long: """
                   One record of the answer must be this: an address (A, AAAA), a name (CNAME, NS, PTR), \
                   PREFERENCE HOST (MX), the text (TXT), PRIMARY MAILBOX (SOA). Default: any answer of the type passes.
                   """)
    public var dnsExpect: String? = nil

    @Parameter("external_command", .reloadable, short: "Program for the external check",
               long: """
                   An absolute path, run without a shell for each check with the real server in its environment \
                   (TANDEM_RS_ADDRESS, TANDEM_RS_PORT, TANDEM_SERVICE); exit status 0 passes. It is killed when \
                   timeout passes.
                   """)
    public var externalCommand: String? = nil

    @Parameter("external_arguments", .reloadable, short: "Arguments of external_command",
               long: "Arguments separated by spaces, passed as they are (no shell, no quoting).")
    public var externalArguments: String? = nil

    public init() {}

    public func validate() throws(ParameterProblems) {
        var problems = ParameterProblems()
        do throws(ParameterProblems) { _ = try checkSpec() } catch { problems.problems += error.problems }
        // Parameters of the other checks are checked too: a reload that switches the check
        // must not meet a value nobody looked at.
        if check != .http && check != .https {
            do throws(ParameterProblems) { _ = try httpCheck(tls: true) } catch { problems.problems += error.problems }
        }
        if check != .tcpExpect {
            for (name, value) in [("tcp_send", tcpSend), ("tcp_expect", tcpExpect)] {
                if let value { do { _ = try Escapes.decode(value) } catch { problems.add(name, error.reason) } }
            }
        }
        // Text for a server or a program is written with escapes, never with raw control characters.
        for (name, value) in [("http_body", httpBody), ("external_arguments", externalArguments), ("tcp_send", tcpSend),
                              ("tcp_expect", tcpExpect)] {
            if let value, value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) {
                problems.add(name, "has control characters (tcp_send and tcp_expect take escapes such as \\r\\n)")
            }
        }
        if check != .mysql {
            do throws(ParameterProblems) { _ = try mysqlCheck() } catch { problems.problems += error.problems }
        }
        if check != .dns {
            do throws(ParameterProblems) { _ = try dnsCheck() } catch { problems.problems += error.problems }
        }
        if check != .external, let program = externalCommand, !program.hasPrefix("/") {
            problems.add("external_command", "'\(program)' is not an absolute path")
        }
        if let fallback {
            for service in services.services {
                do {
                    let parsed = try RealServers.parse(fallback, for: service, allowLoopback: true)
                    if parsed.count != 1 { problems.add("fallback", "is one server, not a list") }
                } catch {
                    problems.add("fallback", "for \(service): \(error.description)")
                }
            }
        }
        if let attribute, !NodeAttributes.isValidName(attribute) {
            problems.add("attribute", "'\(attribute)' is not a node attribute name (letters, digits, _ - . :)")
        }
        if let maintenanceDirectory, !maintenanceDirectory.hasPrefix("/") {
            problems.add("maintenance_dir", "'\(maintenanceDirectory)' is not an absolute path")
        }
        if checkPort == nil, check.needsPort, services.services.contains(where: { $0.port == 0 }) {
            problems.add("check_port", "a fwmark service has no port: set check_port for the \(check.rawValue) check")
        }
        guard problems.isEmpty else { throw problems }
    }

    /// The check as configured, with every check-specific parameter parsed.
    public func checkSpec() throws(ParameterProblems) -> CheckSpec {
        var problems = ParameterProblems()
        let unused: [(String, Bool)]
        var spec = CheckSpec.none
        switch check {
        case .tcp:
            spec = .tcp
            unused = []
        case .tcpExpect:
            var send: [UInt8] = [], expect: [UInt8] = []
            do { send = try Escapes.decode(tcpSend ?? "") } catch { problems.add("tcp_send", error.reason) }
            do { expect = try Escapes.decode(tcpExpect ?? "") } catch { problems.add("tcp_expect", error.reason) }
            if expect.isEmpty { problems.add("tcp_expect", "tcp-expect needs the bytes to expect") }
            spec = .tcpExpect(send: send, expect: expect)
            unused = []
        case .http, .https:
            do throws(ParameterProblems) {
                spec = .http(try httpCheck(tls: check == .https))
            } catch {
                problems.problems += error.problems
            }
            unused = []
        case .ping:
            spec = .ping
            unused = [("check_port", checkPort != nil)]
        case .external:
            var arguments: [String] = []
            if let externalArguments {
                arguments = externalArguments.split(separator: " ").map(String.init)
            }
            if let program = externalCommand, program.hasPrefix("/") {
                spec = .external(program: program, arguments: arguments)
            } else {
                problems.add("external_command", externalCommand == nil ? "the external check needs a program" : "'\(externalCommand!)' is not an absolute path")
            }
            unused = []
        case .mysql:
            do throws(ParameterProblems) { spec = .mysql(try mysqlCheck()) } catch { problems.problems += error.problems }
            unused = []
        case .dns:
            do throws(ParameterProblems) { spec = .dns(try dnsCheck()) } catch { problems.problems += error.problems }
            unused = []
        case .none:
            spec = .none
            unused = []
        }
        for (name, set) in unused where set { problems.add(name, "does not apply to the \(check.rawValue) check") }
        guard problems.isEmpty else { throw problems }
        return spec
    }

    private func dnsCheck() throws(ParameterProblems) -> DNSCheck {
        var problems = ParameterProblems()
        if let name = dnsName {
            let labels = name.split(separator: ".", omittingEmptySubsequences: false).dropLast(name.hasSuffix(".") ? 1 : 0)
            if name.utf8.count > 253 || labels.isEmpty || !labels.allSatisfy({ label in
                (1...63).contains(label.utf8.count) && label.utf8.allSatisfy { byte in
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                        || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
                }
            }) {
                problems.add("dns_name", "'\(name)' is not a domain name")
            }
        } else if check == .dns {
            problems.add("dns_name", "the dns check needs a name to ask for")
        }
        if let expect = dnsExpect, expect.isEmpty || expect.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) {
            problems.add("dns_expect", "is empty or has control characters")
        } else if let expect = dnsExpect, dnsType == .A || dnsType == .AAAA {
            let family: AddressFamily = dnsType == .A ? .inet : .inet6
            if IPAddress(expect)?.family != family { problems.add("dns_expect", "'\(expect)' is not an \(dnsType.rawValue) address") }
        }
        guard problems.isEmpty else { throw problems }
        return DNSCheck(name: dnsName ?? "", type: dnsType, expect: dnsExpect)
    }

    private func mysqlCheck() throws(ParameterProblems) -> MySQLCheck {
        var problems = ParameterProblems()
        if let file = mysqlDefaultsFile, !file.hasPrefix("/") { problems.add("mysql_defaults_file", "'\(file)' is not an absolute path") }
        if check == .mysql && mysqlDefaultsFile == nil {
            problems.add("mysql_defaults_file", "the mysql check needs a client defaults file with its login")
        }
        if let database = mysqlDatabase, !isSQLIdentifier(database) {
            problems.add("mysql_database", "'\(database)' is not a database name")
        }
        if mysqlQuery.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 }) || mysqlQuery.allSatisfy({ $0 == " " }) {
            problems.add("mysql_query", "is empty or has control characters")
        }
        if let table = mysqlHeartbeatTable {
            if !isSQLTableName(table) {
                problems.add("mysql_heartbeat_table", "'\(table)' is not DATABASE.TABLE")
            }
        }
        if mysqlLagSource == .heartbeat && (mysqlMaxLag != nil || mysqlRole == .reader) && mysqlHeartbeatTable == nil {
            problems.add("mysql_heartbeat_table", "mysql_lag_source=heartbeat needs the table")
        }
        guard problems.isEmpty else { throw problems }
        return MySQLCheck(defaultsFile: mysqlDefaultsFile ?? "", database: mysqlDatabase, query: mysqlQuery, maxLag: mysqlMaxLag,
                          lagSource: mysqlLagSource, heartbeatTable: mysqlHeartbeatTable, role: mysqlRole)
    }

    private func httpCheck(tls: Bool) throws(ParameterProblems) -> HTTPCheck {
        var problems = ParameterProblems()
        if !HTTPCheck.isToken(httpMethod) { problems.add("http_method", "'\(httpMethod)' is not an HTTP method") }
        if !httpPath.hasPrefix("/") || httpPath.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f }) {
            problems.add("http_path", "'\(httpPath)' is not a path (it starts with / and has no spaces or control characters)")
        }
        if let host = httpHost, host.isEmpty || host.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f || $0 == UInt8(ascii: "/") }) {
            problems.add("http_host", "'\(host)' is not a host name")
        }
        var headers: [(String, String)] = []
        for field in (httpHeaders ?? "").split(separator: "|") {
            guard let colon = field.firstIndex(of: ":"), HTTPCheck.isToken(String(field[..<colon])) else {
                problems.add("http_headers", "'\(field)' is not Name: value")
                continue
            }
            let value = field[field.index(after: colon)...].drop { $0 == " " }
            if value.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 }) {
                problems.add("http_headers", "the value of \(field[..<colon]) has control characters")
            }
            headers.append((String(field[..<colon]), String(value)))
        }
        var statuses: [ClosedRange<Int>] = []
        do { statuses = try HTTPCheck.parseStatuses(httpStatus) } catch { problems.add("http_status", error.reason) }
        var pattern: Pattern?
        if let httpBodyRegex {
            do { pattern = try Pattern(httpBodyRegex) } catch { problems.add("http_body_regex", error.reason) }
        }
        if let caFile = tlsCAFile, !caFile.hasPrefix("/") { problems.add("tls_ca_file", "'\(caFile)' is not an absolute path") }
        if let name = tlsServerName, name.isEmpty || !name.utf8.allSatisfy({ byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }) {
            problems.add("tls_server_name", "'\(name)' is not a host name")
        }
        if !tls {
            if tlsCAFile != nil { problems.add("tls_ca_file", "applies to https only") }
            if tlsServerName != nil { problems.add("tls_server_name", "applies to https only") }
        }
        guard problems.isEmpty else { throw problems }
        return HTTPCheck(method: httpMethod, path: httpPath, host: httpHost, headers: headers, statuses: statuses,
                         body: httpBody.map { Array($0.utf8) }, bodyPattern: pattern,
                         tls: tls ? TLSCheck(verify: tlsVerify, caFile: tlsCAFile, serverName: tlsServerName ?? httpHost) : nil)
    }
}

public enum CheckKind: String, OCFEnumeration {
    case tcp
    case tcpExpect = "tcp-expect"
    case http, https, mysql, dns, ping, external, none

    /// The check connects to a port.
    var needsPort: Bool { self != .ping && self != .none && self != .external }
}

public enum FailureAction: String, OCFEnumeration {
    case quiesce, remove
}

public enum DegradedPolicy: String, OCFEnumeration {
    case never
    case someDown = "some-down"
    case allDown = "all-down"
}

/// `services`: one or more service specifications, separated by spaces or commas.
public struct ServiceList: OCFValue, Hashable {
    public let services: [ServiceSpec]

    public init(_ services: [ServiceSpec]) { self.services = services }

    public init(ocfValue text: String) throws(ValueError) {
        var services: [ServiceSpec] = []
        for word in text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
            let service: ServiceSpec
            do { service = try ServiceSpec(parsing: String(word)) } catch { throw ValueError(error.description) }
            guard !services.contains(service) else { throw ValueError("\(service) is listed twice") }
            services.append(service)
        }
        guard !services.isEmpty else { throw ValueError("no service given") }
        self.services = services
    }

    public var ocfValue: String { services.map(\.description).joined(separator: " ") }
    public static var contentType: ContentType { .string }
}
