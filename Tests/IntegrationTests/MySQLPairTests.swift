import Glibc
import MySQLClient
import MySQLReplication
import OCF
import OCFTesting
import Testing

/// ocf:tandem:mysql-mm against a real MariaDB master-master pair (two mariadbd in two
/// namespaces, GTID replication both ways): each failure mode of mariadb-pair.md gives its
/// classification, attributes and exit code; promotion waits for catch-up and loses no row;
/// the agent never opens a second writer. Node attributes are recorded by stand-ins for
/// attrd_updater and crm_attribute (the Pacemaker lab tests use the real ones).
@Suite(.serialized, .enabled(if: Facilities.ready))
struct MySQLPairTests {
    /// A fresh pair, one agent instance per server, each with its own recorded attributes.
    final class World {
        let pair: MariaDBPair
        let attributes: [RecordedAttributes]
        var extra: [String: String] = [:]

        init(_ name: String) throws {
            let pair = try MariaDBPair(name: name)
            self.pair = pair
            attributes = try (1...2).map { try RecordedAttributes(directory: "\(pair.directory)/attributes\($0)") }
        }

        @discardableResult
        func run(_ index: Int, _ action: String, _ parameters: [String: String] = [:], interval: Int = 10_000,
                 timeout: Duration = .seconds(20)) throws -> AgentRunner.Result {
            let result = try pair.agent(index, environment: attributes[index].environment)
                .run(action, pair.parameters(index, extra.merging(parameters) { $1 }), interval: interval, timeout: timeout)
            #expect(!result.output.contains(pair.password) && !result.errorOutput.contains(pair.password), "the password in a log")
            if result.status != 0 && result.status != 8 && action != "monitor" {
                #expect(result.exitReason != nil, "\(action) failed without an exit reason: \(result)")
            }
            return result
        }

        func monitor(_ index: Int, _ parameters: [String: String] = [:]) throws -> AgentRunner.Result {
            try run(index, "monitor", parameters)
        }

        /// Both instances started, db1 (`writer`) promoted.
        func startPair(writer: Int = 0) throws {
            for index in 0...1 {
                let start = try run(index, "start")
                try #require(start.status == 0, "\(start)")
            }
            let promote = try run(writer, "promote")
            try #require(promote.status == 0, "\(promote)")
            #expect(pair.readOnly(writer) == false && pair.readOnly(1 - writer) == true)
        }

        /// Writes rows through the app account on the writer (read_only OFF lets it).
        func write(_ index: Int, rows: Int, note: String) throws {
            let values = (0..<rows).map { _ in "(\(index + 1), '\(note)')" }.joined(separator: ",")
            let result = try Command("/usr/bin/mariadb", ["--defaults-file=\(pair.appCredentials)", "-S", pair.servers[index].socket,
                                                          "-e", "INSERT INTO lab.t (node, note) VALUES \(values)"])
                .run(deadline: .now + .seconds(20))
            guard result.status == 0 else { throw LabError("writing to db\(index + 1): \(result.errorOutput)") }
        }

        /// Both servers' read_only, `nil` for one that does not answer.
        var readOnly: [Bool?] { [pair.readOnly(0), pair.readOnly(1)] }
    }

    /// One observed row of the failure-mode table.
    struct Observation: CustomStringConvertible {
        let failure: String
        let node: String
        let result: AgentRunner.Result
        let attributes: RecordedAttributes
        var description: String {
            let readable = attributes["readable"] ?? "-"
            let score = attributes.promotionScore.map(String.init) ?? "none"
            return "| \(failure) | \(node) | \(result.status) | \(result.exitReason ?? Self.reason(result)) | \(readable) | \(score) |"
        }
        static func reason(_ result: AgentRunner.Result) -> String {
            result.status == 0 || result.status == 8 || result.status == 7 ? "" : result.errorOutput.split(separator: "\n").last.map(String.init) ?? ""
        }
    }

    static let observations = ObservationLog()

    final class ObservationLog: @unchecked Sendable {
        private var rows: [String] = []
        private var lock = pthread_mutex_t()
        init() { pthread_mutex_init(&lock, nil) }
        func add(_ row: Observation) {
            pthread_mutex_lock(&lock)
            rows.append(row.description)
            let table = "| failure | node | exit | exit reason | readable | promotion score |\n|---|---|---:|---|---:|---:|\n"
                + rows.joined(separator: "\n") + "\n"
            pthread_mutex_unlock(&lock)
            saveReport(table, as: "mysql-mm-failure-modes")
        }
    }

