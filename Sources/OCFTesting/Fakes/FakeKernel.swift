import Addresses
import Glibc
import Netlink
import Synchronization

/// A kernel in memory, for running agents in-process without root: network namespaces with
/// links, addresses (connected routes follow them, IPv6 duplicate address detection included)
/// and IPVS tables, answering as the real kernel does (errno for errno where agents look).
///
/// Every change an agent makes goes through `steps`, so a test can kill the agent at any of
/// them. Tests set the scene and look at the result with the `…ByHand` and observation
/// methods, which are not counted. Thread-safe: concurrent actions share one kernel.
public final class FakeKernel: Kernel, @unchecked Sendable {
    /// One network namespace.
    public struct Namespace: Equatable, Sendable {
        public var links: [Link] = []
        public var addresses: [InterfaceAddress] = []
        /// Routes besides the connected ones that addresses imply.
        public var routes: [Route] = []
        /// The IPVS table; `nil` when the kernel has no IPVS.
        public var ipvs: IPVSTableState?
    }

    /// An IPVS table.
    public struct IPVSTableState: Equatable, Sendable {
        public var services: [IPVSService] = []
        public var destinations: [IPVSService.Identity: [IPVSDestination]] = [:]
        public var daemons: [IPVSSyncDaemon] = []
        public init() {}
    }

    /// The whole kernel: the process's own namespace (key `nil`) and named ones by path.
    public struct State: Equatable, Sendable {
        public var namespaces: [String?: Namespace]
        /// What the next duplicate address detection ends with.
        public var duplicateAddressDetection: DuplicateAddressDetection = .completed
        /// Requests refused on purpose: an operation's description → errno.
        public var refusals: [String: Int32] = [:]
        /// After this many more IPVS operations, a batch fails in transport (nothing answered).
        public var transportFailureAfter: Int?
    }

    public let steps: StepCounter
    private let state: Mutex<State>

    /// A kernel with lo (index 1) in its own namespace, and IPVS when `ipvs` is true.
    public init(ipvs: Bool = true, steps: StepCounter = StepCounter()) {
        self.steps = steps
        state = Mutex(State(namespaces: [nil: FakeKernel.newNamespace(ipvs: ipvs)]))
    }

    static func newNamespace(ipvs: Bool) -> Namespace {
        var namespace = Namespace()
        namespace.links = [Link(index: Link.loopbackIndex, name: "lo", flags: [.up, .running, .loopback], operationalState: .unknown,
                                hardwareType: 772, hardwareAddress: [], mtu: 65536)]
        namespace.ipvs = ipvs ? IPVSTableState() : nil
        return namespace
    }

    // MARK: Scene setting and observation (not counted as an agent's changes)

    /// Everything, to compare or restore.
    public var snapshot: State { state.withLock { $0 } }
    public func restore(_ snapshot: State) { state.withLock { $0 = snapshot } }

    /// Changes the kernel by hand, as an admin or a test would.
    public func byHand<T>(_ body: (inout State) throws -> T) rethrows -> T { try state.withLock { try body(&$0) } }

    /// Adds a namespace at `path` (as `ip netns add` would).
    public func addNamespace(_ path: String, ipvs: Bool = true) {
        state.withLock { $0.namespaces[path] = FakeKernel.newNamespace(ipvs: ipvs) }
    }

    /// Adds an Ethernet link; returns it.
    @discardableResult
    public func addLink(_ name: String, in namespace: String? = nil, up: Bool = true) -> Link {
        state.withLock { state in
            var space = state.namespaces[namespace] ?? FakeKernel.newNamespace(ipvs: false)
            let index = (space.links.map(\.index).max() ?? 1) + 1
            let link = Link(index: index, name: name, flags: up ? [.up, .running, .broadcast, .lowerUp] : [.broadcast],
                            operationalState: up ? .up : .down, hardwareType: 1,
                            hardwareAddress: [0x02, 0, 0, 0, 0, UInt8(truncatingIfNeeded: index)], mtu: 1500)
            space.links.append(link)
            state.namespaces[namespace] = space
            return link
        }
    }

    /// Sets a link up (with carrier) or down.
    public func setLink(_ name: String, up: Bool, in namespace: String? = nil) {
        state.withLock { state in
            guard var space = state.namespaces[namespace], let position = space.links.firstIndex(where: { $0.name == name }) else { return }
            let link = space.links[position]
            space.links[position] = Link(index: link.index, name: link.name,
                                         flags: up ? link.flags.union([.up, .running, .lowerUp]) : link.flags.subtracting([.up, .running, .lowerUp]),
                                         operationalState: up ? .up : .down, hardwareType: link.hardwareType,
                                         hardwareAddress: link.hardwareAddress, mtu: link.mtu)
            state.namespaces[namespace] = space
        }
    }

