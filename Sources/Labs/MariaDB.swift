import Addresses
import MySQLClient
import MySQLReplication
import Glibc
import Netlink
import OCF
import OCFTesting

/// A real MariaDB server for tests, in a network namespace: Debian's mariadbd, its own data
/// directory (copied from a template made once per process), TCP on port 3306 of every address
/// of the namespace, root over its socket. `sql` runs statements as root with the mariadb client.
public final class MariaDBServer {
    public let namespace: NetworkNamespace
    public let directory: String
    public let serverID: Int
    public private(set) var pid: pid_t?
    public var socket: String { directory + "/mysqld.sock" }

    static let template: Result<String, LabError> = {
        let path = "/tmp/tandem-mariadb-template-\(getpid())"
        do {
            mkdir(path + "-tmp", 0o700)
            let result = try Command("/usr/bin/mariadb-install-db", [
                "--no-defaults", "--datadir=\(path)", "--user=root", "--skip-test-db", "--tmpdir=\(path)-tmp",
                "--auth-root-authentication-method=socket",
            ]).run(deadline: .now + .seconds(300))
            guard result.status == 0 else { return .failure(LabError("mariadb-install-db: \(result.output)\(result.errorOutput)")) }
            return .success(path)
        } catch {
            return .failure(LabError("mariadb-install-db: \(error)"))
        }
    }()

    /// - Parameter configuration: more `[mariadbd]` lines.
    public init(in namespace: NetworkNamespace, directory: String, serverID: Int, configuration: String = "") throws {
        self.namespace = namespace
        self.directory = directory
        self.serverID = serverID
        let template = try Self.template.get()
        mkdir(directory, 0o700)
        mkdir(directory + "/tmp", 0o700)
        let copy = try Command("/bin/cp", ["-a", template, directory + "/data"]).run(deadline: .now + .seconds(120))
        guard copy.status == 0 else { throw LabError("copying the data directory: \(copy.errorOutput)") }
        try writeFile(directory + "/my.cnf", """
            [mariadbd]
            datadir = \(directory)/data
            socket = \(socket)
            pid-file = \(directory)/mysqld.pid
            log-error = \(directory)/error.log
            tmpdir = \(directory)/tmp
            port = 3306
            bind-address = 0.0.0.0
            skip-name-resolve
            user = root
            performance_schema = OFF
            innodb_buffer_pool_size = 32M
            innodb_log_file_size = 16M
            innodb_flush_log_at_trx_commit = 2
            sync_binlog = 0
            max_connections = 100
            server_id = \(serverID)
            log_bin = \(directory)/data/mysql-bin
            relay_log = \(directory)/data/relay-bin
            log_slave_updates = ON
            binlog_format = ROW
            gtid_domain_id = \(serverID)
            slave_net_timeout = 10
            \(configuration)

            """)
        try start()
    }

    deinit { kill(signal: SIGKILL) }

    /// Starts mariadbd and waits until it answers on its socket.
    public func start() throws {
        guard let identity = try namespace.perform({
            Background.launch("/usr/sbin/mariadbd", ["--defaults-file=\(directory)/my.cnf"], output: directory + "/stdout.log")
        }) else { throw LabError("cannot start mariadbd") }
        pid = identity.pid
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let ping = try? Command("/usr/bin/mariadb-admin", ["--no-defaults", "-uroot", "-S", socket, "--connect-timeout=2", "ping"])
                .run(deadline: .now + .seconds(10)), ping.status == 0 { return }
            sleep(for: .milliseconds(100))
        }
        throw LabError("mariadbd did not answer within 60 s: \(readFile(directory + "/error.log") ?? "")")
    }

    public func kill(signal: Int32) {
        guard let pid else { return }
        if signal == SIGKILL || signal == SIGTERM { Glibc.kill(pid, SIGCONT) }
        Glibc.kill(pid, signal)
        if signal == SIGKILL || signal == SIGTERM {
            let identity = ProcessIdentity(pid: pid)
            identity?.terminate(patience: .seconds(25), by: .now + .seconds(30))
            // Exiting is not gone: its sockets close with its last thread. Down is refusing.
            let login = MySQLLogin(defaultsFile: nil, connectTimeout: .seconds(1), readTimeout: .seconds(1))
            _ = waitUntil(deadline: .now + .seconds(30)) {
                do {
                    _ = try MySQLConnection(.socket(socket), login: login)
                    return false
                } catch {
                    return (error as? MySQLError)?.isNotListening == true
                }
            }
            self.pid = nil
        }
    }

    /// Runs SQL as root over the socket; returns the output (tab-separated, no headers).
    @discardableResult
    public func sql(_ statements: String) throws -> String {
        // On stdin: passwords in the statements stay off the command line.
        let result = try Command("/usr/bin/mariadb", ["--no-defaults", "-uroot", "-S", socket, "-N", "-B"], input: Array(statements.utf8))
            .run(deadline: .now + .seconds(60))
        guard result.status == 0 else { throw LabError("mariadb: \(result.errorOutput)") }
        return result.output
    }

    /// The replica status, read as root over the socket; `nil` when the server does not answer
    /// or is no replica.
    public var replicaStatus: ReplicaStatus? {
        let login = MySQLLogin(defaultsFile: nil, connectTimeout: .seconds(5), readTimeout: .seconds(5))
        guard let connection = try? MySQLConnection(.socket(socket), login: login),
              let row = try? connection.query("SHOW SLAVE STATUS").first else { return nil }
        return ReplicaStatus(row)
    }

    /// Makes this server a replica of `master` (GTID), replicating as repl/`password`.
    public func replicate(from master: IPAddress, password: String) throws {
        try sql("""
            CHANGE MASTER TO MASTER_HOST='\(master)', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='\(password)',
              MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos;
            START SLAVE;
            """)
    }
}

