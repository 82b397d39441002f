import Netlink

/// One virtual service as the configuration wants it.
public struct DesiredService: Equatable, Sendable {
    public let service: IPVSService
    public let destinations: [IPVSDestination]

    public init(service: IPVSService, destinations: [IPVSDestination]) {
        self.service = service
        self.destinations = destinations
    }

    /// A service as the kernel had it, as the state to go back to when a change fails half-way.
    public init(snapshot service: IPVSService, destinations: [IPVSDestination]) {
        self.init(service: service, destinations: destinations.map(\.settings))
    }

    /// The real servers the kernel should have once the health checker's overrides apply:
    /// removed ones left out, overridden weights used, fallback servers added.
    public func effectiveDestinations(with overrides: HealthOverrides) -> [IPVSDestination] {
        var result: [IPVSDestination] = []
        for var destination in destinations {
            switch overrides.entries[destination.key] {
            case .removed?: continue
            case .weight(let weight)?: destination.weight = weight
            default: break
            }
            result.append(destination)
        }
        for case .fallback(let destination) in overrides.entries.values where !result.contains(where: { $0.key == destination.key }) {
            result.append(destination)
        }
        return result
    }

    /// What it takes to bring the kernel's service to this state, and what differs.
    /// - Parameters:
    ///   - actual: the service as the kernel has it; `nil` when it is absent.
    ///   - actualDestinations: its real servers as the kernel has them.
    public func plan(actual: IPVSService?, actualDestinations: [IPVSDestination],
                     overrides: HealthOverrides = HealthOverrides()) -> Plan {
        var plan = Plan()
        let wanted = effectiveDestinations(with: overrides)
        guard let actual else {
            plan.differences.append("the service \(service.identity) is missing")
            plan.operations.append(.addService(service))
            plan.operations += wanted.map { .addDestination(service.identity, $0) }
            return plan
        }
        let settings = settingDifferences(actual)
        if !settings.isEmpty {
            plan.differences += settings
            plan.operations.append(.updateService(service))
        }
        let wantedByKey = Dictionary(wanted.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let actualByKey = Dictionary(actualDestinations.map { ($0.key, $0.settings) }, uniquingKeysWith: { first, _ in first })
        for destination in actualDestinations where wantedByKey[destination.key] == nil {
            plan.differences.append("real server \(destination.key) is not configured")
            plan.operations.append(.deleteDestination(service.identity, destination.key))
        }
        for destination in wanted {
            guard let current = actualByKey[destination.key] else {
                plan.differences.append("real server \(destination.key) is missing")
                plan.operations.append(.addDestination(service.identity, destination))
                continue
            }
            let changes = destinationDifferences(current, destination)
            if !changes.isEmpty {
                plan.differences += changes
                plan.operations.append(.updateDestination(service.identity, destination))
            }
        }
        return plan
    }

    func settingDifferences(_ actual: IPVSService) -> [String] {
        var differences: [String] = []
        if actual.scheduler != service.scheduler { differences.append("scheduler is \(actual.scheduler), not \(service.scheduler)") }
        if actual.flags != service.flags { differences.append("flags are \(actual.flags.rawValue), not \(service.flags.rawValue)") }
        if service.flags.contains(.persistent) {
            if actual.timeout != service.timeout { differences.append("persistence is \(actual.timeout) s, not \(service.timeout) s") }
            if actual.netmask != service.netmask { differences.append("the persistence netmask differs") }
        }
        if actual.persistenceEngine != service.persistenceEngine {
            differences.append("persistence engine is \(actual.persistenceEngine ?? "none"), not \(service.persistenceEngine ?? "none")")
        }
        return differences
    }

    func destinationDifferences(_ actual: IPVSDestination, _ wanted: IPVSDestination) -> [String] {
        var differences: [String] = []
        let key = wanted.key
        if actual.forwarding != wanted.forwarding { differences.append("real server \(key) forwards by \(actual.forwarding), not \(wanted.forwarding)") }
        if actual.weight != wanted.weight { differences.append("real server \(key) has weight \(actual.weight), not \(wanted.weight)") }
        if actual.upperThreshold != wanted.upperThreshold || actual.lowerThreshold != wanted.lowerThreshold {
            differences.append("real server \(key) has other connection thresholds")
        }
        if actual.forwarding == .tunnel && actual.tunnel != wanted.tunnel { differences.append("real server \(key) has another tunnel") }
        return differences
    }

    /// Weight 0 for every real server that still has one: no new connections, existing ones go on.
    public func drain(_ actualDestinations: [IPVSDestination]) -> [IPVSOperation] {
        actualDestinations.filter { $0.weight != 0 }.map { destination in
            var quiet = destination.settings
            quiet.weight = 0
            return .updateDestination(service.identity, quiet)
        }
    }
}

/// Operations that bring the kernel to the desired state, and what differed.
public struct Plan: Equatable, Sendable {
    public var operations: [IPVSOperation] = []
    /// One line per difference found; empty when the kernel already matches.
    public var differences: [String] = []
    public var isEmpty: Bool { operations.isEmpty }
    public init() {}
}
