internal import CNetlink
import Addresses

extension RouteSocket {
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
