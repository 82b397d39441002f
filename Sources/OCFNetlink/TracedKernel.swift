import Addresses
import Netlink
import OCF

extension AgentContext {
    /// The kernel as the agent should use it: every request and answer in the trace when
    /// the action is traced (`crm resource trace`), the kernel itself otherwise.
    public func traced(_ kernel: any Kernel) -> any Kernel {
        guard let trace else { return kernel }
        return TracedKernel(base: kernel, trace: trace)
    }
}

/// A kernel that writes each request and its answer (or error) to a trace.
struct TracedKernel: Kernel {
    let base: any Kernel
    let trace: Trace

    func routes(in namespace: String?) throws(NetlinkError) -> any AddressTable {
        TracedAddressTable(base: try traced(trace, "open route socket in \(namespace ?? "own namespace")") {
            try base.routes(in: namespace)
        }, trace: trace)
    }

    func ipvs(in namespace: String?) throws(NetlinkError) -> any IPVSTable {
        TracedIPVSTable(base: try traced(trace, "open IPVS socket in \(namespace ?? "own namespace")") {
            try base.ipvs(in: namespace)
        }, trace: trace)
    }

    var isIPVSLoaded: Bool {
        let loaded = base.isIPVSLoaded
        trace.write("kernel: IPVS \(loaded ? "loaded" : "not loaded")")
        return loaded
    }
}

/// Writes `request`, runs it, writes the answer.
func traced<T>(_ trace: Trace, _ request: String, answer: (T) -> String = { _ in "ok" },
               _ body: () throws -> T) throws(NetlinkError) -> T {
    trace.write("kernel <- \(request)")
    do {
        let result = try body()
        trace.write("kernel -> \(answer(result))")
        return result
    } catch {
        // The body is a call of the traced kernel: its errors are NetlinkErrors.
        let failure = error as? NetlinkError ?? NetlinkError(function: request, kind: .other(-1), message: "\(error)")
        trace.write("kernel -> error \(failure) (\(failure.kind))")
        throw failure
    }
}

final class TracedAddressTable: AddressTable {
    let base: any AddressTable
    let trace: Trace
    init(base: any AddressTable, trace: Trace) {
        self.base = base
        self.trace = trace
    }

    func addresses() throws(NetlinkError) -> [InterfaceAddress] {
        try traced(trace, "RTM_GETADDR dump", answer: { "\($0.count) addresses: \($0.map(\.description).joined(separator: ", "))" }) {
            try base.addresses()
        }
    }

    func add(_ request: AddressRequest) throws(NetlinkError) {
        try traced(trace, "RTM_NEWADDR \(request.address)/\(request.prefixLength) ifindex \(request.interfaceIndex)"
            + " flags \(request.flags.rawValue)" + (request.label.map { " label \($0.rawValue)" } ?? "")) {
            try base.add(request)
        }
    }

    func deleteAddress(_ address: IPAddress, prefixLength: Int, interfaceIndex: Int32) throws(NetlinkError) {
        try traced(trace, "RTM_DELADDR \(address)/\(prefixLength) ifindex \(interfaceIndex)") {
            try base.deleteAddress(address, prefixLength: prefixLength, interfaceIndex: interfaceIndex)
        }
    }

    func link(named name: InterfaceName) throws(NetlinkError) -> Link? {
        try traced(trace, "RTM_GETLINK \(name)", answer: describe) { try base.link(named: name) }
    }

    func link(index: Int32) throws(NetlinkError) -> Link? {
        try traced(trace, "RTM_GETLINK ifindex \(index)", answer: describe) { try base.link(index: index) }
    }

    func route(to destination: IPAddress) throws(NetlinkError) -> Route? {
        try traced(trace, "RTM_GETROUTE fibmatch \(destination)", answer: { route in
            route.map { "\($0.destination)/\($0.prefixLength) ifindex \($0.interfaceIndex.map(String.init) ?? "none")"
                + ($0.gateway.map { " via \($0)" } ?? "") } ?? "no route"
        }) { try base.route(to: destination) }
    }

    func waitForDuplicateAddressDetection(of address: IPAddress, interfaceIndex: Int32,
                                          deadline: ContinuousClock.Instant) throws(NetlinkError) -> DuplicateAddressDetection {
        try traced(trace, "wait for duplicate address detection of \(address) on ifindex \(interfaceIndex)",
                   answer: { "\($0)" }) {
            try base.waitForDuplicateAddressDetection(of: address, interfaceIndex: interfaceIndex, deadline: deadline)
        }
    }

    private func describe(_ link: Link?) -> String {
        link.map { "\($0.name) ifindex \($0.index) flags \($0.flags.rawValue)\($0.isOperational ? " (up)" : " (down)")" } ?? "no such link"
    }
}

final class TracedIPVSTable: IPVSTable {
    let base: any IPVSTable
    let trace: Trace
    init(base: any IPVSTable, trace: Trace) {
        self.base = base
        self.trace = trace
    }

    func services() throws(NetlinkError) -> [IPVSService] {
        try traced(trace, "IPVS_CMD_GET_SERVICE dump", answer: { "\($0.count) services: \($0.map { "\($0.identity)" }.joined(separator: ", "))" }) {
            try base.services()
        }
    }

    func service(_ identity: IPVSService.Identity) throws(NetlinkError) -> IPVSService? {
        try traced(trace, "IPVS_CMD_GET_SERVICE \(identity)", answer: { service in
            service.map { "scheduler \($0.scheduler) flags \($0.flags.rawValue) timeout \($0.timeout)" } ?? "no such service"
        }) { try base.service(identity) }
    }

    func destinations(of identity: IPVSService.Identity) throws(NetlinkError) -> [IPVSDestination] {
        try traced(trace, "IPVS_CMD_GET_DEST dump of \(identity)", answer: { destinations in
            "\(destinations.count) real servers: "
                + destinations.map { "\($0.key) \($0.forwarding) weight \($0.weight) active \($0.activeConnections)" }.joined(separator: ", ")
        }) { try base.destinations(of: identity) }
    }

    func daemons() throws(NetlinkError) -> [IPVSSyncDaemon] {
        try traced(trace, "IPVS_CMD_GET_DAEMON dump", answer: { daemons in
            "\(daemons.count) daemons: " + daemons.map { "\($0.state) on \($0.interface) sync ID \($0.syncID)" }.joined(separator: ", ")
        }) { try base.daemons() }
    }

    func apply(_ operations: [IPVSOperation]) throws(NetlinkError) -> [NetlinkError?] {
        for operation in operations { trace.write("kernel <- \(operation)") }
        do {
            let outcomes = try base.apply(operations)
            let failures = outcomes.enumerated().compactMap { index, outcome in outcome.map { "\(operations[index]): \($0.message)" } }
            trace.write("kernel -> \(operations.count - failures.count) of \(operations.count) applied"
                + (failures.isEmpty ? "" : "; refused: " + failures.joined(separator: "; ")))
            return outcomes
        } catch {
            trace.write("kernel -> error \(error) (\(error.kind)); some of the \(operations.count) requests may be applied")
            throw error
        }
    }
}
