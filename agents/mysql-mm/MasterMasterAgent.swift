import Glibc
import MySQLClient
import MySQLReplication
import OCF

/// What the agent talks to: servers through libmariadb.
struct LiveDatabase {
    func connect(_ endpoint: MySQLEndpoint, login: MySQLLogin) throws(MySQLError) -> MySQLConnection {
        try MySQLConnection(endpoint, login: login)
    }
}

/// `ocf:tandem:mysql-mm`: the writer role of a MariaDB/MySQL master-master pair, as a
/// promotable clone with one instance per database node. It watches a running server (starting
/// mysqld stays with the system or another resource): promoted, the server takes writes
/// (read_only OFF); unpromoted, read_only is ON. Promotion only when caught up.
final class MasterMasterAgent: ResourceAgent {
    static let name = "mysql-mm"
    static let version = tandemVersion
    static let shortDescription = "MariaDB/MySQL master-master pair with exactly one writer (promotable)"
    static let longDescription = """
        Owns the writer role of a MariaDB/MySQL master-master pair (circular replication) as a promotable clone, one \
        instance per database node; mysqld itself is started by the system or another resource. Promoted, the node's \
        server takes writes (read_only OFF); unpromoted, read_only is ON (keep read_only=1 in my.cnf, so a restarted \
        server never comes up writable). The monitor connects with timeouts, runs a real query and reads read_only, \
        the GTID positions and the replica status by column name, and classifies the server: healthy, lagging, IO \
        thread reconnecting (with its errno), SQL thread stopped (1062, 1032, 1950: a diverged pair), not a replica, \
        unreachable or hung. It publishes reader_attribute (1 only when healthy and within max_lag) and a promotion \
        score: the writer 1000, a caught-up replica 900, less with lag, a replica whose master is out of reach 800; \
        broken, diverged or lagging nodes have none and are never promoted. Promote refuses unless the node is a \
        healthy replica within max_lag, waits (catchup_timeout) until every received transaction is applied in every \
        GTID domain, and every one the peer published as its final position when it was demoted or stopped (a node \
        attribute, through the cluster: it counts even when the peer's SQL port cannot be reached; attrd forgets it \
        when the peer's node leaves the cluster or is fenced), checks that the peer is read-only when it can be \
        reached, then sets read_only OFF. Demote sets read_only ON (super_read_only on MySQL), killing the sessions \
        whose locks hold it back, and kills client connections. Stop sets read_only ON and removes the node's \
        attributes; it succeeds when mysqld is proven down: nothing listening on its socket (even a removed one) or \
        its TCP port and no mysqld in its data directory; a server still running is reached another way or the stop \
        fails. Monitor answers 8 for a healthy writer, 191 for a writer whose replication \
        broke, 9 for a promoted node whose server is down, hung or read-only, 0 for a healthy replica, 190 for a \
        degraded one, 7 when mysqld is down on a node that is not the writer (or the instance stopped with read_only ON). Colocate the read-write VIP or \
        service with the Promoted role: colocation rw-with-writer inf: rw-vip mysql-mm-clone:Promoted.
        """
    static let actions = [
        ActionAdvertisement(.start, timeout: 30),
        ActionAdvertisement(.stop, timeout: 30),
        ActionAdvertisement(.promote, timeout: 90),
        ActionAdvertisement(.demote, timeout: 30),
        ActionAdvertisement(.monitor, timeout: 30, interval: 9, role: .promoted),
        ActionAdvertisement(.monitor, timeout: 30, interval: 10, role: .unpromoted),
        ActionAdvertisement(.reloadAgent, timeout: 30),
        ActionAdvertisement(.validateAll, timeout: 30),
        ActionAdvertisement(.metaData, timeout: 5),
    ]

    let parameters: MasterMasterParameters
    let context: AgentContext
    let database: LiveDatabase
    var server: LocalServer { LocalServer(database: database, context: context) }

    init(parameters: MasterMasterParameters, context: AgentContext, host: LiveDatabase) throws {
        self.parameters = parameters
        self.context = context
        self.database = host
    }

