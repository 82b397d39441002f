import OCF
import Synchronization

/// Node attributes in memory, for agents run in-process: what attrd would hold for one node of
/// a cluster whose other nodes share `cluster`. Like attrd it can stop answering (every call
/// fails with a timeout, as with attrd frozen) or be gone (every call fails at once).
public final class MemoryAttributes: NodeAttributeStore {
    /// What every node of one cluster has published: node → name → value.
    public final class Cluster: Sendable {
        let nodes = Mutex<[String: [String: String]]>([:])
        public init() {}
    }

    public enum Behaviour: Sendable { case answering, frozen, gone }

    public let node: String
    public let cluster: Cluster
    private let state = Mutex(Behaviour.answering)

    public init(node: String = "node1", cluster: Cluster = Cluster()) {
        self.node = node
        self.cluster = cluster
    }

    public var behaviour: Behaviour {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }

    /// This node's attributes (the promotion score under `promotion-score`).
    public var values: [String: String] { cluster.nodes.withLock { $0[node] ?? [:] } }
    public subscript(name: String) -> String? { values[name] }
    public var promotionScore: Int? { values["promotion-score"].flatMap { Int($0) } }

    private func answer() throws(OCFError) {
        switch behaviour {
        case .answering: return
        case .frozen: throw OCFError.generic("attrd_updater timed out: attrd does not answer (in memory, frozen)")
        case .gone: throw OCFError.generic("attrd_updater failed: Could not connect to the CIB (in memory, gone)")
        }
    }

    public func update(_ name: String, to value: String, dampen: Duration?) throws(OCFError) {
        try answer()
        cluster.nodes.withLock { $0[node, default: [:]][name] = value }
    }

    public func delete(_ name: String) throws(OCFError) {
        try answer()
        _ = cluster.nodes.withLock { $0[node]?.removeValue(forKey: name) }
    }

    public func values(of name: String) throws(OCFError) -> [String: String] {
        try answer()
        return cluster.nodes.withLock { nodes in nodes.compactMapValues { $0[name] } }
    }

    public func setPromotionScore(_ score: Int) throws(OCFError) { try update("promotion-score", to: String(score), dampen: nil) }
    public func removePromotionScore() throws(OCFError) { try delete("promotion-score") }
}
