import Glibc
import OCF
import OCFTesting
import Testing
@testable import ipvs
@testable import ipvs_sync
@testable import vip

/// The lifecycle every agent passes, on fake kernels and in-process (no root): each action in
/// each state, start killed at every step, concurrent actions on one instance, and 200
/// generated parameter sets. The same harness runs against the real kernel in the
/// integration and IPVS tests.
@Suite struct FakeLifecycleTests {
    @Test func vipMatrix() throws { try matrix(FakeVIPWorld(), LifecycleTable.vip(realServer: false), name: "vip") }
    @Test func vipRealServerMatrix() throws {
        try matrix(FakeVIPWorld(realServer: true), LifecycleTable.vip(realServer: true), name: "vip (lvs_dr_realserver)")
    }
    @Test func ipvsMatrix() throws { try matrix(FakeIPVSWorld(), LifecycleTable.ipvs, name: "ipvs") }
    @Test func ipvsSyncMatrix() throws { try matrix(FakeSyncWorld(), LifecycleTable.ipvsSync, name: "ipvs-sync") }

    @Test func vipKilledStarts() throws { try killedStarts(FakeVIPWorld()) }
    @Test func vipRealServerKilledStarts() throws { try killedStarts(FakeVIPWorld(realServer: true)) }
    @Test func ipvsKilledStarts() throws { try killedStarts(FakeIPVSWorld()) }
    @Test func ipvsSyncKilledStarts() throws { try killedStarts(FakeSyncWorld()) }

    @Test func vipConcurrency() throws { try concurrency(FakeVIPWorld(), reloadable: true) }
    @Test func ipvsConcurrency() throws { try concurrency(FakeIPVSWorld(), reloadable: true) }
    @Test func ipvsSyncConcurrency() throws { try concurrency(FakeSyncWorld(), reloadable: false) }

    @Test func vipFuzz() throws {
        try fuzz(FakeVIPWorld(), base: FakeVIPWorld().parameters, values: FuzzValues.vip,
                 declared: VIPParameters.declarations)
    }
    @Test func ipvsFuzz() throws {
        try fuzz(FakeIPVSWorld(), base: FakeIPVSWorld().parameters, values: FuzzValues.ipvs,
                 declared: IPVSParameters.declarations)
    }
    @Test func ipvsSyncFuzz() throws {
        try fuzz(FakeSyncWorld(), base: FakeSyncWorld().parameters, values: FuzzValues.ipvsSync,
                 declared: SyncParameters.declarations)
    }

    // MARK: Running them

    func matrix<World: LifecycleWorld>(_ world: World, _ table: LifecycleTable, name: String) throws {
        let cells = try LifecycleHarness(world).matrix(table)
        let report = LifecycleHarness<World>.report(agent: name, world: "fake kernel, in-process", cells)
        saveReport(report, as: name + "-fake")
        #expect(cells.count == table.states.count * table.actions.count)
        for cell in cells where !cell.problems.isEmpty {
            Issue.record("\(name), \(cell.state.rawValue), \(cell.action.rawValue): \(cell.problems.joined(separator: "\n"))")
        }
    }

    func killedStarts<World: LifecycleWorld>(_ world: World) throws {
        let (problems, points) = try LifecycleHarness(world).killedStarts()
        print("\(world.agent): start killed at each of \(points) points, then probed and stopped")
        #expect(points >= 2, "a start with no change cannot be \(world.agent)'s")
        for problem in problems { Issue.record("\(problem)") }
    }

    func concurrency<World: LifecycleWorld>(_ world: World, reloadable: Bool) throws {
        for problem in try LifecycleHarness(world).concurrentActions(reloadable: reloadable) { Issue.record("\(problem)") }
    }

    func fuzz<World: LifecycleWorld>(_ world: World, base: [String: String], values: [String: [String]],
                                     declared: [ParameterDeclaration]) throws {
        #expect(Set(values.keys) == Set(declared.map(\.name)), "every declared parameter has values to mix")
        var generator = ParameterFuzzer(seed: 0x7A_4D3E, base: base, valid: values)
        let (problems, refused) = try LifecycleHarness(world).fuzz(&generator, count: 200, declared: Set(declared.map(\.name)))
        print("\(world.agent): 200 generated parameter sets, \(refused) refused by validate-all (seed \(generator.seed))")
        #expect(refused >= 40 && refused <= 190, "a mix of accepted and refused sets: \(refused) of 200 refused")
        for problem in problems.prefix(20) { Issue.record("\(problem)") }
    }
}