/// A real master-master pair (mariadb-pair.md): db1 and db2 in two network namespaces (their
/// own veth pair, or two lab nodes), GTID replication both ways, one GTID domain per server,
/// read_only=1 in my.cnf, and the accounts: `repl`, `agent` (what ocf:tandem:mysql-mm needs),
/// `plain` (the same without CONNECTION ADMIN), `app` (writes to lab.*), `check` (a health
/// checker's). Passwords are random and live only in client defaults files.
public final class MariaDBPair {
    /// The namespace pair when the pair made its own (`init(name:)`).
    public let veth: VethLab?
    public let namespaces: [NetworkNamespace]
    public let servers: [MariaDBServer]
    public let addresses: [IPAddress]
    public let directory: String
    /// Client defaults files: the agent's login, the one without CONNECTION ADMIN, a wrong password, the app's.
    public var agentCredentials: String { directory + "/agent.cnf" }
    public var plainCredentials: String { directory + "/plain.cnf" }
    public var wrongCredentials: String { directory + "/wrong.cnf" }
    public var appCredentials: String { directory + "/app.cnf" }
    /// A health checker's login (SLAVE MONITOR, and SELECT on mysql.servers for seed 004's query).
    public var checkCredentials: String { directory + "/check.cnf" }
    public let password = "pw-\(UInt32.random(in: 100_000...999_999))-\(UInt32.random(in: 100_000...999_999))"

    /// db1 and db2 in two fresh namespaces joined by a veth (198.18.0.1 and .2).
    public convenience init(name: String) throws {
        let veth = try VethLab(localAddresses: ["198.18.0.1/24"], peerAddresses: ["198.18.0.2/24"])
        try self.init(name: name, namespaces: [veth.local, veth.peer], addresses: [IPAddress("198.18.0.1")!, IPAddress("198.18.0.2")!],
                      veth: veth)
    }

    /// db1 and db2 in the given namespaces (a lab's nodes), at the given addresses.
    public init(name: String, namespaces: [NetworkNamespace], addresses: [IPAddress], veth: VethLab? = nil) throws {
        self.veth = veth
        self.namespaces = namespaces
        self.addresses = addresses
        directory = "/tmp/tandem-mm-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(directory, 0o700)
        var servers: [MariaDBServer] = []
        for (index, namespace) in namespaces.enumerated() {
            servers.append(try MariaDBServer(in: namespace, directory: "\(directory)/db\(index + 1)", serverID: index + 1, configuration: """
                read_only = 1
                gtid_strict_mode = ON
                auto_increment_increment = 2
                auto_increment_offset = \(index + 1)
                report_host = \(addresses[index])
                """))
        }
        self.servers = servers
        for server in servers {
            try server.sql("""
                SET sql_log_bin=0;
                CREATE USER 'repl'@'%' IDENTIFIED BY '\(password)';
                GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
                CREATE USER 'agent'@'%' IDENTIFIED BY '\(password)';
                GRANT SLAVE MONITOR, BINLOG MONITOR, PROCESS, READ_ONLY ADMIN, CONNECTION ADMIN, REPLICATION SLAVE ADMIN ON *.* TO 'agent'@'%';
                CREATE USER 'plain'@'%' IDENTIFIED BY '\(password)';
                GRANT SLAVE MONITOR, BINLOG MONITOR, PROCESS, READ_ONLY ADMIN, REPLICATION SLAVE ADMIN ON *.* TO 'plain'@'%';
                CREATE USER 'app'@'%' IDENTIFIED BY '\(password)';
                GRANT ALL ON lab.* TO 'app'@'%';
                CREATE USER 'check'@'%' IDENTIFIED BY '\(password)';
                GRANT SLAVE MONITOR ON *.* TO 'check'@'%';
                GRANT SELECT ON mysql.servers TO 'check'@'%';
                RESET MASTER;
                """)
        }
        for (file, user, secret) in [(agentCredentials, "agent", password), (plainCredentials, "plain", password),
                                     (wrongCredentials, "agent", "not-the-password"), (appCredentials, "app", password),
                                     (checkCredentials, "check", password)] {
            try writeFile(file, "[client]\nuser=\(user)\npassword=\(secret)\n")
            chmod(file, 0o600)
        }
        try servers[0].replicate(from: addresses[1], password: password)
        try servers[1].replicate(from: addresses[0], password: password)
        try servers[0].sql("CREATE DATABASE lab; CREATE TABLE lab.t (id INT AUTO_INCREMENT PRIMARY KEY, node INT, note VARCHAR(64))")
        try waitUntilReplicating()
        try waitInSync()
    }

