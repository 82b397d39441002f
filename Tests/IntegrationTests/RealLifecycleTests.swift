import Addresses
import Glibc
import Labs
import Netlink
import OCF
import OCFTesting
import Testing
@testable import ipvs
@testable import ipvs_sync
@testable import vip

/// vip's lifecycle against the real kernel: the executable in a throw-away namespace pair,
/// each cell of the matrix from a fresh pair; start SIGKILLed (by strace) before each of its
/// kernel requests, writes, renames and forks; concurrent actions; generated parameter sets.
final class RealVIPWorld: ExecutableWorld {
    struct Snapshot: Equatable, CustomStringConvertible {
        var addresses: [InterfaceAddress]
        var sysctls: [Int?]
        var files: StateDirectorySnapshot
        /// vip processes (announcers) in the namespace.
        var processes: Int
        var description: String { "addresses \(addresses.map(\.description)), sysctls \(sysctls), \(files), \(processes) vip processes" }
    }

    let agent = "vip"
    let realServer: Bool
    let parameters: [String: String]
    let reloadedParameters: [String: String]
    let directory = "/tmp/tandem-real-vip-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    private(set) var lab: VethLab
    let killPlan = KillPlan()
    static let sysctlNames = ["all/arp_ignore", "all/arp_announce", "lab0/arp_ignore", "lab0/arp_announce"]

    /// - Parameter rounds: announcement rounds at start; more than one runs the background announcer.
    init(realServer: Bool = false, rounds: Int = 1) throws {
        self.realServer = realServer
        if realServer {
            parameters = ["ip": "198.18.0.60", "nic": "lab0", "lvs_dr_realserver": "true"]
            reloadedParameters = parameters.merging(["check_link": "false"]) { $1 }
        } else {
            parameters = ["ip": "198.18.0.50", "nic": "lab0", "arp_count": String(rounds), "arp_interval_ms": "100"]
            reloadedParameters = parameters.merging(["arp_refresh_on_monitor": "true", "check_link": "false"]) { $1 }
        }
        lab = try RealVIPWorld.makeLab()
    }

    var ip: IPAddress { IPAddress(parameters["ip"]!)! }
    var runner: AgentRunner { AgentRunner(agent: "vip", namespace: lab.local, instance: "life", stateDirectory: directory) }

    /// The namespace pair, with a second interface (lab1) beside lab0.
    static func makeLab() throws -> VethLab {
        let lab = try VethLab(localAddresses: ["198.18.0.1/24"], peerAddresses: ["198.18.0.2/24"])
        let lab1 = InterfaceName("lab1")!
        try RouteSocket(in: lab.local).addVethPair(lab1, peer: InterfaceName("lab1p")!)
        try VethLab.configure(lab.local, [lab1, InterfaceName("lab1p")!], addresses: [(lab1, "198.19.0.1/24")])
        return lab
    }

    func snapshot() throws -> Snapshot {
        Snapshot(addresses: try lab.localAddresses(),
                 sysctls: try lab.local.perform { RealVIPWorld.sysctlNames.map { try? Sysctl("net/ipv4/conf/" + $0).read() } },
                 files: StateDirectorySnapshot(directory),
                 processes: AgentRunner.processes(running: AgentRunner.path(of: "vip"), in: lab.local).count)
    }

    func reset() throws {
        for pid in AgentRunner.processes(running: AgentRunner.path(of: "vip"), in: lab.local) { kill(pid, SIGKILL) }
        try settle()
        lab = try RealVIPWorld.makeLab()
        mkdir(directory, 0o755)
        StateDirectorySnapshot(directory + "/nothing-here").restore(to: directory)
    }

    func drift() throws {
        if realServer {
            try lab.local.perform { for scope in ["all", "lab0"] { try Sysctl("net/ipv4/conf/\(scope)/arp_ignore").write(0) } }
        } else {
            try VethLab.remove("198.18.0.50/24", from: lab.localInterface, in: lab.local)
        }
    }

    func holdByAnother() throws {
        if realServer {
            let other = AgentRunner(agent: "vip", namespace: lab.local, instance: "other", stateDirectory: directory)
            let start = try other.run("start", ["ip": "198.18.0.61", "nic": "lab0", "lvs_dr_realserver": "true"])
            guard start.exitCode == .success else { throw LabError("the other real-server instance did not start: \(start)") }
        } else {
            try VethLab.add("198.18.0.50/24", on: InterfaceName("lab1")!, in: lab.local)
        }
    }

    func removeFacility() throws { try RouteSocket(in: lab.local).deleteLink(lab.localInterface) }

    func isDrifted() throws -> Bool {
        if realServer { return try lab.local.perform { try Sysctl("net/ipv4/conf/lab0/arp_ignore").read() } == 0 }
        return try !lab.localAddresses().contains { $0.address == ip }
    }

    /// The reloaded parameters rule the next monitors: with lab0 down it succeeds (check_link
    /// is off) and, in network mode, it announces the address again (seen on the peer).
    func reloadApplied() throws -> Bool {
        let routes = try RouteSocket(in: lab.local)
        try routes.setLink(lab.localInterface, up: false)
        let quiet = try run(.monitor, parameters: reloadedParameters, probe: false)
        try routes.setLink(lab.localInterface, up: true)
        guard quiet.exitCode == .success else { return false }
        if realServer { return true }
        let capture = try AnnouncementCapture(in: lab.peer, interface: lab.peerInterface)
        guard try run(.monitor, parameters: reloadedParameters, probe: false).exitCode == .success else { return false }
        return try !capture.collect(of: ip, count: 1, deadline: .now + .seconds(5)).isEmpty
    }

