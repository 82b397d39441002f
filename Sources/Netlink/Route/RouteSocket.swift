internal import CNetlink
import Addresses
import Glibc

/// A NETLINK_ROUTE socket.
///
/// Every rtnetlink request in Tandem goes through one of these: address dumps, address
/// add/delete, link lookups and route lookups. The socket is bound to the network namespace
/// it was created in.
public final class RouteSocket {
    let connection: NetlinkConnection
    var socket: OpaquePointer { connection.socket }
    /// Kept so that sockets derived from this one (event subscriptions) join the same namespace.
    var namespace: NetworkNamespace? { connection.namespace }

    /// Connects a NETLINK_ROUTE socket, in `namespace` when one is given.
    /// - Throws: `NetlinkError` naming `nl_socket_alloc`, `nl_connect` or `setns`.
    /// - Parameter deadline: no answer is waited for past it.
    public init(in namespace: NetworkNamespace? = nil, deadline: ContinuousClock.Instant? = nil) throws(NetlinkError) {
        connection = try NetlinkConnection(protocol: NETLINK_ROUTE, in: namespace, deadline: deadline)
    }

    // MARK: Addresses

    /// Every address of every interface, IPv4 and IPv6: one RTM_GETADDR dump.
    /// - Throws: `NetlinkError` naming `rtnl_addr_alloc_cache`.
    public func addresses() throws(NetlinkError) -> [InterfaceAddress] {
        var attempts = 0
        while true {
            var cache: OpaquePointer?
            let code = rtnl_addr_alloc_cache(socket, &cache)
            // A dump that raced with a change is flagged NLM_F_DUMP_INTR; read it again.
            if code == -NLE_DUMP_INTR && attempts < 3 {
                attempts += 1
                continue
            }
            try check("rtnl_addr_alloc_cache", code)
            defer { nl_cache_free(cache) }
            var result: [InterfaceAddress] = []
            var object = nl_cache_get_first(cache)
            while let current = object {
                if let address = InterfaceAddress(rtnlAddress: current) { result.append(address) }
                object = nl_cache_get_next(current)
            }
            return result
        }
    }

    /// Adds an address. Fails with `.exists` when the same address and prefix are already
    /// on the interface (the request carries NLM_F_EXCL).
    /// - Throws: `NetlinkError` naming `rtnl_addr_add`.
    public func add(_ request: AddressRequest) throws(NetlinkError) {
        let address = try RTNLAddress(interfaceIndex: request.interfaceIndex, address: request.address,
                                      prefixLength: request.prefixLength)
        if let label = request.label {
            try check("rtnl_addr_set_label", rtnl_addr_set_label(address.handle, label.rawValue))
        }
        if let broadcast = request.broadcast {
            let nlBroadcast = try NLAddress(.v4(broadcast), prefixLength: 32)
            try check("rtnl_addr_set_broadcast", rtnl_addr_set_broadcast(address.handle, nlBroadcast.handle))
        }
        if !request.flags.isEmpty { rtnl_addr_set_flags(address.handle, request.flags.rawValue) }
        if let preferred = request.preferredLifetime {
            // IFA_CACHEINFO carries both lifetimes; a valid lifetime of 0 would be refused.
            rtnl_addr_set_valid_lifetime(address.handle, InterfaceAddress.forever)
            rtnl_addr_set_preferred_lifetime(address.handle, preferred)
        }
        try check("rtnl_addr_add", rtnl_addr_add(socket, address.handle, NLM_F_EXCL))
    }

    /// Deletes exactly one address: this interface, this address, this prefix length.
    /// - Throws: `NetlinkError` naming `rtnl_addr_delete`; `.notFound` when it is not there.
    public func deleteAddress(_ address: IPAddress, prefixLength: Int, interfaceIndex: Int32) throws(NetlinkError) {
        let object = try RTNLAddress(interfaceIndex: interfaceIndex, address: address, prefixLength: prefixLength)
        try check("rtnl_addr_delete", rtnl_addr_delete(socket, object.handle, 0))
    }

    // MARK: Links

    /// The interface with this name, or `nil` when there is none: one RTM_GETLINK request.
    /// - Throws: `NetlinkError` naming `rtnl_link_get_kernel`.
    public func link(named name: InterfaceName) throws(NetlinkError) -> Link? {
        try link(index: 0, name: name.rawValue)
    }

    /// The interface with this index, or `nil` when there is none.
    public func link(index: Int32) throws(NetlinkError) -> Link? {
        try link(index: index, name: nil)
    }