    /// Removes a link and its addresses.
    public func removeLink(_ name: String, in namespace: String? = nil) {
        state.withLock { state in
            guard var space = state.namespaces[namespace], let link = space.links.first(where: { $0.name == name }) else { return }
            space.links.removeAll { $0.index == link.index }
            space.addresses.removeAll { $0.interfaceIndex == link.index }
            state.namespaces[namespace] = space
        }
    }

    /// Adds `address/prefix` to a link by hand.
    public func addAddress(_ text: String, on name: String, in namespace: String? = nil, flags: AddressFlags = []) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = IPAddress(parts[0]), let prefix = Int(parts[1]) else {
            preconditionFailure("not an address with a prefix: \(text)")
        }
        state.withLock { state in
            guard var space = state.namespaces[namespace], let link = space.links.first(where: { $0.name == name }) else { return }
            space.addresses.append(InterfaceAddress(interfaceIndex: link.index, address: address, prefixLength: prefix, flags: flags))
            state.namespaces[namespace] = space
        }
    }

    /// Changes an IPVS table by hand (as ipvsadm would); returns each operation's errno, or `nil`.
    @discardableResult
    public func ipvsByHand(_ operations: [IPVSOperation], in namespace: String? = nil) -> [Int32?] {
        state.withLock { state in
            guard var table = state.namespaces[namespace]?.ipvs else { return operations.map { _ in ENOENT } }
            let outcomes = operations.map { FakeIPVSTable.apply($0, to: &table) }
            state.namespaces[namespace]?.ipvs = table
            return outcomes
        }
    }

    /// The addresses of a namespace.
    public func addresses(in namespace: String? = nil) -> [InterfaceAddress] {
        state.withLock { $0.namespaces[namespace]?.addresses ?? [] }
    }

    /// The IPVS table of a namespace.
    public func ipvsState(in namespace: String? = nil) -> IPVSTableState? {
        state.withLock { $0.namespaces[namespace]?.ipvs }
    }

    // MARK: Kernel

    public func routes(in namespace: String?) throws(NetlinkError) -> any AddressTable {
        try steps.alive()
        try requireNamespace(namespace)
        return FakeAddressTable(kernel: self, namespace: namespace)
    }

    public func ipvs(in namespace: String?) throws(NetlinkError) -> any IPVSTable {
        try steps.alive()
        try requireNamespace(namespace)
        guard state.withLock({ $0.namespaces[namespace]?.ipvs != nil }) else {
            throw NetlinkError(function: "genl_ctrl_resolve(IPVS)", kind: .notFound,
                               message: "the kernel has no generic-netlink family IPVS (module ip_vs)")
        }
        return FakeIPVSTable(kernel: self, namespace: namespace)
    }

    private func requireNamespace(_ namespace: String?) throws(NetlinkError) {
        guard state.withLock({ $0.namespaces[namespace] != nil }) else {
            throw NetlinkError(function: "open(\(namespace ?? ""))", kind: .noNamespace, message: "No such file or directory")
        }
    }

    /// Reads a namespace (a dead agent reads nothing).
    func read<T>(_ namespace: String?, _ body: (Namespace) -> T) throws(NetlinkError) -> T {
        try steps.alive()
        return state.withLock { body($0.namespaces[namespace] ?? Namespace()) }
    }

    /// Makes one counted change to a namespace.
    func change<T>(_ namespace: String?, _ body: (inout Namespace, inout State) throws -> T) throws(NetlinkError) -> T {
        try steps.change {
            try state.withLock { (state: inout State) throws -> T in
                var space = state.namespaces[namespace] ?? Namespace()
                let result = try body(&space, &state)
                state.namespaces[namespace] = space
                return result
            }
        }
    }
}

/// A namespace's addresses, links and routes.
final class FakeAddressTable: AddressTable {
    let kernel: FakeKernel
    let namespace: String?

    init(kernel: FakeKernel, namespace: String?) {
        self.kernel = kernel
        self.namespace = namespace
    }

    func addresses() throws(NetlinkError) -> [InterfaceAddress] { try kernel.read(namespace) { $0.addresses } }

