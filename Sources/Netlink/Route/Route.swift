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
        public init(_ raw: UInt8) {
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

    public init(destination: IPAddress, prefixLength: Int, interfaceIndex: Int32?, gateway: IPAddress? = nil,
                kind: Kind = .unicast, table: UInt32 = 254) {
        self.destination = destination
        self.prefixLength = prefixLength
        self.interfaceIndex = interfaceIndex
        self.gateway = gateway
        self.kind = kind
        self.table = table
    }

    /// A unicast route without a gateway: the destination's subnet is on the interface itself.
    public var isDirectlyConnected: Bool { kind == .unicast && gateway == nil && interfaceIndex != nil }

    /// Reads an RTM_NEWROUTE message's header and attributes directly. (libnl's route object
    /// parser registers itself from a constructor in an object file that a static link leaves
    /// out, so `nl_msg_parse` cannot be relied on for routes.)
    init?(message: OpaquePointer) {
        guard let header = nlmsg_hdr(message), header.pointee.nlmsg_type == UInt16(RTM_NEWROUTE),
              let body = nlmsg_data(header) else { return nil }
        let route = body.assumingMemoryBound(to: rtmsg.self).pointee
        let maximum = Int(__RTA_MAX.rawValue) - 1
        var attributes = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: maximum + 1)
        guard nlmsg_parse(header, Int32(MemoryLayout<rtmsg>.size), &attributes, Int32(maximum), nil) == 0 else { return nil }
        func bytes(_ type: rtattr_type_t) -> [UInt8]? {
            guard let attribute = attributes[Int(type.rawValue)], let data = nla_data(attribute) else { return nil }
            return Array(UnsafeRawBufferPointer(start: data, count: Int(nla_len(attribute))))
        }
        func number(_ type: rtattr_type_t) -> UInt32? {
            attributes[Int(type.rawValue)].map { nla_get_u32($0) }
        }
        let family = AddressFamily(rawValue: Int32(route.rtm_family)) ?? .inet
        // A default route has no RTA_DST: the zero address.
        destination = bytes(RTA_DST).flatMap { IPAddress(bytes: $0) }
            ?? (family == .inet ? .v4(IPv4Address(0)) : .v6(IPv6Address(bytes: [UInt8](repeating: 0, count: 16))))
        prefixLength = Int(route.rtm_dst_len)
        kind = Kind(route.rtm_type)
        table = number(RTA_TABLE) ?? UInt32(route.rtm_table)
        interfaceIndex = number(RTA_OIF).map { Int32(bitPattern: $0) }
        gateway = bytes(RTA_GATEWAY).flatMap { IPAddress(bytes: $0) }
    }
}
