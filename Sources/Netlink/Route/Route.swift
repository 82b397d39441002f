internal import CNetlink
import Addresses

/// The answer to a route lookup: the FIB entry the kernel would use.
public struct Route: Hashable, Sendable {
    public let destination: IPAddress
    public let prefixLength: Int
    /// The outgoing interface of the first next hop.
    public let interfaceIndex: Int32?
    /// The next hop's gateway; `nil` for a directly connected subnet.
    public let gateway: IPAddress?
    public let kind: Kind
    public let table: UInt32

    /// Route types. The corresponding C constants are `RTN_*`.
    public enum Kind: Hashable, Sendable {
        case unicast, local, broadcast, blackhole, unreachable, prohibit, other(UInt8)
        init(_ raw: UInt8) {
            switch raw {
            case 1: self = .unicast
            case 2: self = .local
            case 3: self = .broadcast
            case 6: self = .blackhole
            case 7: self = .unreachable
            case 8: self = .prohibit
            default: self = .other(raw)
            }
        }
    }

    /// A unicast route without a gateway: the destination's subnet is on the interface itself.
    public var isDirectlyConnected: Bool { kind == .unicast && gateway == nil && interfaceIndex != nil }

    init?(rtnlRoute route: OpaquePointer) {
        guard let dst = rtnl_route_get_dst(route) else { return nil }
        let family = AddressFamily(rawValue: Int32(rtnl_route_get_family(route)))
        let prefix = Int(nl_addr_get_prefixlen(dst))
        // A default route's destination is an empty nl_addr: fill in the zero address.
        if let address = ipAddress(dst) {
            destination = address
        } else if family == .inet {
            destination = .v4(IPv4Address(0))
        } else {
            destination = .v6(IPv6Address(bytes: [UInt8](repeating: 0, count: 16)))
        }
        prefixLength = prefix
        kind = Kind(rtnl_route_get_type(route))
        table = rtnl_route_get_table(route)
        if rtnl_route_get_nnexthops(route) > 0, let hop = rtnl_route_nexthop_n(route, 0) {
            let index = rtnl_route_nh_get_ifindex(hop)
            interfaceIndex = index > 0 ? index : nil
            gateway = ipAddress(rtnl_route_nh_get_gateway(hop))
        } else {
            interfaceIndex = nil
            gateway = nil
        }
    }
}
