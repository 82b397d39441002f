internal import CNetlink
import Addresses
import Glibc

// Building test networks: veth pairs, bridges, link state and routes. For the labs only: the
// agents never create interfaces or routes.
extension RouteSocket {
    /// Creates a veth pair: `name` in this socket's namespace and `peer` in `peerNamespace`
    /// (here too when `nil`). One RTM_NEWLINK request.
    /// - Throws: `NetlinkError` naming `rtnl_link_add`; `.exists` when a name is taken.
    public func addVethPair(_ name: InterfaceName, peer: InterfaceName, peerNamespace: NetworkNamespace? = nil)
        throws(NetlinkError)
    {
        guard let link = rtnl_link_veth_alloc() else {
            throw NetlinkError(function: "rtnl_link_veth_alloc", libnlCode: -NLE_NOMEM)
        }
        // Releases the pair, peer included.
        defer { rtnl_link_veth_release(link) }
        rtnl_link_set_name(link, name.rawValue)
        guard let other = rtnl_link_veth_get_peer(link) else {
            throw NetlinkError(function: "rtnl_link_veth_get_peer", libnlCode: -NLE_NOMEM)
        }
        // rtnl_link_veth_get_peer returns its own reference.
        defer { rtnl_link_put(other) }
        rtnl_link_set_name(other, peer.rawValue)
        if let peerNamespace { rtnl_link_set_ns_fd(other, peerNamespace.descriptor) }
        try check("rtnl_link_add", rtnl_link_add(socket, link, NLM_F_CREATE | NLM_F_EXCL))
    }

    /// Creates a bridge. One RTM_NEWLINK request.
    /// - Throws: `NetlinkError` naming `rtnl_link_add`; `.exists` when the name is taken.
    public func addBridge(_ name: InterfaceName) throws(NetlinkError) {
        guard let link = rtnl_link_bridge_alloc() else {
            throw NetlinkError(function: "rtnl_link_bridge_alloc", libnlCode: -NLE_NOMEM)
        }
        defer { rtnl_link_put(link) }
        rtnl_link_set_name(link, name.rawValue)
        try check("rtnl_link_add", rtnl_link_add(socket, link, NLM_F_CREATE | NLM_F_EXCL))
    }

    /// Makes an interface a port of a bridge (or another master).
    /// - Throws: `NetlinkError` naming `rtnl_link_enslave_ifindex`; `.notFound` for a missing interface.
    public func attach(_ interface: InterfaceName, to master: InterfaceName) throws(NetlinkError) {
        guard let port = try link(named: interface), let bridge = try link(named: master) else {
            throw NetlinkError(function: "rtnl_link_enslave_ifindex", kind: .notFound, message: "no \(interface) or \(master)")
        }
        try check("rtnl_link_enslave_ifindex", rtnl_link_enslave_ifindex(socket, bridge.index, port.index))
    }

    /// Sets an interface administratively up or down (IFF_UP).
    /// - Throws: `NetlinkError` naming `rtnl_link_get_kernel` or `rtnl_link_change`;
    ///   `.notFound` when there is no such interface.
    public func setLink(_ name: InterfaceName, up: Bool) throws(NetlinkError) {
        var current: OpaquePointer?
        try check("rtnl_link_get_kernel", rtnl_link_get_kernel(socket, 0, name.rawValue, &current))
        guard let current else { throw NetlinkError(function: "rtnl_link_get_kernel", kind: .notFound, message: "no \(name)") }
        defer { rtnl_link_put(current) }
        guard let change = rtnl_link_alloc() else { throw NetlinkError(function: "rtnl_link_alloc", libnlCode: -NLE_NOMEM) }
        defer { rtnl_link_put(change) }
        let flag = Link.Flags.up.rawValue
        if up { rtnl_link_set_flags(change, flag) } else { rtnl_link_unset_flags(change, flag) }
        try check("rtnl_link_change", rtnl_link_change(socket, current, change, 0))
    }

    /// Adds a route in the main table: `destination/prefixLength` via `gateway` (a default
    /// route when the prefix length is 0). One RTM_NEWROUTE request.
    /// - Throws: `NetlinkError` naming `rtnl_route_add`; `.exists` when the route is there.
    public func addRoute(to destination: IPAddress, prefixLength: Int, via gateway: IPAddress) throws(NetlinkError) {
        guard let route = rtnl_route_alloc() else { throw NetlinkError(function: "rtnl_route_alloc", libnlCode: -NLE_NOMEM) }
        defer { rtnl_route_put(route) }
        try check("rtnl_route_set_family", rtnl_route_set_family(route, UInt8(destination.family.rawValue)))
        let target = try NLAddress(destination, prefixLength: prefixLength)
        try check("rtnl_route_set_dst", rtnl_route_set_dst(route, target.handle))
        guard let hop = rtnl_route_nh_alloc() else { throw NetlinkError(function: "rtnl_route_nh_alloc", libnlCode: -NLE_NOMEM) }
        let via = try NLAddress(gateway, prefixLength: gateway.maximumPrefixLength)
        rtnl_route_nh_set_gateway(hop, via.handle)
        // The route takes the next hop over; it is freed with the route.
        rtnl_route_add_nexthop(route, hop)
        try check("rtnl_route_add", rtnl_route_add(socket, route, NLM_F_CREATE | NLM_F_EXCL))
    }
}

extension RouteSocket {
    /// Deletes an interface (a veth's peer goes with it). One RTM_DELLINK request.
    /// - Throws: `NetlinkError` naming `rtnl_link_delete`; `.notFound` when there is no such interface.
    public func deleteLink(_ name: InterfaceName) throws(NetlinkError) {
        guard let link = rtnl_link_alloc() else { throw NetlinkError(function: "rtnl_link_alloc", libnlCode: -NLE_NOMEM) }
        defer { rtnl_link_put(link) }
        rtnl_link_set_name(link, name.rawValue)
        try check("rtnl_link_delete", rtnl_link_delete(socket, link))
    }
}
