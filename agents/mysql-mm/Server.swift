import Glibc
import MySQLClient
import MySQLReplication
import OCF
import POSIX

/// The local server: reaching it, proving it down, and switching it read-only. A stop or
/// demote that calls a writable server "down" makes a second writer as soon as the peer is
/// promoted; one that cannot make it read-only must fail (the node is fenced).
struct LocalServer {
    let database: LiveDatabase
    let context: AgentContext
    var log: Log { context.log }

    /// What trying to reach the server found.
    enum Reach {
        /// It answered; `otherwise` names the way it answered when the configured one did not.
        case answered(MySQLConnection, otherwise: MySQLEndpoint?)
        /// Nothing of it runs: proven (see `reach`).
        case down(String)
    }

    /// A server that runs but answers no way the agent knows.
    struct Unreachable: Error, CustomStringConvertible {
        let description: String
    }

    /// Reaches the server at `endpoint`. When nothing listens there and a start recorded how the
    /// server was placed, "down" must be proven: no listener on the socket path (its file may be
    /// gone while mysqld still listens), no mysqld working in the recorded data directory, and
    /// every other way the server listened (its TCP port, or its socket for a TCP endpoint)
    /// refusing. A way that answers with the same data directory is used instead.
    /// - Throws: `MySQLError` when the server does not answer well (frozen, login refused);
    ///   `Unreachable` when it runs but answers no known way.
    func reach(_ endpoint: MySQLEndpoint, login: MySQLLogin, record: Record?) throws -> Reach {
        let refusal: MySQLError
        switch connect(endpoint, login: login) {
        case .success(let connection): return .answered(connection, otherwise: nil)
        case .failure(let error) where error.isNotListening: refusal = error
        case .failure(let error): throw error
        }
        guard let record, let directory = record.dataDirectory else {
            // Never started here (or recorded before placements were): what was configured is all there is.
            return .down("nothing listens on \(endpoint): \(refusal.message)")
        }
        var alive: [String] = []
        if case .socket(let path) = endpoint, UnixSockets.isListening(at: path) {
            alive.append("a server still listens on \(path) (its file is gone)")
        }
        let processes = MySQLProcesses.working(in: directory)
        if !processes.isEmpty {
            alive.append("mysqld (pid \(processes.map(String.init).joined(separator: ", "))) runs in \(directory)")
        }
        let others = record.otherEndpoints(than: endpoint)
        for other in others {
            switch connect(other, login: login) {
            case .success(let connection):
                do {
                    let placement = try ServerPlacement.read(connection)
                    if placement.dataDirectory == directory {
                        log.warning("\(endpoint) does not answer; reached the server over \(other)")
                        return .answered(connection, otherwise: other)
                    }
                    log.info("\(other) is another server (data in \(placement.dataDirectory))")
                } catch {
                    alive.append("\(other): \(error)")
                }
            case .failure(let error) where error.isNotListening:
                continue
            case .failure(let error):
                alive.append("\(other): \(error)")
            }
        }
        guard alive.isEmpty else {
            throw Unreachable(description: "mysqld is not down but cannot be reached: \(alive.joined(separator: "; "))")
        }
        let ways = ([endpoint] + others).map(\.description).joined(separator: " or ")
        return .down("nothing listens on \(ways), no mysqld runs in \(directory)")
    }

    private func connect(_ endpoint: MySQLEndpoint, login: MySQLLogin) -> Result<MySQLConnection, MySQLError> {
        do { return .success(try database.connect(endpoint, login: login)) } catch { return .failure(error) }
    }

    // MARK: read_only