    var log: Log { context.log }
    var recordFile: StateFile { context.stateFile(agent: Self.name) }
    var lagFile: StateFile { context.stateFile(agent: Self.name, suffix: "-lag") }
    var configured: Record {
        Record(endpoint: parameters.endpoint, credentialsFile: parameters.credentialsFile, readerAttribute: parameters.readerAttribute,
               writerAttribute: parameters.writerAttribute, promoted: false)
    }

    // MARK: Actions

    func validate() throws {
        if let file = parameters.credentialsFile {
            var status = stat()
            guard stat(file, &status) == 0 else {
                throw OCFError.notInstalled("credentials_file: \(file) is not on this node")
            }
            guard access(file, R_OK) == 0 else { throw OCFError.permissionDenied("credentials_file: \(file) is not readable") }
            if status.st_mode & S_IROTH != 0 {
                log.warning("credentials_file: \(file) is readable by every user: its password is not secret (chmod 600)")
            }
        }
        if context.checkLevel >= 10 { try checkBarrier() }
    }

    /// Depth 10: read_only is the only barrier against a second writer, and accounts with
    /// READ_ONLY ADMIN (or SUPER, which included it before MariaDB 10.11) write through it. Warns
    /// about every such account but the agent's own and replication's.
    private func checkBarrier() throws {
        let connection = try sql("connecting") { try database.connect(parameters.endpoint, login: login) }
        let state = try sql("reading the server's state") { try ServerState.read(connection) }
        guard state.flavor == .mariaDB else {
            log.info("MySQL: super_read_only stops every account but replication; nothing to check")
            return
        }
        let own = try sql("reading the agent's account") {
            try connection.query("SELECT CURRENT_USER() AS me").first?["me"].text ?? ""
        }
        let grantees = try sql("listing privileges") {
            try connection.query("SELECT DISTINCT GRANTEE FROM information_schema.USER_PRIVILEGES").compactMap { $0["GRANTEE"].text }
        }
        let at = own.lastIndex(of: "@") ?? own.endIndex
        let mine = "'\(own[..<at])'@'\(own[at...].dropFirst())'"
        guard grantees.contains(where: { $0 != mine }) else {
            log.warning("cannot see which accounts write through read_only: the agent's account sees only its own privileges (grant it SELECT ON mysql.* to have them checked)")
            return
        }
        let replication = state.replica.map { "'\($0.masterUser)'@" } ?? "\u{0}"
        let rows = try sql("listing privileges") {
            try connection.query("SELECT DISTINCT GRANTEE FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN ('READ_ONLY ADMIN', 'SUPER')")
        }
        let writers = rows.compactMap { $0["GRANTEE"].text }.filter { $0 != mine && !$0.hasPrefix(replication) && !$0.hasPrefix("'mariadb.sys'@") }
        if !writers.isEmpty {
            log.warning("these accounts write even while read_only is ON (READ_ONLY ADMIN or SUPER): \(writers.sorted().joined(separator: ", ")): a second writer needs only one of them")
        }
    }

    /// read_only ON and the replication threads running. Start changes nothing a stop would
    /// undo, so it records once the server answers: a start refused before leaves no trace. The
    /// record keeps where the server keeps its data and listens, so that "down" can be proven.
    func start() throws {
        let connection = try waitForServer()
        try context.state.create()
        var record = configured
        if let old = try Record.load(from: recordFile) { record.promoted = old.promoted && old.endpoint == record.endpoint }
        record.note(try sql("reading where the server lives") { try ServerPlacement.read(connection) })
        try record.save(to: recordFile)
        let state = try sql("reading the server's state") { try ServerState.read(connection) }
        if !state.readOnly {
            try sql("setting read_only ON") {
                try server.makeReadOnly(connection, flavor: state.flavor, reconnecting: parameters.endpoint, login: login)
            }
            log.info("read_only was OFF: now ON (an instance starts unpromoted)")
            if parameters.killConnectionsOnDemote { try closeClients(connection) }
        }
        if record.promoted {
            record.promoted = false
            try record.save(to: recordFile)
        }
        try ensureReplication(connection)
        Publisher(context: context).publishFinal(try look(connection, record: record).state.binlog)
    }

