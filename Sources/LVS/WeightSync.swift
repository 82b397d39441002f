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

extension WeightSync {
    /// The operations that take the kernel from one set of overrides to another, without
    /// reading it: for a checker that knows what it applied last (a thousand servers need no
    /// dump when one changes). A refused operation means the kernel was not as assumed: then a
    /// full `operations(…)` from a fresh read.
    public static func changes(service: IPVSService.Identity, configured: [IPVSDestination],
                               from old: HealthOverrides, to new: HealthOverrides) -> [IPVSOperation] {
        let byKey = Dictionary(configured.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let keys = Set(old.entries.keys).union(new.entries.keys).sorted { $0.description < $1.description }
        var operations: [IPVSOperation] = []
        for key in keys where old.entries[key] != new.entries[key] {
            if var destination = byKey[key] {
                switch (old.entries[key], new.entries[key]) {
                case (_, .removed?):
                    operations.append(.deleteDestination(service, key))
                case (.removed?, let override):
                    if case .weight(let weight)? = override { destination.weight = weight }
                    operations.append(.addDestination(service, destination))
                case (_, .weight(let weight)?):
                    destination.weight = weight
                    operations.append(.updateDestination(service, destination))
                default:
                    operations.append(.updateDestination(service, destination))
                }
            } else {
                switch new.entries[key] {
                case .fallback(let destination)?: operations.append(.addDestination(service, destination))
                default: operations.append(.deleteDestination(service, key))
                }
            }
        }
        return operations
    }
}