    func add(_ request: AddressRequest) throws(NetlinkError) {
        try kernel.change(namespace) { space, state in
            guard space.links.contains(where: { $0.index == request.interfaceIndex }) else {
                throw NetlinkError(function: "rtnl_addr_add", errno: ENODEV)
            }
            if let refusal = state.refusals["add \(request.address)"] { throw NetlinkError(function: "rtnl_addr_add", errno: refusal) }
            if space.addresses.contains(where: { $0.address == request.address && $0.interfaceIndex == request.interfaceIndex }) {
                throw NetlinkError(function: "rtnl_addr_add", errno: EEXIST)
            }
            var flags = request.flags
            if request.address.family == .inet6 && !flags.contains(.noDAD) { flags.insert(.tentative) }
            if request.preferredLifetime == 0 { flags.insert(.deprecated) }
            let label = request.label?.rawValue
                ?? (request.address.family == .inet ? space.links.first { $0.index == request.interfaceIndex }?.name : nil)
            space.addresses.append(InterfaceAddress(interfaceIndex: request.interfaceIndex, address: request.address,
                                                    prefixLength: request.prefixLength, label: label, broadcast: request.broadcast,
                                                    flags: flags, preferredLifetime: request.preferredLifetime ?? InterfaceAddress.forever))
        }
    }

    func deleteAddress(_ address: IPAddress, prefixLength: Int, interfaceIndex: Int32) throws(NetlinkError) {
        try kernel.change(namespace) { space, _ in
            guard let position = space.addresses.firstIndex(where: {
                $0.address == address && $0.prefixLength == prefixLength && $0.interfaceIndex == interfaceIndex
            }) else { throw NetlinkError(function: "rtnl_addr_delete", errno: EADDRNOTAVAIL) }
            space.addresses.remove(at: position)
        }
    }

    func link(named name: InterfaceName) throws(NetlinkError) -> Link? {
        try kernel.read(namespace) { space in space.links.first { $0.name == name.rawValue } }
    }

    func link(index: Int32) throws(NetlinkError) -> Link? {
        try kernel.read(namespace) { space in space.links.first { $0.index == index } }
    }

    /// Longest prefix match over the configured routes and the connected routes of the
    /// addresses (as the kernel adds them, unless noprefixroute).
    func route(to destination: IPAddress) throws(NetlinkError) -> Route? {
        try kernel.read(namespace) { space in
            var candidates = space.routes
            for held in space.addresses where held.address.family == destination.family && held.interfaceIndex != Link.loopbackIndex
                && !held.flags.contains(.noPrefixRoute) && held.prefixLength < held.address.maximumPrefixLength {
                candidates.append(Route(destination: held.address, prefixLength: held.prefixLength, interfaceIndex: held.interfaceIndex))
            }
            return candidates
                .filter { $0.destination.covers(destination, prefixLength: $0.prefixLength) }
                .max { $0.prefixLength < $1.prefixLength }
                .map { Route(destination: $0.destination, prefixLength: $0.prefixLength, interfaceIndex: $0.interfaceIndex,
                             gateway: $0.gateway, kind: $0.kind, table: $0.table) }
        }
    }

    /// Detection ends at once as the kernel state says: completed (the tentative flag goes),
    /// failed (DADFAILED is set), or the link is down.
    func waitForDuplicateAddressDetection(of address: IPAddress, interfaceIndex: Int32,
                                          deadline: ContinuousClock.Instant) throws(NetlinkError) -> DuplicateAddressDetection {
        try kernel.steps.alive()
        return kernel.byHand { state in
            guard var space = state.namespaces[namespace],
                  let position = space.addresses.firstIndex(where: { $0.address == address && $0.interfaceIndex == interfaceIndex })
            else { return .removed }
            guard space.links.first(where: { $0.index == interfaceIndex })?.isOperational == true else { return .linkDown }
            let held = space.addresses[position]
            guard held.flags.contains(.tentative) else { return held.flags.contains(.dadFailed) ? .failed : .completed }
            let outcome = state.duplicateAddressDetection
            var flags = held.flags.subtracting(.tentative)
            if outcome == .failed { flags.insert(.dadFailed) }
            if outcome == .completed || outcome == .failed {
                space.addresses[position] = InterfaceAddress(interfaceIndex: held.interfaceIndex, address: held.address,
                                                             prefixLength: held.prefixLength, label: held.label, broadcast: held.broadcast,
                                                             flags: flags, preferredLifetime: held.preferredLifetime)
                state.namespaces[namespace] = space
            }
            return outcome
        }
    }
}

/// A namespace's IPVS table.
final class FakeIPVSTable: IPVSTable {
    let kernel: FakeKernel
    let namespace: String?

    init(kernel: FakeKernel, namespace: String?) {
        self.kernel = kernel
        self.namespace = namespace
    }

    private func table<T>(_ body: (FakeKernel.IPVSTableState) -> T) throws(NetlinkError) -> T {
        try kernel.read(namespace) { body($0.ipvs ?? FakeKernel.IPVSTableState()) }
    }