    /// Starts replication threads that are stopped (START REPLICA starts only those).
    private func ensureReplication(_ connection: MySQLConnection) throws {
        let state = try sql("reading the server's state") { try ServerState.read(connection) }
        guard let replica = state.replica else {
            log.warning("\(parameters.endpoint) is not a replica: it cannot catch up with a writer and will not be promotable")
            return
        }
        guard replica.ioRunning == .stopped || replica.sqlRunning == .stopped else { return }
        try sql("starting the replication threads") { try startReplica(connection) }
        log.info("started the replication threads (they were IO \(replica.ioRunning), SQL \(replica.sqlRunning))")
        // The IO thread connects after START returns: wait for it a little (not for a master
        // that is down: then it stays Connecting, and the monitor says so).
        let deadline = min(context.deadline, .now + parameters.connectTimeout.duration)
        while ContinuousClock.now < deadline {
            let now = try sql("reading the server's state") { try ServerState.read(connection) }
            guard let replica = now.replica, replica.ioRunning != .running, replica.lastIOErrno == 0, replica.sqlRunning == .running else { return }
            sleep(for: .milliseconds(10))
        }
    }

    func stop() throws {
        let record = try Record.load(from: recordFile)
        try Self.stop(record ?? configured, context: context, database: database)
        context.forget(lagFile)
        context.forget(recordFile)
    }

    static func stop(unparsableConfiguration problems: ParameterProblems, context: AgentContext, host: LiveDatabase) throws {
        let file = context.stateFile(agent: name)
        guard let record = try Record.load(from: file) else {
            context.log.info("no start was recorded: nothing to stop")
            return
        }
        try stop(record, context: context, database: host)
        context.forget(context.stateFile(agent: name, suffix: "-lag"))
        context.forget(file)
    }

    /// read_only ON (or mysqld proven down: then nothing writes), the final position published,
    /// then the node's other attributes removed. A refused login or a full server over the
    /// socket is retried as the OS user (root with unix_socket authentication, which has a slot
    /// of its own): a broken credentials file or a full server alone should not get the node
    /// fenced.
    static func stop(_ record: Record, context: AgentContext, database: LiveDatabase) throws {
        let server = LocalServer(database: database, context: context)
        var login = record.login(timeouts: context)
        let reach: LocalServer.Reach
        do {
            do {
                reach = try server.reach(record.endpoint, login: login, record: record)
            } catch let error as MySQLError where (error.isLoginRefused || error.isServerFull) && login.defaultsFile != nil {
                guard case .socket = record.endpoint else { throw error }
                context.log.warning("\(error): trying as the OS user over the socket")
                login.defaultsFile = nil
                reach = try server.reach(record.endpoint, login: login, record: record)
            }
        } catch {
            throw OCFError.generic("cannot make it read-only: \(error) (\(record.endpoint))")
        }
        let publisher = Publisher(context: context)
        switch reach {
        case .down(let proof):
            context.log.info("mysqld is down (\(proof)): nothing can write")
        case .answered(let connection, let otherwise):
            let endpoint = otherwise ?? record.endpoint
            do throws(MySQLError) {
                let state = try ServerState.read(connection)
                try server.makeReadOnly(connection, flavor: state.flavor, reconnecting: endpoint, login: login)
                context.log.info("read_only is ON on \(endpoint)")
                publisher.publishFinal(try ServerState.read(connection).binlog)
            } catch {
                throw OCFError.generic("cannot make it read-only: \(error) (\(endpoint))")
            }
        }
        publisher.remove(record)
    }

