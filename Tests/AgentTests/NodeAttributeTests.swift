import OCF
import OCFTesting
import Testing
@testable import ipvs_sync

/// Node attributes through the store seam: an agent run in-process publishes into memory what it
/// would give attrd, and a frozen or absent attrd never fails an action that only publishes.
@Suite struct NodeAttributeTests {
    @Test func ipvsSyncScoresItselfWhileStartedAndRemovesTheScoreAtStop() throws {
        let world = FakeSyncWorld()
        let attributes = MemoryAttributes(node: "node1")
        let start = world.runner.run(.start, parameters: world.parameters, host: world.kernel, attributes: attributes)
        #expect(start.status == 0, "\(start)")
        #expect(attributes.promotionScore == SyncDaemonAgent.promotionScore, "\(attributes.values)")
        let stop = world.runner.run(.stop, parameters: world.parameters, host: world.kernel, attributes: attributes)
        #expect(stop.status == 0, "\(stop)")
        #expect(attributes.promotionScore == nil, "\(attributes.values)")
    }

    @Test(arguments: [MemoryAttributes.Behaviour.frozen, .gone])
    func anUnansweringAttrdCostsAWarningNotTheAction(_ behaviour: MemoryAttributes.Behaviour) throws {
        let world = FakeSyncWorld()
        let attributes = MemoryAttributes(node: "node1")
        attributes.behaviour = behaviour
        let start = world.runner.run(.start, parameters: world.parameters, host: world.kernel, attributes: attributes)
        #expect(start.status == 0, "\(start)")
        #expect(start.log.contains("cannot set the promotion score"), "\(start.log)")
        let stop = world.runner.run(.stop, parameters: world.parameters, host: world.kernel, attributes: attributes)
        #expect(stop.status == 0, "\(stop)")
    }

    @Test func theNodesOfOneClusterSeeEachOthersValues() throws {
        let cluster = MemoryAttributes.Cluster()
        let one = MemoryAttributes(node: "db1", cluster: cluster), two = MemoryAttributes(node: "db2", cluster: cluster)
        try one.update("mm-final-gtid", to: "gtid:0-1-4")
        try two.update("mm-final-gtid", to: "gtid:0-1-3")
        #expect(try one.values(of: "mm-final-gtid") == ["db1": "gtid:0-1-4", "db2": "gtid:0-1-3"])
        try one.delete("mm-final-gtid")
        #expect(try two.values(of: "mm-final-gtid") == ["db2": "gtid:0-1-3"])
    }
}
