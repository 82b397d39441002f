import Glibc
import Labs
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
            attributes = try (1...2).map { try RecordedAttributes(directory: "\(pair.directory)/attributes\($0)", node: "db\($0)") }
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

        /// A server's read_only over TCP from its own namespace, as the agent's account (for a
        /// server whose socket is gone).
        func readOnlyOverTCP(_ index: Int) -> Bool? {
            let login = MySQLLogin(defaultsFile: pair.agentCredentials, connectTimeout: .seconds(3), readTimeout: .seconds(3))
            return try? pair.namespaces[index].perform {
                try ServerState.read(MySQLConnection(.tcp(host: "127.0.0.1", port: 3306), login: login)).readOnly
            }
        }

        /// iptables in server `index`'s namespace (rules are gone with the namespace).
        func iptables(_ index: Int, _ arguments: [String]) throws {
            let result = try Command("/usr/sbin/iptables", arguments).run(in: pair.namespaces[index], deadline: .now + .seconds(20))
            guard result.status == 0 else { throw LabError("iptables \(arguments): \(result.errorOutput)") }
        }

        /// A session of the app account that holds `LOCK TABLES lab.t WRITE` until killed (a
        /// backup with --lock-tables, an admin's session), once the lock is held.
        func holdTableLock(_ index: Int) throws -> RunningCommand {
            let holder = try Command("/usr/bin/mariadb", ["--defaults-file=\(pair.appCredentials)", "-S", pair.servers[index].socket, "-e",
                                                          "LOCK TABLES lab.t WRITE; SELECT SLEEP(120)"]).start()
            let holding = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(120)'"
            guard waitUntil(deadline: .now + .seconds(10), { pair.value(index, holding) == "1" }) else {
                throw LabError("the lock holder did not start: \(holder.wait(deadline: .now + .seconds(1)))")
            }
            return holder
        }
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
        // Stop: read_only stays ON, the attributes go but the final position (for the peer's
        // promote); a probe then finds it stopped.
        #expect(try world.run(0, "stop").status == 0)
        let left: [String] = Array(world.attributes[0].values().keys)
        #expect(left == ["mm-final-gtid"], "\(world.attributes[0].values())")
        #expect(world.readOnly[0] == true)
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
        let demoted = try world.run(0, "demote")
        let rows = try world.pair.rowCount(1)
        FaultTable.record("mysql-mm", "mysqld killed (SIGKILL) on the writer",
                          expected: "its monitor 9; demote 0 (proven down); the replica 190, score 800, promoted with every row",
                          observed: "monitor \(down.status), demote \(demoted.status); replica \(row.status), score 800, promote \(promote.status), \(rows) of 50 rows",
                          holds: down.status == 9 && demoted.status == 0 && row.status == 190 && promote.status == 0 && rows == 50)
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
        let detected = began.duration(to: .now)
        #expect(detected < .seconds(10), "bounded by the timeouts")
        // Pacemaker demotes it first: that cannot be proven, so it fails (the node is fenced).
        let demote = try world.run(0, "demote")
        #expect(demote.status == 1, "\(demote)")
        FaultTable.record("mysql-mm", "mysqld frozen (SIGSTOP: accepts, never answers; \(transport))",
                          expected: "monitor 9 within the timeouts (2 s); demote 1 (read-only cannot be proven: fenced)",
                          observed: "monitor \(writer.status) after \(Int(detected / .milliseconds(1))) ms; \(FaultTable.outcome("demote", demote))",
                          holds: writer.status == 9 && detected < .seconds(10) && demote.status == 1)
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

    /// The writer's socket file removed while mysqld runs on (and takes writes over TCP):
    /// monitor finds it over the TCP port it was seen on at start (same data directory) and says
    /// so; demote makes it read-only that way. Calling it "down" made demote succeed with
    /// read_only OFF: a second writer once the peer is promoted.
    @Test func aWriterWhoseSocketIsGoneIsReachedAnotherWay() throws {
        let world = try World("socket")
        try world.startPair()
        unlink(world.pair.servers[0].socket)
        #expect(world.readOnlyOverTCP(0) == false, "the server still takes writes")
        let monitor = try observe(world, 0, "writer's socket file removed, mysqld running")
        #expect(monitor.status == 191, "\(monitor)")
        #expect(monitor.exitReason?.contains("reached mysqld over 127.0.0.1:3306") == true, "\(monitor)")
        let demote = try world.run(0, "demote")
        #expect(demote.status == 0, "\(demote)")
        #expect(world.readOnlyOverTCP(0) == true, "demote made it read-only, over TCP")
        #expect(try world.run(1, "promote").status == 0)
        #expect(world.readOnlyOverTCP(0) == true)
        #expect(world.pair.readOnly(1) == false, "one writer")
        let stop = try world.run(0, "stop")
        #expect(stop.status == 0, "\(stop)")
        FaultTable.record("mysql-mm", "the writer's socket file removed, mysqld running",
                          expected: "monitor 191 'reached over TCP'; demote 0 with read_only ON (over TCP); stop 0",
                          observed: "\(FaultTable.outcome("monitor", monitor)); demote \(demote.status), read_only \(world.readOnlyOverTCP(0) == true ? "ON" : "OFF"); stop \(stop.status)",
                          holds: monitor.status == 191 && demote.status == 0 && world.readOnlyOverTCP(0) == true && stop.status == 0)
    }

    /// Not proven down is not down: the socket gone and the TCP port refusing (a firewall rule)
    /// while mysqld still runs in its data directory: monitor fails (9 for the writer), and
    /// demote and stop fail, so Pacemaker fences the node instead of promoting a second writer.
    @Test func aServerThatRunsButCannotBeReachedIsNotDown() throws {
        let world = try World("unreachable")
        try world.startPair()
        unlink(world.pair.servers[0].socket)
        try world.iptables(0, ["-A", "INPUT", "-p", "tcp", "--dport", "3306", "-j", "REJECT", "--reject-with", "tcp-reset"])
        let monitor = try observe(world, 0, "writer's socket removed and TCP port refusing, mysqld running")
        #expect(monitor.status == 9, "\(monitor)")
        #expect(monitor.exitReason?.contains("not down") == true, "\(monitor)")
        let demote = try world.run(0, "demote")
        #expect(demote.status == 1, "\(demote)")
        #expect(demote.exitReason?.contains("not down but cannot be reached") == true, "\(demote)")
        let stop = try world.run(0, "stop")
        #expect(stop.status == 1, "a stop that cannot prove it is read-only fails: the node is fenced\n\(stop)")
        // Once it is really gone (its last thread has closed the listening socket), the same
        // stop succeeds, and says why.
        world.pair.servers[0].kill(signal: SIGKILL)
        var stopped = try world.run(0, "stop")
        #expect(waitUntil(deadline: .now + .seconds(15)) {
            stopped = (try? world.run(0, "stop")) ?? stopped
            return stopped.status == 0
        }, "\(stopped)")
        FaultTable.record("mysql-mm", "socket removed and TCP port refusing, mysqld running",
                          expected: "monitor 9; demote 1 and stop 1 naming it (not proven down: fenced); stop 0 once it is gone",
                          observed: "monitor \(monitor.status); \(FaultTable.outcome("demote", demote)); stop \(stop.status); after SIGKILL stop \(stopped.status)",
                          holds: monitor.status == 9 && demote.status == 1 && stop.status == 1 && stopped.status == 0)
        #expect(stopped.errorOutput.contains("no mysqld runs in"), "\(stopped)")
    }

    /// A session holding LOCK TABLES … WRITE on the writer: demote does not wait behind it for
    /// the server's lock_wait_timeout (a day) nor fail: it kills the session and makes the server
    /// read-only within seconds. The same for stop.
    @Test func aTableLockDoesNotStopADemote() throws {
        let world = try World("locked")
        try world.startPair()
        let holder = try world.holdTableLock(0)
        let began = ContinuousClock.now
        let demote = try world.run(0, "demote", timeout: .seconds(20))
        let took = began.duration(to: .now)
        print("demote behind a table lock took \(took)")
        #expect(demote.status == 0, "\(demote)")
        #expect(world.pair.readOnly(0) == true)
        #expect(demote.errorOutput.contains("waited for a lock"), "\(demote.errorOutput)")
        let killed = holder.wait(deadline: .now + .seconds(10)).status != 0
        #expect(killed, "the lock holder's session was killed")
        #expect(took < .seconds(15))
        FaultTable.record("mysql-mm", "a session holds LOCK TABLES … WRITE on the writer (the lock that never comes)",
                          expected: "demote 0 within seconds, read_only ON, the holder's session killed",
                          observed: "demote \(demote.status) after \(Int(took / .milliseconds(1))) ms, read_only \(world.pair.readOnly(0) == true ? "ON" : "OFF"), holder \(killed ? "killed" : "LEFT")",
                          holds: demote.status == 0 && world.pair.readOnly(0) == true && killed && took < .seconds(15))
        try #require(try world.run(0, "promote").status == 0)
        let second = try world.holdTableLock(0)
        let stop = try world.run(0, "stop", timeout: .seconds(20))
        #expect(stop.status == 0, "\(stop)")
        #expect(world.pair.readOnly(0) == true)
        #expect(second.wait(deadline: .now + .seconds(10)).status != 0)
    }

    /// The writer cleanly demoted and alive, its SQL port rejected from the replica, three rows
    /// committed on it just before: the replica's promote must not open a writer without them.
    /// The demote published the final position as a node attribute (through the cluster, not the
    /// SQL port); promote waits for it and refuses. Once the port is open again the rows arrive
    /// and promote succeeds. When the old writer's node is gone (attrd forgets its attribute),
    /// promote goes ahead on what was received, as before.
    @Test func promoteWaitsForThePeersFinalPosition() throws {
        let world = try World("final")
        world.extra = ["catchup_timeout": "3s"]
        try world.startPair()
        try world.write(0, rows: 5, note: "replicated")
        try world.pair.waitInSync()
        let blockReplica = ["INPUT", "-p", "tcp", "--dport", "3306", "-s", "198.18.0.2", "-j", "REJECT", "--reject-with", "tcp-reset"]
        try world.iptables(0, ["-A"] + blockReplica)
        // The replica notices at the writer's next replication heartbeat (its ACK is refused).
        var replica = try world.monitor(1)
        let noticed = waitUntil(deadline: .now + .seconds(30)) {
            replica = (try? world.monitor(1)) ?? replica
            return world.attributes[1].promotionScore == 800
        }
        #expect(noticed, "the replica sees its master gone: \(replica)")
        try world.write(0, rows: 3, note: "just before the demote")
        #expect(try world.run(0, "demote").status == 0)
        let final = try #require(world.attributes[0]["mm-final-gtid"], "\(world.attributes[0].values())")
        #expect(final.hasPrefix("gtid:"))
        let refused = try world.run(1, "promote")
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.exitReason?.contains("final position") == true, "\(refused)")
        #expect(world.readOnly == [true, true], "no writer without the peer's last rows")
        #expect(try world.pair.rowCount(1) == 5)
        FaultTable.record("mysql-mm", "the peer's SQL port rejected after a clean demote (3 rows not replicated)",
                          expected: "promote 1 naming the peer's final position; both read-only",
                          observed: "\(FaultTable.outcome("promote", refused)); read_only \(world.readOnly.map { $0 == true ? "ON" : "OFF" })",
                          holds: refused.status == 1 && world.readOnly == [true, true])
        // The port open again: the rows arrive, promote goes through with all of them.
        try world.iptables(0, ["-D"] + blockReplica)
        try world.pair.waitUntilReplicating()
        let promote = try world.run(1, "promote")
        #expect(promote.status == 0, "\(promote)")
        #expect(try world.pair.rowCount(1) == 8)
        #expect(world.attributes[1]["mm-final-gtid"] == nil, "a writer's position is not final")
        // Back the other way, the peer's node then gone: promote on what was received.
        try world.run(1, "demote")
        try world.iptables(1, ["-A", "INPUT", "-p", "tcp", "--dport", "3306", "-s", "198.18.0.1", "-j", "REJECT", "--reject-with", "tcp-reset"])
        world.attributes[1].remove("mm-final-gtid")
        let orphaned = waitUntil(deadline: .now + .seconds(30)) {
            _ = try? world.monitor(0)
            return world.attributes[0].promotionScore == 800
        }
        #expect(orphaned)
        let orphan = try world.run(0, "promote")
        #expect(orphan.status == 0, "a peer whose node left the cluster holds nothing back: \(orphan)")
    }

    /// The account exactly as crm-examples/mysql-lvs-dr.crm creates it (its CREATE USER and
    /// GRANT lines, with the lab's subnet for the example's): start, promote, demote and a
    /// promote of the other node, which logs into its peer over TCP with it.
    @Test func theExamplesAccountPromotes() throws {
        let world = try World("example")
        let example = try #require(readFile(repositoryRoot + "/crm-examples/mysql-lvs-dr.crm"))
        let statements = Self.accountStatements(in: example)
        try #require(statements.count >= 2, "the example's CREATE USER and GRANT lines: \(statements)")
        let password = world.pair.password
        let sql: [String] = statements.map { statement in
            statement.replacing("'...'", with: "'" + password + "'").replacing("192.168.2.", with: "198.18.0.")
        }
        for index in 0...1 { try world.pair.sql(index, "SET sql_log_bin=0;\n" + sql.joined(separator: "\n")) }
        let credentials = world.pair.directory + "/tandem.cnf"
        try writeFile(credentials, "[client]\nuser=tandem\npassword=\(password)\n")
        chmod(credentials, 0o600)
        world.extra = ["credentials_file": credentials]
        try world.startPair()
        #expect(try world.run(0, "demote").status == 0)
        let promote = try world.run(1, "promote")
        #expect(promote.status == 0, "promote checks its peer over TCP with the example's account: \(promote)")
        #expect(world.readOnly == [true, false])
    }

    /// The SQL of the example's account: its commented CREATE USER and GRANT statements for
    /// 'tandem', each up to its semicolon.
    static func accountStatements(in text: String) -> [String] {
        var statements: [String] = []
        var current: String?
        for line in text.split(separator: "\n") {
            let body = String(line.drop { $0 == "#" || $0 == " " })
            if current == nil && (body.hasPrefix("CREATE USER 'tandem'") || body.hasPrefix("GRANT ")) { current = "" }
            guard var statement = current else { continue }
            if !statement.isEmpty { statement += " " }
            statement += body
            if statement.hasSuffix(";") {
                if statement.contains("'tandem'") { statements.append(statement) }
                current = nil
            } else {
                current = statement
            }
        }
        return statements
    }

    /// Depth 10 validate lists the accounts that write through read_only (READ_ONLY ADMIN), or
    /// says it cannot see them; it never fails for it.
    @Test func deepValidateNamesAccountsThatWriteThroughReadOnly() throws {
        let world = try World("barrier")
        var agent = world.pair.agent(0, environment: world.attributes[0].environment)
        agent.environment["OCF_CHECK_LEVEL"] = "10"
        let blind = try agent.run("validate-all", world.pair.parameters(0))
        #expect(blind.status == 0, "\(blind)")
        #expect(blind.errorOutput.contains("cannot see which accounts"), "\(blind)")
        try world.pair.sql(0, """
            SET sql_log_bin=0;
            GRANT SELECT ON mysql.* TO 'agent'@'%';
            CREATE USER 'dba'@'%' IDENTIFIED BY 'x'; GRANT READ_ONLY ADMIN ON *.* TO 'dba'@'%';
            """)
        let seen = try agent.run("validate-all", world.pair.parameters(0))
        #expect(seen.status == 0, "\(seen)")
        let lines: [String] = seen.errorOutput.split(separator: "\n").map(String.init)
        let warning: String = lines.first(where: { $0.contains("write even while read_only is ON") }) ?? ""
        #expect(warning.contains("'dba'@'%'"), "\(seen)")
        #expect(!warning.contains("'agent'@'%'"), "\(seen)")
        #expect(!warning.contains("'repl'@"), "\(seen)")
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