    func monitor() throws -> MonitorResult {
        let record = try Record.load(from: recordFile)
        let connection: MySQLConnection
        let otherwise: MySQLEndpoint?
        do {
            switch try server.reach(parameters.endpoint, login: login, record: record) {
            case .down(let proof):
                if let record, !context.isProbe { Publisher(context: context).publish(notRunning: record) }
                // The writer's server gone is a failed writer, not a clean stop.
                if record?.promoted == true { return .failedPromoted("mysqld is down (\(proof))") }
                return .notRunning
            case .answered(let answered, let other):
                (connection, otherwise) = (answered, other)
            }
        } catch let error as MySQLError {
            return try failure(error, record: record)
        } catch let error as LocalServer.Unreachable {
            if let record, !context.isProbe { Publisher(context: context).publish(notRunning: record) }
            if record?.promoted == true { return .failedPromoted("\(error) (\(parameters.endpoint))") }
            throw OCFError.generic("\(error) (\(parameters.endpoint))")
        }
        do {
            let state = try ServerState.read(connection, heartbeatTable: heartbeatTable)
            // A stopped instance leaves read_only ON: nothing of it runs. A writer nobody
            // started is reported: Pacemaker must know every node that takes writes.
            if record == nil && state.readOnly { return .notRunning }
            let verdict = try judge(state, record: record)
            if !context.isProbe, let record { Publisher(context: context).publish(verdict, record: record) }
            if !context.isProbe && record != nil {
                log.debug("\(verdict.result), readable \(verdict.readable), score \(verdict.score.map(String.init) ?? "none")")
            }
            guard let otherwise else { return verdict.result }
            // Reached, but not the way it was configured: the admin must know.
            let note = "\(parameters.endpoint) does not answer; reached mysqld over \(otherwise)"
            switch verdict.result {
            case .running: return .degraded(note)
            case .runningPromoted: return .degradedPromoted(note)
            default: return verdict.result
            }
        } catch let error as MySQLError {
            return try failure(error, record: record)
        }
    }

    /// Connection and statement failures, as the monitor reports them (the cause first: an
    /// exit reason is cut at 128 bytes).
    private func failure(_ error: MySQLError, record: Record?) throws -> MonitorResult {
        if let record, !context.isProbe { Publisher(context: context).publish(notRunning: record) }
        if error.isServerFull {
            let reason = "server full (\(error.errno)), not checked: give the account CONNECTION ADMIN (\(parameters.endpoint))"
            return record?.promoted == true ? .degradedPromoted(reason) : .degraded(reason)
        }
        if error.isLoginRefused || error.isPrivilegeMissing {
            throw OCFError.permissionDenied("\(error) (credentials_file, privileges; \(parameters.endpoint))")
        }
        let reason = error.isNoAnswer ? "mysqld does not answer: \(error) (\(parameters.endpoint))" : "\(error) (\(parameters.endpoint))"
        if record?.promoted == true { return .failedPromoted(reason) }
        throw OCFError.generic(reason)
    }

    func promote() throws {
        guard var record = try Record.load(from: recordFile) else { throw OCFError.generic("not started here: promote follows a start") }
        let began = ContinuousClock.now
        let connection = try sql("connecting") { try database.connect(parameters.endpoint, login: login) }
        var state = try sql("reading the server's state") {
            try ServerState.read(connection, heartbeatTable: heartbeatTable)
        }
        let publisher = Publisher(context: context)
        if !state.readOnly {
            log.info("already the writer (read_only OFF)")
        } else {
            let verdict = try judge(state, record: record)
            guard verdict.score != nil else { throw OCFError.generic("not promotable: \(verdict.reason)") }
            let finals: [String: GTIDPosition]
            do {
                finals = try publisher.peersFinal()
            } catch let error as OCFError {
                throw OCFError.generic("cannot learn the peer's final position from attrd: \(error.reason)")
            }
            let peer = try checkPeer(state)
            state = try catchUp(connection, state: state, peer: peer, finals: finals)
            try sql("setting read_only OFF") { try server.makeWritable(connection) }
            let took = began.duration(to: .now)
            log.info("promoted: read_only OFF after \(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000) ms, every received transaction applied (\(state.current?.description ?? "no GTID")), peer \(peer.description)"
                     + (finals.isEmpty ? "" : ", final position of \(finals.keys.sorted().joined(separator: ", ")) applied"))
        }
        record.promoted = true
        try record.save(to: recordFile)
        publisher.removeFinal()
        publisher.publish(Verdict(state.with(readOnly: false), health: .notReplica, maxLag: parameters.maxLag, recordedPromoted: true), record: record)
    }