    private func link(index: Int32, name: String?) throws(NetlinkError) -> Link? {
        var result: OpaquePointer?
        let code = rtnl_link_get_kernel(socket, index, name, &result)
        if code == -NLE_NODEV || code == -NLE_OBJ_NOTFOUND { return nil }
        try check("rtnl_link_get_kernel", code)
        guard let result else { return nil }
        defer { rtnl_link_put(result) }
        return Link(rtnlLink: result)
    }

    // MARK: Routes

    /// Asks the kernel which route it would use for `destination`: one RTM_GETROUTE request
    /// with RTM_F_FIB_MATCH, so the answer is the matching FIB entry with its real prefix
    /// (what `ip route get fibmatch` shows), not a host route.
    /// - Returns: `nil` when no route matches (the network is unreachable).
    /// - Throws: `NetlinkError` naming `nl_send_auto` or `nl_recvmsgs`.
    public func route(to destination: IPAddress) throws(NetlinkError) -> Route? {
        guard let message = nlmsg_alloc_simple(Int32(RTM_GETROUTE), 0) else {
            throw NetlinkError(function: "nlmsg_alloc_simple", libnlCode: -NLE_NOMEM)
        }
        defer { nlmsg_free(message) }
        var header = rtmsg()
        header.rtm_family = UInt8(destination.family.rawValue)
        header.rtm_dst_len = UInt8(destination.maximumPrefixLength)
        header.rtm_flags = UInt32(RTM_F_FIB_MATCH)
        try check("nlmsg_append", nlmsg_append(message, &header, MemoryLayout<rtmsg>.size, Int32(NLMSG_ALIGNTO)))
        let bytes = destination.bytes
        try check("nla_put", nla_put(message, Int32(RTA_DST.rawValue), Int32(bytes.count), bytes))
        try check("nl_send_auto", nl_send_auto(socket, message))

        var route: Route?
        let outcome = receive { message in route = Route(message: message) }
        switch outcome {
        case .kernelError(ENETUNREACH), .kernelError(EHOSTUNREACH), .kernelError(ENOENT), .kernelError(ESRCH):
            return nil
        case .kernelError(let code):
            throw NetlinkError(function: "RTM_GETROUTE", errno: code)
        case .failure(let code):
            throw NetlinkError(function: "nl_recvmsgs", libnlCode: code)
        case .received:
            // The reply and the acknowledgement arrive as two datagrams (rtnl_link_get_kernel relies on it too).
            try check("nl_wait_for_ack", nl_wait_for_ack(socket))
            return route
        }
    }

    func receive(_ handler: (OpaquePointer) -> Void) -> NetlinkConnection.ReceiveOutcome {
        connection.receive(handler)
    }
}

/// An owned libnl `nl_addr`.
final class NLAddress {
    let handle: OpaquePointer

    init(_ address: IPAddress, prefixLength: Int) throws(NetlinkError) {
        let bytes = address.bytes
        guard let handle = nl_addr_build(address.family.rawValue, bytes, bytes.count) else {
            throw NetlinkError(function: "nl_addr_build", libnlCode: -NLE_NOMEM)
        }
        nl_addr_set_prefixlen(handle, Int32(prefixLength))
        self.handle = handle
    }

    deinit { nl_addr_put(handle) }
}

/// An owned libnl `rtnl_addr` describing one address on one interface.
final class RTNLAddress {
    let handle: OpaquePointer

    init(interfaceIndex: Int32, address: IPAddress, prefixLength: Int) throws(NetlinkError) {
        guard let handle = rtnl_addr_alloc() else {
            throw NetlinkError(function: "rtnl_addr_alloc", libnlCode: -NLE_NOMEM)
        }
        self.handle = handle
        rtnl_addr_set_ifindex(handle, interfaceIndex)
        rtnl_addr_set_family(handle, address.family.rawValue)
        let local = try NLAddress(address, prefixLength: prefixLength)
        // rtnl_addr_set_local takes its own reference to `local`.
        try check("rtnl_addr_set_local", rtnl_addr_set_local(handle, local.handle))
        rtnl_addr_set_prefixlen(handle, Int32(prefixLength))
    }

    deinit { rtnl_addr_put(handle) }
}

/// Reads an `nl_addr` into an `IPAddress`; `nil` for other families.
func ipAddress(_ address: OpaquePointer?) -> IPAddress? {
    guard let address, let data = nl_addr_get_binary_addr(address) else { return nil }
    let length = Int(nl_addr_get_len(address))
    return IPAddress(bytes: UnsafeRawBufferPointer(start: data, count: length))
}