    func services() throws(NetlinkError) -> [IPVSService] { try table { $0.services } }
    func service(_ identity: IPVSService.Identity) throws(NetlinkError) -> IPVSService? {
        try table { $0.services.first { $0.identity == identity } }
    }
    func destinations(of identity: IPVSService.Identity) throws(NetlinkError) -> [IPVSDestination] {
        try table { $0.destinations[identity] ?? [] }
    }
    func daemons() throws(NetlinkError) -> [IPVSSyncDaemon] { try table { $0.daemons } }

    /// One counted change for the whole call, as one `sendmsg` of a batch is for the kernel.
    func apply(_ operations: [IPVSOperation]) throws(NetlinkError) -> [NetlinkError?] {
        try kernel.change(namespace) { space, state in
            var table = space.ipvs ?? FakeKernel.IPVSTableState()
            defer { space.ipvs = table }
            var outcomes: [NetlinkError?] = []
            for operation in operations {
                if let remaining = state.transportFailureAfter {
                    if remaining == 0 {
                        state.transportFailureAfter = nil
                        throw NetlinkError(function: "nl_recv", kind: .other(-1), message: "transport failed (fake)")
                    }
                    state.transportFailureAfter = remaining - 1
                }
                if let refusal = state.refusals[operation.description] {
                    outcomes.append(NetlinkError(function: operation.description, errno: refusal))
                    continue
                }
                outcomes.append(FakeIPVSTable.apply(operation, to: &table).map { NetlinkError(function: operation.description, errno: $0) })
            }
            return outcomes
        }
    }

    /// The kernel's answer to one operation: `nil` when done, else its errno.
    static func apply(_ operation: IPVSOperation, to table: inout FakeKernel.IPVSTableState) -> Int32? {
        func position(_ identity: IPVSService.Identity) -> Int? { table.services.firstIndex { $0.identity == identity } }
        let schedulers: Set = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]
        switch operation {
        case .addService(let service):
            guard position(service.identity) == nil else { return EEXIST }
            guard schedulers.contains(service.scheduler) else { return ENOENT }
            var stored = service
            stored.flags = service.flags.intersection(.settable)
            table.services.append(stored)
            table.destinations[service.identity] = []
        case .updateService(let service):
            guard let index = position(service.identity) else { return ESRCH }
            guard schedulers.contains(service.scheduler) else { return ENOENT }
            table.services[index] = service
        case .deleteService(let identity):
            guard let index = position(identity) else { return ESRCH }
            table.services.remove(at: index)
            table.destinations[identity] = nil
        case .addDestination(let identity, let destination):
            guard position(identity) != nil else { return ESRCH }
            if destination.address.family != identity.family && destination.forwarding != .tunnel { return EINVAL }
            guard table.destinations[identity, default: []].allSatisfy({ $0.key != destination.key }) else { return EEXIST }
            table.destinations[identity, default: []].append(destination.settings)
        case .updateDestination(let identity, let destination):
            guard position(identity) != nil else { return ESRCH }
            guard let index = table.destinations[identity]?.firstIndex(where: { $0.key == destination.key }) else { return ENOENT }
            // New settings; the connections the destination has stay.
            var updated = destination.settings
            if let current = table.destinations[identity]?[index] {
                updated.activeConnections = current.activeConnections
                updated.inactiveConnections = current.inactiveConnections
                updated.persistentConnections = current.persistentConnections
            }
            table.destinations[identity]?[index] = updated
        case .deleteDestination(let identity, let key):
            guard position(identity) != nil else { return ESRCH }
            guard let index = table.destinations[identity]?.firstIndex(where: { $0.key == key }) else { return ENOENT }
            table.destinations[identity]?.remove(at: index)
        case .startDaemon(let daemon):
            guard !table.daemons.contains(where: { $0.state == daemon.state }) else { return EEXIST }
            // The kernel refuses a sync daemon while a service has real servers of the other family.
            let mixed = table.services.contains { service in
                (table.destinations[service.identity] ?? []).contains { $0.address.family != service.identity.family }
            }
            if mixed { return EINVAL }
            var running = daemon
            if running.ttl == 0 { running.ttl = 1 }
            // As ip_vs_sync.c: a backup's maxlen is at least 1024, any at most 65535 less the headers.
            let headers: UInt16 = daemon.group?.family == .inet6 ? 48 : 28
            if running.maximumLength != 0 {
                running.maximumLength = min(max(running.maximumLength, daemon.state == .backup ? 1024 : 1), 65535 - headers)
            }
            table.daemons.append(running)
        case .stopDaemon(let state):
            guard let index = table.daemons.firstIndex(where: { $0.state == state }) else { return ESRCH }
            table.daemons.remove(at: index)
        case .setTimeouts:
            break
        }
        return nil
    }
}
