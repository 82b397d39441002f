import LVS
import Netlink
import OCF
import OCFNetlink

/// What `ocf:tandem:ipvs` recorded at start in `$HA_RSCTMP/ipvs-<instance>`: the service and
/// namespace a stop must clean up.
public struct ServiceRecord: Equatable, Sendable {
    public static let prefix = "ipvs-"

    public var service: IPVSService.Identity
    /// The namespace file (`/run/netns/NAME`), `nil` for the node's own.
    public var namespace: String?

    public init(service: IPVSService.Identity, namespace: String?) {
        self.service = service
        self.namespace = namespace
    }

    /// Reads a record back with the checks the parameters get: a damaged record names nothing.
    public init?(_ values: [String: String]) {
        guard let text = values["service"], let spec = try? ServiceSpec(parsing: text) else { return nil }
        let namespace = values["netns"].flatMap { $0.isEmpty ? nil : try? NamespaceReference(ocfValue: $0) }
        self.init(service: spec.identity, namespace: namespace?.path)
    }

    public var values: [(String, String)] {
        [("service", ServiceSpec(identity: service).description), ("netns", namespace ?? "")]
    }

    public static func recognises(_ values: [String: String]) -> Bool { values["service"] != nil }

    public static func load(from file: StateFile) throws(StateError) -> ServiceRecord? {
        try file.read().flatMap(ServiceRecord.init)
    }

    public func save(to file: StateFile) throws(StateError) { try file.write(values) }
}
