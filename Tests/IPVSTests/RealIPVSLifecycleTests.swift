import Addresses
import Glibc
import LVS
import Labs
import Netlink
import OCF
import OCFTesting
import Testing
@testable import ipvs
@testable import ipvs_sync

/// ipvs and ipvs-sync against a real IPVS table: each cell of the matrix from an emptied table
/// in one network namespace (a namespace per cell would leave the kernel tearing down dozens at
/// once, holding RTNL long enough under emulation to stall a sync daemon's stop), start SIGKILLed (by strace) before each of its system calls that could leave
/// something, concurrent actions, generated parameter sets. The "facility missing" row runs on
/// the build host, whose kernel has no IPVS (IntegrationTests).
final class RealIPVSWorld: ExecutableWorld {
    struct Snapshot: Equatable, CustomStringConvertible {
        var services: [IPVSService]
        var destinations: [[IPVSDestination]]
        var daemons: [IPVSSyncDaemon]
        var files: StateDirectorySnapshot
        var description: String {
            "services \(services.map(\.identity.description)), real servers \(destinations.map { $0.map { "\($0.key) w\($0.weight)" } }), "
                + "daemons \(daemons.map { "\($0.state) \($0.syncID)" }), \(files)"
        }
    }

    let agent: String
    let parameters: [String: String]
    let reloadedParameters: [String: String]
    let directory = "/tmp/tandem-real-ipvs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let namespace: NetworkNamespace
    let killPlan = KillPlan()
    let identity = IPVSService.Identity.address(.tcp, IPAddress("192.0.2.10")!, port: 80)

    init(agent: String) throws {
        self.agent = agent
        if agent == "ipvs" {
            parameters = ["service": "tcp:192.0.2.10:80", "scheduler": "wlc", "realservers": "10.0.0.1 masq, 10.0.0.2 masq 2"]
            reloadedParameters = ["service": "tcp:192.0.2.10:80", "scheduler": "rr",
                                  "realservers": "10.0.0.1 masq 5, 10.0.0.2 masq 2, 10.0.0.3 masq"]
        } else {
            parameters = ["interface": "sync0", "syncid": "7"]
            reloadedParameters = parameters
        }
        namespace = try RealIPVSWorld.makeNamespace()
    }

    /// A fresh namespace: lo up, and a sync0 link (a veth pair inside it).
    static func makeNamespace() throws -> NetworkNamespace {
        let namespace = try NetworkNamespace.create()
        try RouteSocket(in: namespace).addVethPair(InterfaceName("sync0")!, peer: InterfaceName("syncp0")!)
        try VethLab.configure(namespace, [InterfaceName("sync0")!, InterfaceName("syncp0")!], addresses: [])
        return namespace
    }

    var runner: AgentRunner { AgentRunner(agent: agent, namespace: namespace, instance: "life", stateDirectory: directory) }
    var table: IPVSSocket { get throws { try IPVSSocket(in: namespace) } }

    func snapshot() throws -> Snapshot {
        let table = try table
        let services = try table.services().sorted { $0.identity.description < $1.identity.description }
        return Snapshot(services: services,
                        destinations: try services.map { try table.destinations(of: $0.identity).map(\.settings).sorted { $0.key.description < $1.key.description } },
                        daemons: try table.daemons().sorted { $0.state.rawValue < $1.state.rawValue },
                        files: StateDirectorySnapshot(directory))
    }

    /// Empties the table: every service and sync daemon goes.
    func reset() throws {
        let table = try table
        let operations = try table.services().map { IPVSOperation.deleteService($0.identity) } + table.daemons().map { .stopDaemon($0.state) }
        if let failure = try table.apply(operations).compactMap({ $0 }).first { throw LabError("emptying the table: \(failure)") }
        mkdir(directory, 0o755)
        StateDirectorySnapshot(directory + "/nothing-here").restore(to: directory)
    }

    func drift() throws {
        let table = try table
        if agent == "ipvs" {
            _ = try table.apply([.deleteDestination(identity, IPVSDestination.Key(address: IPAddress("10.0.0.2")!, port: 80))])
        } else {
            _ = try table.apply(try table.daemons().map { .stopDaemon($0.state) })
        }
    }

