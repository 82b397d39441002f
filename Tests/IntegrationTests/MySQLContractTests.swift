import Glibc
import Labs
import MySQLClient
import MySQLReplication
import OCF
import OCFTesting
import Testing
@testable import mysql_mm

/// mysql-mm's instance on db2 of a real pair, for the lifecycle matrix: drifted = its IO thread
/// stopped by hand, held by another = read_only OFF by an admin, facility missing = mysqld
/// cleanly stopped. reset puts the pair back (server up, both read-only, replication running,
/// no state files) without building it anew.
final class RealMySQLWorld: ExecutableWorld {
    struct Snapshot: Equatable, CustomStringConvertible {
        var readOnly: Bool?
        var files: StateDirectorySnapshot
        var description: String { "read_only \(readOnly.map { $0 ? "ON" : "OFF" } ?? "no answer"), \(files)" }
    }

    let agent = "mysql-mm"
    let pair: MariaDBPair
    let killPlan = KillPlan()
    var parameters: [String: String] { pair.parameters(1) }
    var reloadedParameters: [String: String] { pair.parameters(1, ["max_lag": "30"]) }
    var directory: String { pair.directory + "/state2" }
    /// The operation timeout the actions run with (start waits this long for a stopped mysqld).
    var timeout: Duration = .seconds(8)

    init() throws { pair = try MariaDBPair(name: "life") }

    var runner: AgentRunner { pair.agent(1) }

    func run(_ action: Action, parameters: [String: String], probe: Bool) throws -> ActionResult {
        ActionResult(try runner.run(action.rawValue, parameters, interval: probe ? 0 : 10_000, timeout: timeout))
    }

    func snapshot() throws -> Snapshot { Snapshot(readOnly: pair.readOnly(1), files: StateDirectorySnapshot(directory)) }

    func reset() throws {
        if pair.servers[1].pid == nil { try pair.servers[1].start() }
        for index in 0...1 { try pair.sql(index, "SET GLOBAL read_only = ON") }
        if pair.replicaStatus(1)?.ioRunning != .running { try pair.sql(1, "START SLAVE") }
        try pair.waitUntilReplicating()
        StateDirectorySnapshot(directory + "/nothing").restore(to: directory)
    }

    func drift() throws { try pair.sql(1, "STOP SLAVE IO_THREAD") }
    func isDrifted() throws -> Bool { pair.replicaStatus(1)?.ioRunning == .stopped }
    func holdByAnother() throws { try pair.sql(1, "SET GLOBAL read_only = OFF") }
    func removeFacility() throws { pair.servers[1].kill(signal: SIGTERM) }
    /// The reloadable parameters are read by every action (no running state holds them): what
    /// reload-agent does to the server is start's, stopped replication threads running again.
    func reloadApplied() throws -> Bool { pair.replicaStatus(1)?.ioRunning == .running && readFile(directory + "/mysql-mm-mm") != nil }
    func settle() throws {}
}

@Suite(.serialized, .enabled(if: Facilities.ready))
struct MySQLContractTests {
    @Test func lifecycleMatrix() throws {
        let world = try RealMySQLWorld()
        let table = LifecycleTable.mysqlMM
        let cells = try LifecycleHarness(world).matrix(table)
        saveReport(LifecycleHarness<RealMySQLWorld>.report(agent: "mysql-mm", world: "real MariaDB pair", cells), as: "mysql-mm-real")
        #expect(cells.count == table.states.count * table.actions.count)
        for cell in cells where !cell.problems.isEmpty {
            Issue.record("mysql-mm, \(cell.state.rawValue), \(cell.action.rawValue): \(cell.problems.joined(separator: "\n"))")
        }
    }

    @Test func killedStartsAndConcurrency() throws {
        let world = try RealMySQLWorld()
        let (problems, points) = try LifecycleHarness(world).killedStarts()
        print("mysql-mm: start killed at each of \(points) points, then probed and stopped")
        #expect(points >= 2)
        for problem in problems { Issue.record("\(problem)") }
        for problem in try LifecycleHarness(world).concurrentActions(reloadable: true) { Issue.record("\(problem)") }
    }

    @Test func generatedParameterSets() throws {
        let world = try RealMySQLWorld()
        world.timeout = .seconds(4)
        let values = FuzzValues.mysqlMM.mapValues { list in
            list.map { $0 == "SOCKET" ? world.pair.servers[1].socket : $0 == "CREDENTIALS" ? world.pair.agentCredentials : $0 }
        }
        let declared = MasterMasterParameters.declarations
        #expect(Set(values.keys) == Set(declared.map(\.name)))
        var generator = ParameterFuzzer(seed: 0x6D_6D01, base: world.parameters, valid: values)
        let (problems, refused) = try LifecycleHarness(world).fuzz(&generator, count: 200, declared: Set(declared.map(\.name)))
        print("mysql-mm: 200 generated parameter sets, \(refused) refused by validate-all")
        #expect(refused >= 40 && refused <= 190, "\(refused) of 200 refused")
        for problem in problems.prefix(20) { Issue.record("\(problem)") }
    }

    /// ocf-tester, promotable: probe, start, monitor, promote, demote, stop, twice each where
    /// it repeats them, in db2's namespace.
    @Test func ocfTesterPasses() throws {
        let pair = try MariaDBPair(name: "tester")
        let result = try pair.veth!.run(in: pair.namespaces[1], "/usr/sbin/ocf-tester",
                                      ["-n", "mysql-mm-ocf-tester", "-o", "socket=\(pair.servers[1].socket)",
                                       "-o", "credentials_file=\(pair.agentCredentials)", AgentRunner.path(of: "mysql-mm")],
                                      timeout: .seconds(180))
        #expect(result.output.contains("mysql-mm passed all tests"), "\(result.output)\(result.errorOutput)")
        print("ocf-tester: \(result.output.split(separator: "\n").last ?? "")")
        #expect(pair.readOnly(1) == true, "ocf-tester's stops leave it read-only")
    }

