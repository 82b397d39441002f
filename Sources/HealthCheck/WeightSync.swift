import LVS
import Netlink

/// Brings a service's real servers in the kernel to what the checker decided: the configured
/// real servers with the checker's overrides. Touches only the real servers the checker answers
/// for (the configured ones and fallback servers it added), never the service itself (the
/// ipvs agent's), so a real server added by hand stays the ipvs agent's drift to judge.
public enum WeightSync {
    /// - Parameters:
    ///   - configured: the service's real servers as the ipvs agent published them.
    ///   - overrides: what the checker wants now.
    ///   - previous: what the override file said before (a fallback it named and no longer
    ///     wanted is deleted).
    ///   - actual: the real servers the kernel has.
    public static func operations(service: IPVSService.Identity, configured: [IPVSDestination],
                                  overrides: HealthOverrides, previous: HealthOverrides,
                                  actual: [IPVSDestination]) -> [IPVSOperation] {
        var wanted: [IPVSDestination.Key: IPVSDestination] = [:]
        var order: [IPVSDestination.Key] = []
        for var destination in configured {
            order.append(destination.key)
            switch overrides.entries[destination.key] {
            case .removed?: continue
            case .weight(let weight)?: destination.weight = weight
            default: break
            }
            wanted[destination.key] = destination
        }
        for (key, override) in overrides.entries.sorted(by: { $0.key.description < $1.key.description }) {
            if case .fallback(let destination) = override, wanted[key] == nil, !order.contains(key) {
                wanted[key] = destination
                order.append(key)
            }
        }
        for (key, override) in previous.entries.sorted(by: { $0.key.description < $1.key.description }) {
            if case .fallback = override, !order.contains(key) { order.append(key) }
        }
        let current = Dictionary(actual.map { ($0.key, $0.settings) }, uniquingKeysWith: { first, _ in first })
        var operations: [IPVSOperation] = []
        for key in order {
            switch (wanted[key], current[key]) {
            case (let destination?, nil):
                operations.append(.addDestination(service, destination))
            case (let destination?, let existing?) where existing != destination.settings:
                operations.append(.updateDestination(service, destination))
            case (nil, _?):
                operations.append(.deleteDestination(service, key))
            default:
                break
            }
        }
        return operations
    }
}
