import PowerFencing

/// A hypervisor in memory for the power sequence: domains with a power switch, and the faults
/// fencing must handle (a domain that vanishes when destroyed, a refused destroy or start).
/// Every call is answered at once: deadlines are the real runs' business.
public final class FakeHypervisor: Hypervisor {
    public let name: String
    public var domainList: [FakeDomain]
    /// Every call, in order (`ping`, `domains`, `domain NAME`, `close`).
    public private(set) var calls: [String] = []
    public private(set) var isClosed = false

    public init(_ name: String, domains: [FakeDomain] = []) {
        self.name = name
        self.domainList = domains
    }

    public func ping() throws(PowerError) { calls.append("ping") }

    public func domains() throws(PowerError) -> [any PowerDomain] {
        calls.append("domains")
        return domainList.filter { !$0.isGone }
    }

    public func domain(_ identifier: String) throws(PowerError) -> (any PowerDomain)? {
        calls.append("domain \(identifier)")
        return domainList.first { !$0.isGone && ($0.name == identifier || $0.uuid == identifier) }
    }

    public func close() {
        calls.append("close")
        isClosed = true
    }
}

public final class FakeDomain: PowerDomain {
    public let name: String
    public let uuid: String
    public var active: Bool
    /// Undefined when destroyed (a transient domain).
    public var transient = false
    /// What destroy and create answer instead of doing it.
    public var destroyRefusal: PowerError?
    public var createRefusal: PowerError?
    /// destroy, create and reset, in order.
    public private(set) var powerCalls: [String] = []
    public private(set) var isGone = false

    public init(_ name: String, active: Bool, uuid: String? = nil) {
        self.name = name
        self.active = active
        self.uuid = uuid ?? "uuid-" + name
    }

    private func present() throws(PowerError) {
        if isGone { throw PowerError(.noDomain, "Domain not found: no domain with matching name '\(name)'") }
    }

    public func isActive() throws(PowerError) -> Bool {
        try present()
        return active
    }

    public func destroy() throws(PowerError) {
        try present()
        powerCalls.append("destroy")
        if let destroyRefusal { throw destroyRefusal }
        guard active else { throw PowerError(.operationInvalid, "Requested operation is not valid: domain is not running") }
        active = false
        if transient { isGone = true }
    }

    public func create() throws(PowerError) {
        try present()
        powerCalls.append("create")
        if let createRefusal { throw createRefusal }
        guard !active else { throw PowerError(.operationInvalid, "Requested operation is not valid: domain is already running") }
        active = true
    }

    public func reset() throws(PowerError) {
        try present()
        powerCalls.append("reset")
        guard active else { throw PowerError(.operationInvalid, "Requested operation is not valid: domain is not running") }
    }
}
