import Addresses
import Glibc
import HealthCheck
import LVS
import Netlink
import OCF
import OCFTesting
import Testing

/// ocf:tandem:healthcheck through the lifecycle matrix against a real IPVS table: an ipvs
/// service with two real servers in one namespace, one of them named in the maintenance
/// directory, so a running checker always holds one override (weight 0) that stop must give back.
final class RealHealthCheckWorld: ExecutableWorld {
    struct Snapshot: Equatable, CustomStringConvertible {
        var weights: [String]
        var daemons: Int
        /// The state files; the daemon's status file by its verdicts only (its heartbeat and
        /// latencies change every second).
        var files: [String: String]
        var description: String { "weights \(weights), \(daemons) daemon(s), \(files.sorted { $0.key < $1.key })" }
    }

    let agent = "healthcheck"
    let directory = "/tmp/tandem-real-hc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    var maintenance: String { directory + "-maintenance" }
    let namespace: NetworkNamespace
    let killPlan = KillPlan()
    let identity = IPVSService.Identity.address(.tcp, IPAddress("192.0.2.10")!, port: 80)
    let ipvsParameters = ["service": "tcp:192.0.2.10:80", "realservers": "10.0.0.1 masq 3, 10.0.0.2 masq 2"]
    var parameters: [String: String] {
        ["services": "tcp:192.0.2.10:80", "check": "none", "interval": "200ms", "maintenance_dir": maintenance]
    }
    var reloadedParameters: [String: String] { parameters.merging(["on_failure": "remove"]) { $1 } }

    init() throws {
        // lo up and a link: IPVS takes a masq real server only when a route could reach it.
        namespace = try RealIPVSWorld.makeNamespace()
        mkdir(maintenance, 0o755)
        try writeFile(maintenance + "/10.0.0.2", "")
    }

    var runner: AgentRunner {
        var runner = AgentRunner(agent: agent, namespace: namespace, instance: "life", stateDirectory: directory)
        runner.environment["TANDEM_LIBEXEC_DIR"] = AgentRunner.agentDirectory
        return runner
    }
    var ipvs: AgentRunner { AgentRunner(agent: "ipvs", namespace: namespace, instance: "svc", stateDirectory: directory) }
    var daemonExecutable: String { AgentRunner.agentDirectory + "/healthcheckd" }

    func daemons() -> [ProcessIdentity] {
        Background.processes(running: daemonExecutable,
                             withArgument: DaemonFiles(directory: directory, instance: "life").configuration.path)
            .filter(\.isRunning)
    }

    func snapshot() throws -> Snapshot {
        let table = try IPVSSocket(in: namespace)
        let weights = try table.destinations(of: identity).map { "\($0.key)=\($0.weight)" }.sorted()
        var files = StateDirectorySnapshot(directory).files
        for name in files.keys where name.hasSuffix(".status") {
            let status = try DaemonStatus.load(from: StateFile(path: directory + "/" + name))
            files[name] = status.map { status in
                status.targets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.health) \($0.value.inMaintenance)" }.joined(separator: ", ")
            }
        }
        return Snapshot(weights: weights, daemons: daemons().count, files: files)
    }

    /// Every checker gone, the service back as the ipvs agent configures it, no files but its.
    func reset() throws {
        for daemon in daemons() { daemon.terminate(by: .now + .seconds(5)) }
        for other in Background.processes(running: daemonExecutable, withArgument: directory + "/healthcheck-other.conf") {
            other.terminate(by: .now + .seconds(5))
        }
        mkdir(directory, 0o755)
        StateDirectorySnapshot(directory + "/nothing-here").restore(to: directory)
        let table = try IPVSSocket(in: namespace)
        _ = try table.apply(try table.services().map { .deleteService($0.identity) })
        let start = try ipvs.run("start", ipvsParameters)
        guard start.exitCode == .success else { throw LabError("ipvs start: \(start)") }
    }

    /// The daemon killed behind the agent's back.
    func drift() throws {
        for daemon in daemons() { kill(daemon.pid, SIGKILL) }
        try settle()
    }

    /// Another healthcheck resource checks the same service.
    func holdByAnother() throws {
        var other = AgentRunner(agent: agent, namespace: namespace, instance: "other", stateDirectory: directory)
        other.environment["TANDEM_LIBEXEC_DIR"] = AgentRunner.agentDirectory
        let start = try other.run("start", ["services": "tcp:192.0.2.10:80", "check": "none"])
        guard start.exitCode == .success else { throw LabError("the other checker did not start: \(start)") }
    }

    func removeFacility() throws { throw LabError("IPVS cannot be taken away here: that row runs on a host without it") }

    func isDrifted() throws -> Bool { daemons().isEmpty }

    func reloadApplied() throws -> Bool {
        try IPVSSocket(in: namespace).destinations(of: identity).map(\.key.address) == [IPAddress("10.0.0.1")!]
    }

    /// Killed daemons gone from the process table.
    func settle() throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if Background.processes(running: daemonExecutable, withArgument: DaemonFiles(directory: directory, instance: "life").configuration.path)
                .allSatisfy(\.isDone) { return }
            sleep(for: .milliseconds(10))
        }
    }
}

@Suite(.serialized, .enabled(if: IPVSFacility.available))
struct RealHealthCheckLifecycleTests {
    @Test func matrix() throws {
        let world = try RealHealthCheckWorld()
        let table = LifecycleTable.healthcheck
        let states = table.states.filter { $0 != .facilityMissing }
        let cells = try LifecycleHarness(world).matrix(table, states: states)
        saveReport(LifecycleHarness<RealHealthCheckWorld>.report(agent: "healthcheck", world: "real IPVS kernel, namespace", cells),
                   as: "healthcheck-real")
        #expect(cells.count == states.count * table.actions.count)
        for cell in cells where !cell.problems.isEmpty {
            Issue.record("healthcheck, \(cell.state.rawValue), \(cell.action.rawValue): \(cell.problems.joined(separator: "\n"))")
        }
    }

    @Test func killedStarts() throws {
        let (problems, points) = try LifecycleHarness(try RealHealthCheckWorld()).killedStarts()
        print("healthcheck: start SIGKILLed before each of its \(points) kill-point system calls")
        #expect(points >= 5)
        for problem in problems { Issue.record("\(problem)") }
    }

    @Test func concurrentActions() throws {
        for problem in try LifecycleHarness(try RealHealthCheckWorld()).concurrentActions(reloadable: true) {
            Issue.record("healthcheck: \(problem)")
        }
    }

    @Test func generatedParameterSets() throws {
        let world = try RealHealthCheckWorld()
        var values = FuzzValues.healthcheck
        values["maintenance_dir"] = [world.maintenance, "/nonexistent"]
        var generator = ParameterFuzzer(seed: 0x5EED_0003, base: world.parameters, valid: values)
        let (problems, refused) = try LifecycleHarness(world).fuzz(&generator, count: 100,
                                                                   declared: Set(HealthCheckParameters.declarations.map(\.name)))
        print("healthcheck: 100 generated parameter sets against a real IPVS table, \(refused) refused by validate-all")
        for problem in problems.prefix(20) { Issue.record("healthcheck: \(problem)") }
    }
}