    func holdByAnother() throws {
        let table = try table
        if agent == "ipvs" {
            _ = try table.apply([.addService(IPVSService(identity: identity, scheduler: "rr")),
                                 .addDestination(identity, IPVSDestination(address: IPAddress("10.0.0.9")!, port: 80, forwarding: .directRouting))])
        } else {
            _ = try table.apply([.startDaemon(IPVSSyncDaemon(state: .backup, interface: "sync0", syncID: 99))])
        }
    }

    func removeFacility() throws { throw LabError("IPVS cannot be taken away here: that row runs on a host without it") }

    func isDrifted() throws -> Bool {
        let table = try table
        if agent == "ipvs" { return try !table.destinations(of: identity).contains { $0.address == IPAddress("10.0.0.2") } }
        return try !table.daemons().contains { $0.syncID == 7 }
    }

    func reloadApplied() throws -> Bool {
        let table = try table
        guard let service = try table.service(identity) else { return false }
        let weights = Dictionary(uniqueKeysWithValues: try table.destinations(of: identity).map { ($0.address.description, $0.weight) })
        return service.scheduler == "rr" && weights == ["10.0.0.1": 5, "10.0.0.2": 2, "10.0.0.3": 1]
    }

    func settle() throws {}
}

@Suite(.serialized, .enabled(if: IPVSFacility.available))
struct RealIPVSLifecycleTests {
    static let worlds: [(String, LifecycleTable)] = [("ipvs", .ipvs), ("ipvs-sync", .ipvsSync)]

    @Test func matrix() throws {
        for (agent, table) in Self.worlds {
            let world = try RealIPVSWorld(agent: agent)
            let states = table.states.filter { $0 != .facilityMissing }
            let cells = try LifecycleHarness(world).matrix(table, states: states)
            saveReport(LifecycleHarness<RealIPVSWorld>.report(agent: agent, world: "real IPVS kernel, namespaces", cells), as: agent + "-real")
            #expect(cells.count == states.count * table.actions.count)
            for cell in cells where !cell.problems.isEmpty {
                Issue.record("\(agent), \(cell.state.rawValue), \(cell.action.rawValue): \(cell.problems.joined(separator: "\n"))")
            }
        }
    }

    @Test func killedStarts() throws {
        for (agent, _) in Self.worlds {
            let (problems, points) = try LifecycleHarness(try RealIPVSWorld(agent: agent)).killedStarts()
            print("\(agent): start SIGKILLed before each of its \(points) kill-point system calls")
            #expect(points >= 5)
            for problem in problems { Issue.record("\(problem)") }
        }
    }

    @Test func concurrentActions() throws {
        for (agent, _) in Self.worlds {
            for problem in try LifecycleHarness(try RealIPVSWorld(agent: agent)).concurrentActions(reloadable: agent == "ipvs") {
                Issue.record("\(agent): \(problem)")
            }
        }
    }

    @Test func generatedParameterSets() throws {
        let sets: [(String, [String: [String]], [ParameterDeclaration])] = [
            ("ipvs", FuzzValues.ipvs, IPVSParameters.declarations),
            ("ipvs-sync", FuzzValues.ipvsSync, SyncParameters.declarations),
        ]
        for (agent, values, declarations) in sets {
            let world = try RealIPVSWorld(agent: agent)
            // Namespaces of this guest are left alone: only missing ones are named.
            let local = values.mapValues { $0.filter { !$0.hasPrefix("/proc/") } }
            var generator = ParameterFuzzer(seed: 0x5EED_0002, base: world.parameters, valid: local)
            let (problems, refused) = try LifecycleHarness(world).fuzz(&generator, count: 200, declared: Set(declarations.map(\.name)))
            print("\(agent): 200 generated parameter sets against a real IPVS table, \(refused) refused by validate-all")
            for problem in problems.prefix(20) { Issue.record("\(agent): \(problem)") }
        }
    }
}