    /// Waits until no vip process is left in the namespace (a killed start's announcer
    /// exits as soon as it sees its gate close).
    func settle() throws {
        let deadline = ContinuousClock.now + .seconds(10)
        var pause = Duration.milliseconds(1)
        while !AgentRunner.processes(running: AgentRunner.path(of: "vip"), in: lab.local).isEmpty, ContinuousClock.now < deadline {
            sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
    }
}

@Suite(.serialized, .enabled(if: Facilities.ready))
struct RealVIPLifecycleTests {
    @Test func matrix() throws {
        for realServer in [false, true] {
            let world = try RealVIPWorld(realServer: realServer)
            let name = realServer ? "vip (lvs_dr_realserver)" : "vip"
            let cells = try LifecycleHarness(world).matrix(.vip(realServer: realServer))
            saveReport(LifecycleHarness<RealVIPWorld>.report(agent: name, world: "real kernel, namespaces", cells), as: name + "-real")
            for cell in cells where !cell.problems.isEmpty {
                Issue.record("\(name), \(cell.state.rawValue), \(cell.action.rawValue): \(cell.problems.joined(separator: "\n"))")
            }
        }
    }

    /// With a background announcer: killed anywhere in start, then probed and stopped, the
    /// namespace is as clean as before — no address, no state, no announcer process.
    @Test func killedStarts() throws {
        for world in [try RealVIPWorld(rounds: 10), try RealVIPWorld(realServer: true)] {
            let (problems, points) = try LifecycleHarness(world).killedStarts()
            print("vip\(world.realServer ? " (lvs_dr_realserver)" : ""): start SIGKILLed before each of its \(points) kill-point system calls")
            #expect(points >= 10)
            for problem in problems { Issue.record("\(problem)") }
        }
    }

    @Test func concurrentActions() throws {
        for problem in try LifecycleHarness(try RealVIPWorld(rounds: 10)).concurrentActions(reloadable: true) { Issue.record("\(problem)") }
    }

    @Test func generatedParameterSets() throws {
        let world = try RealVIPWorld()
        let values = FuzzValues.vip.mapValues { $0.map { $0 == "eth0" ? "lab0" : $0 == "eth1" ? "lab1" : $0 } }
        var generator = ParameterFuzzer(seed: 0x5EED_0001, base: world.parameters, valid: values)
        let (problems, refused) = try LifecycleHarness(world).fuzz(&generator, count: 200, declared: Set(VIPParameters.declarations.map(\.name)))
        print("vip: 200 generated parameter sets against the real kernel, \(refused) refused by validate-all")
        for problem in problems.prefix(20) { Issue.record("\(problem)") }
    }
}

/// The IPVS agents' "facility missing" row for real: this host's kernel has no IPVS.
final class NoIPVSWorld: ExecutableWorld {
    let agent: String
    let parameters: [String: String]
    var reloadedParameters: [String: String] { parameters }
    let directory = "/tmp/tandem-no-ipvs-life-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    var runner: AgentRunner { AgentRunner(agent: agent, instance: "life", stateDirectory: directory) }
    let killPlan = KillPlan()

    init(agent: String, parameters: [String: String]) {
        self.agent = agent
        self.parameters = parameters
    }

    func snapshot() throws -> StateDirectorySnapshot { StateDirectorySnapshot(directory) }
    func reset() throws { StateDirectorySnapshot(directory + "/nothing-here").restore(to: directory) }
    func drift() throws { throw LabError("no IPVS here") }
    func holdByAnother() throws { throw LabError("no IPVS here") }
    func removeFacility() throws {}
    func isDrifted() throws -> Bool { false }
    func reloadApplied() throws -> Bool { false }
    func settle() throws {}
}

@Suite(.serialized, .enabled(if: Facilities.ready && !IPVSAvailability.here))
struct NoIPVSLifecycleTests {
    @Test func facilityMissingRow() throws {
        let worlds: [(NoIPVSWorld, LifecycleTable)] = [
            (NoIPVSWorld(agent: "ipvs", parameters: ["service": "tcp:192.0.2.10:80", "realservers": "10.0.0.2 gate"]), .ipvs),
            (NoIPVSWorld(agent: "ipvs-sync", parameters: ["interface": "lo"]), .ipvsSync),
            (NoIPVSWorld(agent: "healthcheck", parameters: ["services": "tcp:192.0.2.10:80"]), .healthcheck),
        ]
        for (world, table) in worlds {
            let cells = try LifecycleHarness(world).matrix(table, states: [.facilityMissing])
            saveReport(LifecycleHarness<NoIPVSWorld>.report(agent: world.agent, world: "real kernel without IPVS", cells),
                       as: world.agent + "-no-ipvs")
            #expect(cells.count == table.actions.count)
            for cell in cells where !cell.problems.isEmpty {
                Issue.record("\(world.agent), \(cell.action.rawValue): \(cell.problems.joined(separator: "\n"))")
            }
        }
    }
}