    deinit {
        for server in servers { server.kill(signal: SIGKILL) }
    }

    /// Runs SQL as root on server `index` (0 or 1).
    @discardableResult
    public func sql(_ index: Int, _ statements: String) throws -> String { try servers[index].sql(statements) }

    /// One value as root (the first column of the first row); `nil` when the server does not answer.
    public func value(_ index: Int, _ query: String) -> String? {
        guard let output = try? servers[index].sql(query) else { return nil }
        return output.split(separator: "\n").first.map { String($0.split(separator: "\t").first ?? "") }
    }

    /// `@@global.read_only` of a server; `nil` when it does not answer.
    public func readOnly(_ index: Int) -> Bool? { value(index, "SELECT @@global.read_only").map { $0 == "1" } }

    /// Waits until both replicas run both threads.
    public func waitUntilReplicating(within timeout: Duration = .seconds(30)) throws {
        let running = waitUntil(deadline: .now + timeout) {
            (0...1).allSatisfy { index in
                guard let status = self.replicaStatus(index) else { return false }
                return status.ioRunning == .running && status.sqlRunning == .running
            }
        }
        guard running else { throw LabError("the pair does not replicate: \(diagnostics())") }
    }

    /// A server's replica status, read as root over its socket; `nil` when it does not answer.
    public func replicaStatus(_ index: Int) -> ReplicaStatus? { servers[index].replicaStatus }

    /// Waits until each server applied everything the other one logged.
    public func waitInSync(within timeout: Duration = .seconds(30)) throws {
        for index in 0...1 {
            let position = try sql(1 - index, "SELECT @@global.gtid_binlog_pos").trimmedLine
            let seconds = Int(timeout.components.seconds)
            let waited = try sql(index, "SELECT MASTER_GTID_WAIT('\(position)', \(seconds))").trimmedLine
            guard waited == "0" else { throw LabError("db\(index + 1) did not apply \(position): \(diagnostics())") }
        }
    }

    /// Rows of lab.t on a server.
    public func rowCount(_ index: Int) throws -> Int { Int(try sql(index, "SELECT COUNT(*) FROM lab.t").trimmedLine) ?? -1 }

    /// The agent for server `index`, in its namespace, with its own state directory.
    public func agent(_ index: Int, environment: [String: String] = [:]) -> AgentRunner {
        var runner = AgentRunner(agent: "mysql-mm", namespace: namespaces[index], instance: "mm",
                                 stateDirectory: "\(directory)/state\(index + 1)")
        mkdir(runner.stateDirectory, 0o755)
        runner.environment = environment
        return runner
    }

    /// The agent's parameters for server `index`.
    public func parameters(_ index: Int, _ extra: [String: String] = [:]) -> [String: String] {
        ["socket": servers[index].socket, "credentials_file": agentCredentials].merging(extra) { $1 }
    }

    /// Both servers' replica status and error log tails, for failure messages.
    public func diagnostics() -> String {
        (0...1).map { index in
            let status = replicaStatus(index).map {
                "IO \($0.ioRunning) (\($0.lastIOErrno) \($0.lastIOError)), SQL \($0.sqlRunning) (\($0.lastSQLErrno) \($0.lastSQLError)), "
                    + "behind \($0.secondsBehind), received \($0.received?.description ?? "-")"
            } ?? "(no replica status)"
            let log = (readFile("\(directory)/db\(index + 1)/error.log") ?? "").split(separator: "\n").suffix(8).joined(separator: "\n")
            return "db\(index + 1): read_only \(readOnly(index).map { $0 ? "ON" : "OFF" } ?? "?")\n\(status)\n\(log)"
        }.joined(separator: "\n")
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines (a one-value query's output).
    var trimmedLine: String {
        let blank: Set<Character> = [" ", "\t", "\n", "\r"]
        return String(drop { blank.contains($0) }.reversed().drop { blank.contains($0) }.reversed())
    }
}