    /// Runs a monitor, records the row, and returns the result.
    func observe(_ world: World, _ index: Int, _ failure: String, _ parameters: [String: String] = [:]) throws -> AgentRunner.Result {
        let result = try world.monitor(index, parameters)
        Self.observations.add(Observation(failure: failure, node: "db\(index + 1)", result: result, attributes: world.attributes[index]))
        return result
    }

    @Test func healthyPairOneWriter() throws {
        let world = try World("healthy")
        try world.startPair()
        let writer = try observe(world, 0, "healthy")
        #expect(writer.status == 8, "\(writer)")
        #expect(world.attributes[0]["readable"] == "1" && world.attributes[0].promotionScore == 1000)
        let replica = try observe(world, 1, "healthy")
        #expect(replica.status == 0, "\(replica)")
        #expect(world.attributes[1]["readable"] == "1" && world.attributes[1].promotionScore == 900)
        // Probes change nothing: not even the attributes.
        world.attributes[1].clear()
        #expect(try world.run(1, "monitor", interval: 0).status == 0)
        #expect(world.attributes[1].values().isEmpty)
        // Demote, then both read-only: no writer, both promotable.
        #expect(try world.run(0, "demote").status == 0)
        #expect(world.readOnly == [true, true])
        #expect(try observe(world, 0, "read_only on both (after demote)").status == 0)
        #expect(world.attributes[0].promotionScore == 900)
        // Stop: read_only stays ON, the attributes go; a probe then finds it stopped.
        #expect(try world.run(0, "stop").status == 0)
        #expect(world.attributes[0].values().isEmpty && world.readOnly[0] == true)
        #expect(try world.run(0, "monitor", interval: 0).status == 7)
        #expect(try world.run(0, "stop").status == 0, "stop twice")
    }

    @Test func peerKilledThenPromoted() throws {
        let world = try World("killed")
        try world.startPair()
        try world.write(0, rows: 50, note: "before the crash")
        try world.pair.waitInSync()
        world.pair.servers[0].kill(signal: SIGKILL)
        let down = try observe(world, 0, "writer's mysqld killed (SIGKILL)")
        #expect(down.status == 9 && down.exitReason?.contains("mysqld is down") == true, "a writer gone is a failed writer: \(down)")
        #expect(world.attributes[0]["readable"] == "0" && world.attributes[0].promotionScore == nil)
        // 2013 (the connection lost) at first, 2003 (refused) once it retries.
        var survivor = try world.monitor(1)
        let reconnecting = waitUntil(deadline: .now + .seconds(15)) {
            survivor = (try? world.monitor(1)) ?? survivor
            return ["errno 2003", "errno 2013"].contains { survivor.exitReason?.contains("reconnecting (\($0)") == true }
        }
        #expect(reconnecting, "\(survivor)")
        let row = try observe(world, 1, "peer killed (SIGKILL)")
        #expect(row.status == 190 && row.exitReason?.contains("reconnecting") == true, "\(row)")
        #expect(world.attributes[1]["readable"] == "0" && world.attributes[1].promotionScore == 800)
        let began = ContinuousClock.now
        let promote = try world.run(1, "promote")
        print("promote with the peer down: \(began.duration(to: .now))")
        #expect(promote.status == 0, "\(promote)")
        #expect(world.pair.readOnly(1) == false)
        #expect(try world.pair.rowCount(1) == 50)
        #expect(try world.monitor(1).status == 8)
        // The crashed writer returns read-only (my.cnf) and stopped as far as the agent is concerned.
        try world.pair.servers[0].start()
        #expect(world.pair.readOnly(0) == true)
        #expect(try world.run(0, "demote").status == 0)
        #expect(try world.run(0, "start").status == 0)
        #expect(world.readOnly == [true, false])
    }

