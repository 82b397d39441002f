internal import CNetlink
import Addresses

/// One address on one interface, as RTM_GETADDR reports it.
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    public let interfaceIndex: Int32
    public let address: IPAddress
    public let prefixLength: Int
    /// The IPv4 label (`eth0:web`); `nil` for IPv6 and unlabelled addresses.
    public let label: String?
    public let broadcast: IPv4Address?
    public let flags: AddressFlags
    /// Seconds left before the address is deprecated; `forever` for static addresses.
    public let preferredLifetime: UInt32
    public let validLifetime: UInt32

    /// The lifetime of a static address (INFINITY_LIFE_TIME).
    public static let forever: UInt32 = 0xFFFF_FFFF

    public init(interfaceIndex: Int32, address: IPAddress, prefixLength: Int, label: String? = nil,
                broadcast: IPv4Address? = nil, flags: AddressFlags = [],
                preferredLifetime: UInt32 = forever, validLifetime: UInt32 = forever) {
        self.interfaceIndex = interfaceIndex
        self.address = address
        self.prefixLength = prefixLength
        self.label = label
        self.broadcast = broadcast
        self.flags = flags
        self.preferredLifetime = preferredLifetime
        self.validLifetime = validLifetime
    }

    init?(rtnlAddress object: OpaquePointer) {
        guard let address = ipAddress(rtnl_addr_get_local(object)) else { return nil }
        var broadcast: IPv4Address?
        if case .v4(let b)? = ipAddress(rtnl_addr_get_broadcast(object)) { broadcast = b }
        let label = rtnl_addr_get_label(object).map { String(cString: $0) }
        self.init(interfaceIndex: rtnl_addr_get_ifindex(object), address: address,
                  prefixLength: Int(rtnl_addr_get_prefixlen(object)),
                  label: label?.isEmpty == false ? label : nil,
                  broadcast: broadcast,
                  flags: AddressFlags(rawValue: rtnl_addr_get_flags(object)),
                  preferredLifetime: rtnl_addr_get_preferred_lifetime(object),
                  validLifetime: rtnl_addr_get_valid_lifetime(object))
    }

    public var description: String { "\(address)/\(prefixLength) on ifindex \(interfaceIndex)" }
}

/// Address flags. The corresponding C constants are `IFA_F_*`.
public struct AddressFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let secondary = AddressFlags(rawValue: 0x01)
    /// Skip duplicate address detection (IPv6).
    public static let noDAD = AddressFlags(rawValue: 0x02)
    public static let optimistic = AddressFlags(rawValue: 0x04)
    /// Duplicate address detection found another holder (IPv6).
    public static let dadFailed = AddressFlags(rawValue: 0x08)
    public static let deprecated = AddressFlags(rawValue: 0x20)
    /// Duplicate address detection has not finished; the address is not usable yet (IPv6).
    public static let tentative = AddressFlags(rawValue: 0x40)
    public static let permanent = AddressFlags(rawValue: 0x80)
    /// Do not add the prefix route for the address's subnet.
    public static let noPrefixRoute = AddressFlags(rawValue: 0x200)
}

/// What to add with `RouteSocket.add(_:)`.
public struct AddressRequest: Hashable, Sendable {
    public var interfaceIndex: Int32
    public var address: IPAddress
    public var prefixLength: Int
    public var label: AddressLabel?
    public var broadcast: IPv4Address?
    /// `noDAD` and `noPrefixRoute` are the flags a request may carry.
    public var flags: AddressFlags
    /// `nil` keeps the kernel's default (forever); 0 adds the address deprecated.
    public var preferredLifetime: UInt32?

    public init(interfaceIndex: Int32, address: IPAddress, prefixLength: Int, label: AddressLabel? = nil,
                broadcast: IPv4Address? = nil, flags: AddressFlags = [], preferredLifetime: UInt32? = nil) {
        self.interfaceIndex = interfaceIndex
        self.address = address
        self.prefixLength = prefixLength
        self.label = label
        self.broadcast = broadcast
        self.flags = flags
        self.preferredLifetime = preferredLifetime
    }
}