    /// read_only ON, then the clients' connections killed, then the final position published.
    /// Without a start recorded the configured server is closed all the same: Pacemaker demotes
    /// what a probe found promoted (a server opened outside the cluster).
    func demote() throws {
        let recorded = try Record.load(from: recordFile)
        var record = recorded ?? configured
        let login = record.login(timeouts: context)
        let connection: MySQLConnection
        let endpoint: MySQLEndpoint
        do {
            switch try server.reach(record.endpoint, login: login, record: recorded) {
            case .down(let proof):
                log.info("mysqld is down (\(proof)): nothing can write")
                if record.promoted {
                    record.promoted = false
                    try record.save(to: recordFile)
                }
                if recorded != nil { Publisher(context: context).publish(notRunning: record) }
                return
            case .answered(let answered, let otherwise):
                (connection, endpoint) = (answered, otherwise ?? record.endpoint)
            }
        } catch {
            throw OCFError.generic("cannot make it read-only: \(error) (\(record.endpoint))")
        }
        let state = try sql("reading the server's state") { try ServerState.read(connection) }
        if !state.readOnly {
            try sql("setting read_only ON") {
                try server.makeReadOnly(connection, flavor: state.flavor, reconnecting: endpoint, login: login)
            }
            log.info("read_only ON")
        }
        // Also when a demote is retried (read_only ON already, its clients maybe not killed).
        if parameters.killConnectionsOnDemote && (!state.readOnly || record.promoted) { try closeClients(connection) }
        // Nothing writes any more: how far it got is final, for the peer's promote.
        let final = try sql("reading the final position") { try ServerState.read(connection).binlog }
        Publisher(context: context).publishFinal(final)
        guard recorded != nil else { return }
        if record.promoted {
            record.promoted = false
            try record.save(to: recordFile)
        }
        _ = try? look(connection, record: record)
    }

    /// The reloadable parameters are read by every action: they apply from the next look,
    /// which happens now (the attributes follow the new max_lag). Like start, it runs the
    /// replication threads that are stopped.
    func reloadAgent() throws {
        guard let record = try Record.load(from: recordFile) else { return }
        let connection = try sql("connecting") { try database.connect(parameters.endpoint, login: login) }
        try ensureReplication(connection)
        try look(connection, record: record)
    }

    // MARK: Looking

    var login: MySQLLogin { parameters.login.bounded(by: context) }

    /// The table a look reads with lag_source=heartbeat.
    var heartbeatTable: String? { parameters.lagSource == .heartbeat ? parameters.heartbeatTable : nil }

    /// Reads the state, judges it and publishes the attributes (not in probes).
    @discardableResult
    private func look(_ connection: MySQLConnection, record: Record) throws -> (verdict: Verdict, state: ServerState) {
        let state = try sql("reading the server's state") {
            try ServerState.read(connection, heartbeatTable: heartbeatTable)
        }
        let verdict = try judge(state, record: record)
        if !context.isProbe { Publisher(context: context).publish(verdict, record: record) }
        return (verdict, state)
    }

    private func judge(_ state: ServerState, record: Record?) throws -> Verdict {
        let health = ReplicationHealth(state.replica, lag: lag(state))
        return Verdict(state, health: health, maxLag: parameters.maxLag, recordedPromoted: record?.promoted == true)
    }

