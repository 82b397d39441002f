import Addresses
import Glibc
import Netlink
import OCF

/// A real MariaDB server for tests, in a network namespace: Debian's mariadbd, its own data
/// directory (copied from a template made once per process), TCP on port 3306 of every address
/// of the namespace, root over its socket. `sql` runs statements as root with the mariadb client.
public final class MariaDBServer {
    public let namespace: NetworkNamespace
    public let directory: String
    public let serverID: Int
    public private(set) var pid: pid_t?
    var socket: String { directory + "/mysqld.sock" }

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

    public init(in namespace: NetworkNamespace, directory: String, serverID: Int) throws {
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
            identity?.terminate(by: .now + .seconds(30))
            self.pid = nil
        }
    }

    /// Runs SQL as root over the socket; returns the output (tab-separated, no headers).
    @discardableResult
    public func sql(_ statements: String) throws -> String {
        let result = try Command("/usr/bin/mariadb", ["--no-defaults", "-uroot", "-S", socket, "-N", "-B", "-e", statements])
            .run(deadline: .now + .seconds(60))
        guard result.status == 0 else { throw LabError("mariadb: \(result.errorOutput)") }
        return result.output
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