    @Test(arguments: ["socket", "tcp"])
    func frozenWriter(_ transport: String) throws {
        let world = try World("frozen-\(transport)")
        world.extra = ["connect_timeout": "2s", "read_timeout": "2s"]
        if transport == "tcp" { world.extra.merge(["host": "127.0.0.1", "socket": ""]) { $1 } }
        try world.startPair()
        // Faster detection on the replica than slave_net_timeout's 10 s.
        try world.pair.sql(1, "STOP SLAVE; SET GLOBAL slave_net_timeout = 2; START SLAVE")
        try world.pair.waitUntilReplicating()
        kill(world.pair.servers[0].pid!, SIGSTOP)
        defer { if let pid = world.pair.servers[0].pid { kill(pid, SIGCONT) } }
        let began = ContinuousClock.now
        let writer = try observe(world, 0, "writer's mysqld frozen (SIGSTOP, \(transport))")
        #expect(writer.status == 9 && writer.exitReason?.contains("does not answer") == true, "\(writer)")
        #expect(began.duration(to: .now) < .seconds(10), "bounded by the timeouts")
        // Pacemaker demotes it first: that cannot be proven, so it fails (the node is fenced).
        let demote = try world.run(0, "demote")
        #expect(demote.status == 1, "\(demote)")
        var replica = try world.monitor(1)
        #expect(waitUntil(deadline: .now + .seconds(30)) {
            replica = (try? world.monitor(1)) ?? replica
            return replica.status == 190
        }, "\(replica)")
        if transport == "socket" {
            Self.observations.add(Observation(failure: "peer frozen (SIGSTOP)", node: "db2", result: replica, attributes: world.attributes[1]))
        }
        #expect(world.attributes[1].promotionScore == 800, "\(world.attributes[1].values())")
        // Fenced: gone for good; the survivor is promoted.
        world.pair.servers[0].kill(signal: SIGKILL)
        #expect(try world.run(1, "promote").status == 0)
        #expect(world.pair.readOnly(1) == false)
    }

    @Test func ioThreadStopped() throws {
        let world = try World("io")
        try world.startPair()
        try world.pair.sql(1, "STOP SLAVE IO_THREAD")
        let row = try observe(world, 1, "IO thread stopped")
        #expect(row.status == 190 && row.exitReason?.contains("IO thread stopped") == true, "\(row)")
        #expect(world.attributes[1]["readable"] == "0" && world.attributes[1].promotionScore == nil)
        try world.run(0, "demote")
        let promote = try world.run(1, "promote")
        #expect(promote.status == 1 && promote.exitReason?.contains("not promotable") == true, "\(promote)")
        #expect(world.readOnly == [true, true], "a refused promote changes nothing")
        // start runs the threads again.
        #expect(try world.run(1, "start").status == 0)
        try world.pair.waitUntilReplicating()
        #expect(try world.monitor(1).status == 0)
    }

    @Test func conflictingWrites() throws {
        let world = try World("conflict")
        try world.startPair()
        for index in 0...1 { try world.pair.sql(index, "STOP SLAVE IO_THREAD") }
        for index in 0...1 { try world.pair.sql(index, "INSERT INTO lab.t (id, node, note) VALUES (1000, \(index + 1), 'conflict')") }
        for index in 0...1 { try world.pair.sql(index, "START SLAVE IO_THREAD") }
        var writer = try world.monitor(0)
        #expect(waitUntil(deadline: .now + .seconds(15)) {
            writer = (try? world.monitor(0)) ?? writer
            return writer.status == 191
        }, "\(writer)\n\(world.pair.diagnostics())")
        let writerRow = try observe(world, 0, "conflicting write (1062 on both)")
        #expect(writerRow.exitReason?.contains("1062") == true && writerRow.exitReason?.contains("diverged") == true, "\(writerRow)")
        #expect(waitUntil(deadline: .now + .seconds(15)) { (try? world.monitor(1).status) == 190 }, "\(world.pair.diagnostics())")
        let replica = try observe(world, 1, "conflicting write (1062 on both)")
        #expect(replica.status == 190 && replica.exitReason?.contains("error 1062") == true, "\(replica)")
        #expect(world.attributes[1].promotionScore == nil && world.attributes[1]["readable"] == "0")
        try world.run(0, "demote")
        #expect(try world.run(1, "promote").status == 1, "a diverged replica is never promoted")
        #expect(world.readOnly == [true, true])
    }

    @Test func lagFromDelayAndFromALock() throws {
        let world = try World("lag")
        world.extra = ["max_lag": "2"]
        try world.startPair()
        // MASTER_DELAY: received at once, applied 30 s later.
        try world.pair.sql(1, "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=30; START SLAVE")
        try world.write(0, rows: 3, note: "delayed")
        var replica = try world.monitor(1)
        #expect(waitUntil(deadline: .now + .seconds(20)) {
            replica = (try? world.monitor(1)) ?? replica
            return replica.status == 190
        }, "\(replica)")
        let delayed = try observe(world, 1, "MASTER_DELAY=30 (max_lag 2)")
        #expect(delayed.exitReason?.contains("replication lag") == true, "\(delayed)")
        #expect(world.attributes[1]["readable"] == "0" && world.attributes[1].promotionScore == nil)
        try world.pair.sql(1, "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=0; START SLAVE")
        try world.pair.waitInSync()
        #expect(waitUntil(deadline: .now + .seconds(10)) { (try? world.monitor(1).status) == 0 })

        // A write lock on the replica holds the applier back (Seconds_Behind_Master says 0 at first).
        let holder = try Command("/usr/bin/mariadb", ["--no-defaults", "-uroot", "-S", world.pair.servers[1].socket, "-e",
                                                      "LOCK TABLES lab.t WRITE; SELECT SLEEP(120)"]).start()
        defer { _ = holder.wait(deadline: .now + .seconds(5)) }
        let holding = "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(120)'"
        #expect(waitUntil(deadline: .now + .seconds(10)) { !(world.pair.value(1, holding) ?? "").isEmpty }, "the lock is held")
        try world.write(0, rows: 20, note: "behind a lock")
        #expect(waitUntil(deadline: .now + .seconds(15)) { (try? world.monitor(1).status) == 190 })
        let locked = try observe(world, 1, "metadata lock on the replica (max_lag 2)")
        #expect(locked.status == 190 && world.attributes[1].promotionScore == nil, "\(locked)")
        // Promote while lagging: refused beyond max_lag, then (max_lag raised) it waits for the
        // lock to go and loses no committed row.
        try world.run(0, "demote")
        let refused = try world.run(1, "promote")
        #expect(refused.status == 1 && world.readOnly == [true, true], "\(refused)")
        let promote = try world.pair.agent(1, environment: world.attributes[1].environment)
            .command("promote", world.pair.parameters(1, ["max_lag": "60", "catchup_timeout": "30s"]), timeout: .seconds(60))
            .start(in: world.pair.namespaces[1])
        let began = ContinuousClock.now
        // An observation window, not a wait: the promote is still waiting for the lock after a second.
        sleep(for: .seconds(1))
        #expect(world.readOnly == [true, true], "no writer while the replica is behind")
        let id = try #require(world.pair.value(1, holding))
        try world.pair.sql(1, "KILL \(id)")
        let result = promote.wait(deadline: .now + .seconds(60))
        print("promote behind a lock waited \(began.duration(to: .now)) (the lock released after 1 s)")
        #expect(result.status == 0, "\(result.output)\(result.errorOutput)")
        #expect(try world.pair.rowCount(1) == 23, "every committed row is on the new writer")
        #expect(world.readOnly == [true, false])
    }

    @Test func promoteWhenCaughtUpIsQuickAndLosesNothing() throws {
        let world = try World("switch")
        try world.startPair()
        var timings: [Duration] = []
        for round in 0..<6 {
            let (old, new) = (round % 2, 1 - round % 2)
            try world.write(old, rows: 100, note: "round \(round)")
            #expect(try world.run(old, "demote").status == 0)
            try world.pair.waitInSync()
            let began = ContinuousClock.now
            #expect(try world.run(new, "promote").status == 0)
            timings.append(began.duration(to: .now))
            #expect(world.readOnly == (new == 0 ? [false, true] : [true, false]))
            #expect(try world.pair.rowCount(new) == 100 * (round + 1))
        }
        print("promote when caught up (agent process included): \(timings)")
    }

    /// lag_source=heartbeat: a pt-heartbeat table (ts as pt-heartbeat --utc writes it) whose
    /// newest row, replicated from the writer, is 30 s old makes the replica lag; a fresh one
    /// makes it healthy; an empty table is an unknown lag (and nobody is promotable).
    @Test func heartbeatLag() throws {
        let world = try World("heartbeat")
        world.extra = ["lag_source": "heartbeat", "heartbeat_table": "lab.heartbeat", "max_lag": "10"]
        try world.pair.sql(0, "CREATE TABLE lab.heartbeat (ts VARCHAR(26) NOT NULL, server_id INT UNSIGNED NOT NULL PRIMARY KEY)")
        try world.pair.waitInSync()
        for index in 0...1 { try world.pair.sql(index, "SET sql_log_bin=0; GRANT SELECT ON lab.heartbeat TO 'agent'@'%'") }
        func beat(secondsAgo: Int) throws {
            try world.pair.sql(0, """
                REPLACE INTO lab.heartbeat VALUES
                  (DATE_FORMAT(UTC_TIMESTAMP(6) - INTERVAL \(secondsAgo) SECOND, '%Y-%m-%dT%H:%i:%s.%f'), 1)
                """)
            try world.pair.waitInSync()
        }
        try beat(secondsAgo: 0)
        try world.startPair()
        try beat(secondsAgo: 30)
        let behind = try observe(world, 1, "heartbeat 30 s old (lag_source=heartbeat, max_lag 10)")
        #expect(behind.status == 190 && behind.exitReason?.contains("replication lag 30 s") == true, "\(behind)")
        #expect(world.attributes[1]["readable"] == "0" && world.attributes[1].promotionScore == nil)
        try beat(secondsAgo: 0)
        #expect(try world.monitor(1).status == 0)
        #expect(world.attributes[1]["readable"] == "1" && world.attributes[1].promotionScore ?? 0 >= 100)
        try world.pair.sql(0, "DELETE FROM lab.heartbeat")
        try world.pair.waitInSync()
        let empty = try observe(world, 1, "heartbeat table empty (lag_source=heartbeat)")
        #expect(empty.status == 190 && empty.exitReason?.contains("no heartbeat row") == true, "\(empty)")
    }

    @Test func secondWriterRefused() throws {
        let world = try World("two")
        try world.startPair()
        // Somebody opens db2 by hand: its monitor reports a writer (Pacemaker then demotes one).
        try world.pair.sql(1, "SET GLOBAL read_only = OFF")
        let row = try observe(world, 1, "read_only OFF on both (by hand)")
        #expect(row.status == 8, "\(row)")
        try world.pair.sql(1, "SET GLOBAL read_only = ON")
        // Promote while the peer is writable: refused.
        let promote = try world.run(1, "promote")
        #expect(promote.status == 1 && promote.exitReason?.contains("writable") == true, "\(promote)")
        #expect(world.readOnly == [false, true])
    }

    @Test func loginAndCapacityFailures() throws {
        let world = try World("login")
        try world.startPair()
        let wrong = try observe(world, 1, "bad credentials", ["credentials_file": world.pair.wrongCredentials])
        #expect(wrong.status == 4 && wrong.exitReason?.contains("1045") == true, "\(wrong)")
        // Full: max_connections taken by the app; an account without CONNECTION ADMIN is refused.
        try world.pair.sql(1, "SET GLOBAL max_connections = 10")
        var holders: [MySQLConnection] = []
        let login = MySQLLogin(defaultsFile: world.pair.appCredentials, connectTimeout: .seconds(2), readTimeout: .seconds(2))
        while holders.count < 20, let connection = try? MySQLConnection(.socket(world.pair.servers[1].socket), login: login) {
            holders.append(connection)
        }
        let full = try observe(world, 1, "server full (1040)", ["credentials_file": world.pair.plainCredentials])
        #expect(full.status == 190 && full.exitReason?.contains("full (1040)") == true, "\(full)")
        let admin = try observe(world, 1, "server full, account with CONNECTION ADMIN")
        #expect(admin.status == 0, "\(admin)")
        holders.removeAll()
        // A credentials file broken after start: stop still makes the writer read-only (as the
        // OS user over the socket) instead of failing and getting the node fenced.
        try writeFile(world.pair.agentCredentials, "[client]\nuser=agent\npassword=changed-behind-our-back\n")
        let stop = try world.run(0, "stop")
        #expect(stop.status == 0 && world.readOnly[0] == true, "\(stop)")
        // mysqld cleanly stopped: 7; demote and stop succeed (nothing can write).
        world.pair.servers[1].kill(signal: SIGTERM)
        #expect(try observe(world, 1, "mysqld stopped (SIGTERM)").status == 7)
        #expect(try world.run(1, "demote").status == 0)
        #expect(try world.run(1, "stop").status == 0)
    }
}