    /// More than 30 malformed values through validate-all and start: each refused with the
    /// right code and an exit reason, and the server's read_only and the state directory as
    /// before.
    @Test func malformedInputChangesNothing() throws {
        let pair = try MariaDBPair(name: "bad")
        let runner = pair.agent(1)
        struct Snapshot: Equatable {
            let readOnly: Bool?
            let ioRunning: ThreadState?
            let files: StateDirectorySnapshot
        }
        let unreadable = pair.directory + "/unreadable.cnf"
        try writeFile(unreadable, "[client]\nuser=agent\n")
        chmod(unreadable, 0o000)
        let harness = MalformedInputHarness(
            base: pair.parameters(1),
            run: { action, parameters in try runner.run(action, parameters, timeout: .seconds(6)) },
            snapshot: { Snapshot(readOnly: pair.readOnly(1), ioRunning: pair.replicaStatus(1)?.ioRunning,
                                 files: StateDirectorySnapshot(runner.stateDirectory)) })
        let declarations = MasterMasterParameters.declarations
        var cases = MalformedInputHarness<Snapshot>.typeViolations(for: declarations)
        cases += [
            MalformedValue(["socket": "mysqld.sock"], [.notConfigured], "relative socket"),
            MalformedValue(["socket": "/run/my\nsql.sock"], [.notConfigured], "newline in socket"),
            MalformedValue(["host": "db1; reboot"], [.notConfigured], "shell metacharacters in host"),
            MalformedValue(["host": "-oProxyCommand=x"], [.notConfigured], "host that reads as an option"),
            MalformedValue(["host": "198.18.0.2"], [.notConfigured], "socket and host both"),
            MalformedValue(["socket": "", "host": String(repeating: "h", count: 300)], [.notConfigured], "300-character host"),
            MalformedValue(["port": "0"], [.notConfigured], "port 0"),
            MalformedValue(["port": "65536"], [.notConfigured], "port over 65535"),
            MalformedValue(["port": "3306/tcp"], [.notConfigured], "port with a protocol"),
            MalformedValue(["credentials_file": "agent.cnf"], [.notConfigured], "relative credentials file"),
            MalformedValue(["credentials_file": "/nonexistent/agent.cnf"], [.notInstalled], "credentials file missing on this node"),
            MalformedValue(["credentials_file": "$(cat /etc/shadow)"], [.notConfigured], "command substitution"),
            MalformedValue(["connect_timeout": "0s"], [.notConfigured], "zero connect timeout"),
            MalformedValue(["connect_timeout": "2h"], [.notConfigured], "connect timeout over a minute"),
            MalformedValue(["read_timeout": "soon"], [.notConfigured], "read timeout as a word"),
            MalformedValue(["read_timeout": "10x"], [.notConfigured], "unknown unit"),
            MalformedValue(["max_lag": "-1"], [.notConfigured], "negative lag"),
            MalformedValue(["max_lag": "ten"], [.notConfigured], "lag as a word"),
            MalformedValue(["max_lag": "86401"], [.notConfigured], "lag over a day"),
            MalformedValue(["lag_source": "binlog"], [.notConfigured], "unknown lag source"),
            MalformedValue(["lag_source": "GTID"], [.notConfigured], "lag source in capitals"),
            MalformedValue(["lag_source": "heartbeat"], [.notConfigured], "heartbeat without a table"),
            MalformedValue(["heartbeat_table": "heartbeat"], [.notConfigured], "table without a database"),
            MalformedValue(["heartbeat_table": "percona.heartbeat; DROP TABLE x"], [.notConfigured], "SQL in the table name"),
            MalformedValue(["heartbeat_table": "a.b.c"], [.notConfigured], "three-part table name"),
            MalformedValue(["reader_attribute": "-readable"], [.notConfigured], "attribute that reads as an option"),
            MalformedValue(["reader_attribute": "read able"], [.notConfigured], "space in the attribute"),
            MalformedValue(["writer_attribute": "readable"], [.notConfigured], "writer attribute equal to the reader's"),
            MalformedValue(["writer_attribute": "w$x"], [.notConfigured], "dollar in the writer attribute"),
            MalformedValue(["kill_connections_on_demote": "maybe"], [.notConfigured], "boolean as maybe"),
            MalformedValue(["catchup_timeout": "2h"], [.notConfigured], "catch-up over an hour"),
            MalformedValue(["catchup_timeout": "-5s"], [.notConfigured], "negative catch-up"),
            MalformedValue(["require_peer_readonly": "2"], [.notConfigured], "boolean as 2"),
        ]
        if geteuid() != 0 {
            cases.append(MalformedValue(["credentials_file": unreadable], [.permissionDenied], "unreadable credentials file"))
        }
        #expect(cases.count >= 30, "\(cases.count)")
        #expect(MalformedInputHarness<Snapshot>.uncovered(by: cases, declarations: declarations).isEmpty)
        for failure in try harness.failures(cases) { Issue.record("\(failure)") }
        // A login that the server refuses: permission denied at start, nothing changed.
        try pair.sql(1, "SET GLOBAL read_only = OFF")
        let before = pair.readOnly(1)
        let wrong = try runner.run("start", pair.parameters(1, ["credentials_file": pair.wrongCredentials]))
        #expect(wrong.exitCode == .permissionDenied && wrong.exitReason?.contains("1045") == true, "\(wrong)")
        #expect(pair.readOnly(1) == before)
    }
}