    /// The replica's lag by lag_source; the GTID mark is kept between looks (not by probes).
    private func lag(_ state: ServerState) -> Lag {
        let old = (try? lagFile.read()).flatMap(GTIDLagMark.init(values:))
        var mark = old
        let lag = state.lag(by: parameters.lagSource, mark: &mark, now: GTIDLagMark.now)
        if !context.isProbe && mark != old {
            if let mark { try? lagFile.write(mark.values) } else { try? lagFile.remove() }
        }
        return lag
    }

    // MARK: Promoting

    /// What promote learned of the peer.
    enum Peer: CustomStringConvertible {
        case none
        case unreachable(MySQLEndpoint, MySQLError)
        case readOnly(MySQLEndpoint, binlog: GTIDPosition?)
        case writable(MySQLEndpoint, binlog: GTIDPosition?)

        var description: String {
            switch self {
            case .none: "unknown (not a replica)"
            case .unreachable(let endpoint, let error): "\(endpoint) unreachable (\(error.errno))"
            case .readOnly(let endpoint, _): "\(endpoint) read-only"
            case .writable(let endpoint, _): "\(endpoint) writable"
            }
        }

        var binlog: GTIDPosition? {
            switch self {
            case .readOnly(_, let binlog), .writable(_, let binlog): binlog
            default: nil
            }
        }
    }

    /// The peer is this node's replication master; it must not take writes any more.
    private func checkPeer(_ state: ServerState) throws -> Peer {
        guard let endpoint = state.replica?.master else { return .none }
        var login = self.login
        login.database = nil
        do {
            let connection = try database.connect(endpoint, login: login)
            let peer = try ServerState.read(connection)
            if peer.readOnly { return .readOnly(endpoint, binlog: peer.binlog) }
            if parameters.requirePeerReadonly {
                throw OCFError.generic("the peer \(endpoint) is writable (read_only OFF): not promoting a second writer")
            }
            log.warning("the peer \(endpoint) is writable (read_only OFF); promoting anyway (require_peer_readonly=false)")
            return .writable(endpoint, binlog: peer.binlog)
        } catch let error as MySQLError {
            // Down or silent: Pacemaker has stopped or fenced it. Anything else (a refused
            // login, a missing privilege) says it is up, perhaps writable.
            guard error.isNotListening || error.isNoAnswer || error.errno == 2005 else {
                guard !parameters.requirePeerReadonly else {
                    throw OCFError.generic("cannot check that the peer \(endpoint) is read-only: \(error)")
                }
                log.warning("cannot check that the peer \(endpoint) is read-only (\(error)); promoting anyway (require_peer_readonly=false)")
                return .unreachable(endpoint, error)
            }
            log.info("the peer \(endpoint) cannot be reached (\(error)): promoting on what was received")
            return .unreachable(endpoint, error)
        }
    }

    /// Waits until every transaction received, every one in the reachable peer's binlog, and
    /// every one the other nodes published as final is applied here; within catchup_timeout and
    /// the operation's deadline.
    private func catchUp(_ connection: MySQLConnection, state initial: ServerState, peer: Peer,
                         finals: [String: GTIDPosition]) throws -> ServerState {
        let deadline = min(context.deadline, .now + parameters.catchupTimeout.duration)
        let final = finals.values.reduce(GTIDPosition()) { $0.merging($1) }
        var state = initial
        var target = final
        while true {
            if let replica = state.replica, case .sqlStopped = ReplicationHealth(replica, lag: .seconds(0)) {
                throw OCFError.generic("not promotable: \(ReplicationHealth(replica, lag: .seconds(0)))")
            }
            if let current = state.current {
                target = target.merging(state.replica?.received ?? GTIDPosition()).merging(peer.binlog ?? GTIDPosition())
                if current.covers(target) { return state }
            } else if state.replica?.executedAllRead != false && finals.isEmpty {
                // No GTIDs (MySQL): the binlog coordinates read are all executed.
                return state
            }
            guard ContinuousClock.now < deadline else {
                let current = state.current ?? GTIDPosition()
                let lacking = current.missing(from: final)
                if !lacking.isEmpty {
                    let nodes = finals.filter { !current.covers($0.value) }.keys.sorted().joined(separator: ", ")
                    throw OCFError.generic("\(lacking.values.reduce(0, +)) transaction(s) of \(nodes)'s final position \(final) not applied here (\(current)) within \(parameters.catchupTimeout); peer \(peer.description): not promoting without them")
                }
                let missing = current.missing(from: target)
                throw OCFError.generic("not caught up within \(parameters.catchupTimeout): \(missing.values.reduce(0, +)) transaction(s) received but not applied (domains \(missing.keys.sorted()))")
            }
            sleep(for: .milliseconds(5))
            state = try sql("reading the server's state") { try ServerState.read(connection) }
        }
    }