    /// read_only ON (and super_read_only on MySQL, which read_only alone lets SUPER write
    /// through), within the action's deadline. The statement waits for table locks and running
    /// writes; the session's lock_wait_timeout bounds each wait (the server's default is a day),
    /// and the sessions holding it back are killed from a second connection before the next try
    /// (as MHA does): a backup's LOCK TABLES must not get a demote to fail and the node fenced.
    /// - Parameters: `endpoint` and `login` open a second connection to the same server, for the killing.
    func makeReadOnly(_ connection: MySQLConnection, flavor: ServerState.Flavor,
                      reconnecting endpoint: MySQLEndpoint, login: MySQLLogin) throws(MySQLError) {
        let statement = Self.readOnlyStatement(flavor)
        var current = connection
        // Below the client's read timeout (at least 1 s), so the server answers "lock wait timeout" first.
        let wait = max(1, min(5, Int(context.remaining / .seconds(8))))
        while true {
            do {
                try current.query("SET SESSION lock_wait_timeout = \(wait)")
                try current.query(statement)
                return
            } catch where error.errno == 1205 || error.isNoAnswer {
                guard ContinuousClock.now + .seconds(wait) < context.deadline else { throw error }
                // No answer: the client gave up first; the statement may still wait at the server.
                let lost = error.isNoAnswer
                let killer = try database.connect(endpoint, login: login)
                let own = lost ? nil : try current.query("SELECT CONNECTION_ID() AS id").first?["id"].integer
                let killed = try Self.killClients(killer, sparing: own.map { [$0] } ?? [])
                log.warning("read_only waited for a lock (\(error)): killed \(killed.count) client session(s) \(killed) and trying again")
                if lost { current = killer }
            }
        }
    }

    /// What makes a server read-only for every client: on MySQL read_only lets SUPER and
    /// CONNECTION_ADMIN write, super_read_only (which sets read_only too) stops them; MariaDB has
    /// no super_read_only, and READ_ONLY ADMIN is what writes through (depth-10 validate names
    /// the accounts that hold it).
    static func readOnlyStatement(_ flavor: ServerState.Flavor) -> String {
        flavor == .mySQL ? "SET GLOBAL super_read_only = ON" : "SET GLOBAL read_only = ON"
    }

    /// read_only OFF: this server takes writes (on MySQL, super_read_only goes with it).
    func makeWritable(_ connection: MySQLConnection) throws(MySQLError) {
        try connection.query("SET GLOBAL read_only = OFF")
    }

    /// Kills the clients' sessions: not `sparing` nor the killing one, not replication (the
    /// peer's binlog dump, this server's replica threads), not the server's own threads.
    /// - Returns: the ids killed.
    @discardableResult
    static func killClients(_ connection: MySQLConnection, sparing: [Int64] = []) throws(MySQLError) -> [Int64] {
        let rows = try connection.query("""
            SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() \
            AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker', 'Connect') \
            AND USER NOT IN ('system user', 'event_scheduler')
            """)
        var killed: [Int64] = []
        for id in rows.compactMap({ $0["ID"].integer }) where !sparing.contains(id) {
            do {
                try connection.query("KILL CONNECTION \(id)")
                killed.append(id)
            } catch where error.errno == 1094 {
                // Gone already.
            }
        }
        return killed
    }
}

/// Unix sockets of this network namespace, as /proc/net/unix lists them: a listening socket
/// keeps the path it was bound to even after its file is removed.
enum UnixSockets {
    /// Whether a socket bound to `path` listens (__SO_ACCEPTCON in its flags).
    static func isListening(at path: String) -> Bool {
        guard let text = readTextFile("/proc/net/unix") else { return false }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // Num RefCount Protocol Flags Type St Inode Path
            guard fields.count >= 8, String(fields[7...].joined(separator: " ")) == path,
                  let flags = UInt32(fields[3], radix: 16) else { continue }
            if flags & 0x10000 != 0 { return true }
        }
        return false
    }
}

/// mysqld processes, found by the directory they work in (mysqld changes into its data
/// directory at start-up): a server restarted with another socket is still found.
enum MySQLProcesses {
    static let names: Set<String> = ["mysqld", "mariadbd"]

    static func working(in directory: String) -> [pid_t] {
        var found: [pid_t] = []
        for name in directoryNames("/proc") {
            guard let pid = pid_t(name), let command = readTextFile("/proc/\(pid)/comm"),
                  names.contains(String(command.prefix { $0 != "\n" })), let cwd = readLink("/proc/\(pid)/cwd") else { continue }
            if cwd == directory { found.append(pid) }
        }
        return found.sorted()
    }
}
