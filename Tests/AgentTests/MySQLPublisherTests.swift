import MySQLClient
import MySQLReplication
import OCF
import OCFTesting
import Testing
@testable import mysql_mm

/// What mysql-mm tells the cluster through node attributes, in-process through the store seam:
/// readable, writer and the promotion score, and the final GTID position a demoted or stopped
/// node leaves for the peer that takes the writes (it travels through attrd, not the SQL port).
@Suite struct MySQLPublisherTests {
    static func context(on node: String, store: MemoryAttributes, instance: String = "mm:0") -> AgentContext {
        let environment = Environment(["OCF_RESOURCE_INSTANCE": instance, "HA_RSCTMP": temporaryStateDirectory("mm-publisher"),
                                       "OCF_RESKEY_CRM_meta_promoted_max": "1", "OCF_RESKEY_CRM_meta_on_node": node])
        let log = Log(agent: "mysql-mm", environment: environment, sink: .memory)
        return AgentContext(action: .monitor, environment: environment, log: log, attributes: { _ in store })
    }

    static let record = Record(endpoint: .socket("/run/mysqld/mysqld.sock"), credentialsFile: nil, readerAttribute: "mm-readable",
                               writerAttribute: "mm-writer", promoted: false)

    @Test func aPeersFinalPositionReachesThePromotingNodeButNotItsOwn() throws {
        let cluster = MemoryAttributes.Cluster()
        let db1 = MemoryAttributes(node: "db1", cluster: cluster), db2 = MemoryAttributes(node: "db2", cluster: cluster)
        Publisher(context: Self.context(on: "db1", store: db1)).publishFinal(GTIDPosition("0-1-42"))
        Publisher(context: Self.context(on: "db2", store: db2)).publishFinal(GTIDPosition("0-1-40"))
        let seenByDB2 = try Publisher(context: Self.context(on: "db2", store: db2)).peersFinal()
        #expect(seenByDB2 == ["db1": GTIDPosition("0-1-42")!], "\(seenByDB2)")
        // Promoted, db2's own position is no longer final; db1's stays for whoever comes next.
        Publisher(context: Self.context(on: "db2", store: db2)).removeFinal()
        #expect(try db1.values(of: "mm-final-gtid") == ["db1": "gtid:0-0-42"], "the server ID is not kept")
    }

    @Test func anAttrdThatCannotBeAskedFailsThePromoteNotSilently() {
        let store = MemoryAttributes(node: "db2")
        store.behaviour = .frozen
        #expect(throws: OCFError.self) { try Publisher(context: Self.context(on: "db2", store: store)).peersFinal() }
    }

    @Test func readableWriterAndScoreFollowTheVerdictAndGoAtStop() {
        let store = MemoryAttributes(node: "db1")
        let publisher = Publisher(context: Self.context(on: "db1", store: store))
        publisher.publish(notRunning: Self.record)
        #expect(store["mm-readable"] == "0" && store["mm-writer"] == "0" && store.promotionScore == nil, "\(store.values)")
        publisher.remove(Self.record)
        #expect(store.values.isEmpty, "\(store.values)")
    }

    @Test func outsideAPromotableCloneNothingIsPublished() {
        let store = MemoryAttributes(node: "db1")
        let environment = Environment(["OCF_RESOURCE_INSTANCE": "mm", "HA_RSCTMP": temporaryStateDirectory("mm-publisher")])
        let context = AgentContext(action: .monitor, environment: environment, log: Log(agent: "mysql-mm", environment: environment, sink: .memory),
                                   attributes: { _ in store })
        Publisher(context: context).publishFinal(GTIDPosition("0-1-1"))
        Publisher(context: context).publish(notRunning: Self.record)
        #expect(store.values.isEmpty, "\(store.values)")
    }
}
