internal import CNetlink
import Addresses

/// A network interface as RTM_GETLINK reports it.
public struct Link: Hashable, Sendable {
    public let index: Int32
    public let name: String
    public let flags: Flags
    public let operationalState: OperationalState
    /// The link-layer type, an `ARPHRD_*` value (1 is Ethernet, 772 loopback).
    public let hardwareType: UInt32
    /// The link-layer address; empty for links without one.
    public let hardwareAddress: [UInt8]
    public let mtu: UInt32

    /// Interface flags. The corresponding C constants are `IFF_*`.
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Administratively up (`IFF_UP`).
        public static let up = Flags(rawValue: 0x1)
        public static let broadcast = Flags(rawValue: 0x2)
        public static let loopback = Flags(rawValue: 0x8)
        public static let pointToPoint = Flags(rawValue: 0x10)
        /// Operationally up, RFC 2863 (`IFF_RUNNING`).
        public static let running = Flags(rawValue: 0x40)
        /// The link does not use ARP (`IFF_NOARP`).
        public static let noARP = Flags(rawValue: 0x80)
        /// The driver signals carrier (`IFF_LOWER_UP`).
        public static let lowerUp = Flags(rawValue: 0x10000)
    }

    /// RFC 2863 operational state. The corresponding C constants are `IF_OPER_*`.
    public enum OperationalState: UInt8, Sendable {
        case unknown = 0, notPresent = 1, down = 2, lowerLayerDown = 3, testing = 4, dormant = 5, up = 6
    }

    /// The index of `lo` in every network namespace: the kernel gives the loopback device
    /// `LOOPBACK_IFINDEX` (include/net/flow.h) when it creates a namespace.
    public static let loopbackIndex: Int32 = 1

    /// Administratively up and operationally running: what "the link is up" means to an admin.
    public var isOperational: Bool { flags.contains([.up, .running]) }

    /// An Ethernet-like link that resolves addresses with ARP / neighbour discovery.
    public var usesNeighbourDiscovery: Bool {
        hardwareType == UInt32(ARPHRD_ETHER) && !flags.contains(.noARP) && hardwareAddress.count == 6
    }

    public var macAddress: MACAddress? { MACAddress(bytes: hardwareAddress) }

    public init(index: Int32, name: String, flags: Flags, operationalState: OperationalState,
                hardwareType: UInt32, hardwareAddress: [UInt8], mtu: UInt32) {
        self.index = index
        self.name = name
        self.flags = flags
        self.operationalState = operationalState
        self.hardwareType = hardwareType
        self.hardwareAddress = hardwareAddress
        self.mtu = mtu
    }

    init(rtnlLink link: OpaquePointer) {
        var hardware: [UInt8] = []
        if let address = rtnl_link_get_addr(link), let data = nl_addr_get_binary_addr(address) {
            hardware = Array(UnsafeRawBufferPointer(start: data, count: Int(nl_addr_get_len(address))))
        }
        self.init(index: rtnl_link_get_ifindex(link),
                  name: rtnl_link_get_name(link).map { String(cString: $0) } ?? "",
                  flags: Flags(rawValue: rtnl_link_get_flags(link)),
                  operationalState: OperationalState(rawValue: rtnl_link_get_operstate(link)) ?? .unknown,
                  hardwareType: rtnl_link_get_arptype(link),
                  hardwareAddress: hardware,
                  mtu: rtnl_link_get_mtu(link))
    }
}