    // MARK: Statements

    /// Waits until the server answers, for connect_timeout at most: a server that is coming
    /// up gets that long, a server that is down fails the start soon (a promotable clone's
    /// promotions wait for its starts to end).
    private func waitForServer() throws -> MySQLConnection {
        let deadline = min(context.deadline, .now + parameters.connectTimeout.duration)
        var last: MySQLError?
        repeat {
            do {
                return try database.connect(parameters.endpoint, login: login)
            } catch {
                if error.isLoginRefused || error.isPrivilegeMissing {
                    throw OCFError.permissionDenied("\(error) (credentials_file, privileges; \(parameters.endpoint))")
                }
                // Waiting helps a server that is coming up, not a name that does not resolve.
                guard error.isNotListening || error.isNoAnswer else { throw OCFError.generic("\(error) (\(parameters.endpoint))") }
                last = error
            }
            sleep(for: .milliseconds(200))
        } while ContinuousClock.now + .milliseconds(200) < deadline
        throw OCFError.generic("mysqld does not answer: \(last.map { "\($0)" } ?? "no time left") (\(parameters.endpoint))")
    }

    private func startReplica(_ connection: MySQLConnection) throws(MySQLError) {
        do {
            try connection.query("START REPLICA")
        } catch where error.errno == 1064 {
            try connection.query("START SLAVE")
        }
    }

    private func closeClients(_ connection: MySQLConnection) throws {
        let killed = try sql("killing client connections") { try LocalServer.killClients(connection) }
        log.info("killed \(killed.count) client connection(s)")
    }

    /// A statement's failure as the action's error.
    @discardableResult
    /// (The body throws `MySQLError`; a plain closure spares every call site its annotation.)
    private func sql<T>(_ what: String, _ body: () throws -> T) throws(OCFError) -> T {
        do {
            return try body()
        } catch let error as MySQLError where error.isLoginRefused || error.isPrivilegeMissing {
            throw OCFError.permissionDenied("\(what): \(error) (\(parameters.endpoint))")
        } catch {
            throw OCFError.generic("\(what): \(error) (\(parameters.endpoint))")
        }
    }
}

extension Verdict {
    var reason: String {
        switch result {
        case .degraded(let reason), .degradedPromoted(let reason), .failedPromoted(let reason): reason
        default: "healthy"
        }
    }
}

extension ServerState {
    func with(readOnly: Bool) -> ServerState {
        var copy = self
        copy.readOnly = readOnly
        return copy
    }
}

extension MySQLLogin {
    /// Timeouts within what is left of the action: a connection and the two or three
    /// statements of a look fit before the deadline (libmariadb counts in whole seconds, at
    /// least one).
    func bounded(by context: AgentContext) -> MySQLLogin {
        var login = self
        let remaining = max(context.remaining, .seconds(1))
        login.connectTimeout = min(connectTimeout, remaining / 2)
        login.readTimeout = min(readTimeout, remaining / 4)
        return login
    }
}

extension GTIDLagMark {
    init?(values: [String: String]) {
        guard let received = values["received"].flatMap(GTIDPosition.init), let seen = values["seen"].flatMap(Double.init) else { return nil }
        self.init(received: received, seen: seen)
    }

    var values: [(String, String)] { [("received", received.description), ("seen", String(seen))] }
}
