import Glibc

/// An IPv4 address.
///
/// Parsing is strict: four decimal octets, no leading zeros, nothing around them
/// (the rules of `inet_pton(AF_INET, …)`).
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address as a number, most significant octet first (192.0.2.1 is 0xC000_0201).
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 4, "IPv4 addresses have 4 bytes")
        self.value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Parses dotted-quad notation; `nil` for anything else. Byte by byte (what inet_pton
    /// accepts, without its string conversion: lists of a thousand addresses are parsed), and
    /// inlinable so callers get it specialised for their string type.
    @inlinable
    public init?(_ text: some StringProtocol) {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // No leading zeros ("01"), at most three digits, at most 255.
                if digits == 1 && octet == 0 { return nil }
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                if digits > 3 || octet > 255 { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            default:
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        self.value = value << 8 | octet
    }

    /// The four octets in network order.
    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    public var description: String {
        // Written digit by digit: a checker formats thousands of these a second.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 15) { buffer in
            var count = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                let octet = Int(value >> UInt32(shift) & 0xff)
                if octet >= 100 { buffer[count] = UInt8(48 + octet / 100); count += 1 }
                if octet >= 10 { buffer[count] = UInt8(48 + octet / 10 % 10); count += 1 }
                buffer[count] = UInt8(48 + octet % 10)
                count += 1
                if shift > 0 { buffer[count] = 46; count += 1 }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self)
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }

    /// The netmask of a prefix length (24 → 255.255.255.0).
    public static func netmask(prefixLength: Int) -> IPv4Address {
        precondition((0...32).contains(prefixLength))
        return IPv4Address(prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength))
    }

    /// The directed broadcast address of this address's subnet, or `nil` for /31 and /32
    /// (RFC 3021 point-to-point links and host routes have none).
    public func broadcast(prefixLength: Int) -> IPv4Address? {
        guard prefixLength <= 30 else { return nil }
        return IPv4Address(value | ~IPv4Address.netmask(prefixLength: prefixLength).value)
    }

    /// The prefix length of a contiguous netmask (255.255.255.0 → 24), `nil` when not contiguous.
    public var contiguousPrefixLength: Int? {
        let ones = (~value).leadingZeroBitCount
        return IPv4Address.netmask(prefixLength: ones) == self ? ones : nil
    }

    public var isUnspecified: Bool { value == 0 }
    public var isLoopback: Bool { value >> 24 == 127 }
    public var isMulticast: Bool { value >> 28 == 0xE }
    public var isLimitedBroadcast: Bool { value == .max }
    public var isLinkLocal: Bool { value >> 16 == 0xA9FE }
    /// 240.0.0.0/4 without the limited broadcast: reserved, the kernel refuses to route it.
    public var isReserved: Bool { value >> 28 == 0xF && !isLimitedBroadcast }
}

/// An IPv6 address.
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The first and last eight bytes as numbers, most significant byte first: stored inline,
    /// so an address (and every value holding one) is copied without reference counting.
    private let high: UInt64
    private let low: UInt64

    /// The sixteen bytes in network order.
    public var bytes: [UInt8] {
        (0..<16).map { index in UInt8(truncatingIfNeeded: (index < 8 ? high : low) >> UInt64(56 - 8 * (index % 8))) }
    }

    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 16, "IPv6 addresses have 16 bytes")
        high = bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes.dropFirst(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Parses RFC 4291 text (`2001:db8::1`, `::ffff:192.0.2.1`); no brackets, no zone index.
    public init?(_ text: some StringProtocol) {
        var storage = in6_addr()
        guard text.utf8.count <= 45, inet_pton(AF_INET6, String(text), &storage) == 1 else { return nil }
        self.init(bytes: withUnsafeBytes(of: storage) { Array($0) })
    }

    /// RFC 5952 canonical text, as `inet_ntop` writes it.
    public var description: String {
        var storage = in6_addr()
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &storage, &buffer, socklen_t(buffer.count)) != nil else {
            return bytes.map { String($0, radix: 16) }.joined(separator: ":")
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (a: Self, b: Self) -> Bool { (a.high, a.low) < (b.high, b.low) }

    public var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }
    public var isLoopback: Bool { bytes.dropLast().allSatisfy { $0 == 0 } && bytes[15] == 1 }
    public var isMulticast: Bool { bytes[0] == 0xff }
    public var isLinkLocal: Bool { bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 }
    /// `::ffff:a.b.c.d`: an IPv4 address in IPv6 clothing, never configured on an interface.
    public var isIPv4Mapped: Bool {
        bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
    }

    /// The solicited-node multicast group of this address (ff02::1:ffXX:XXXX, RFC 4291 2.7.1).
    public var solicitedNodeMulticast: IPv6Address {
        IPv6Address(bytes: [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff] + bytes[13...])
    }

    /// ff02::1, all nodes on the link.
    public static let allNodes = IPv6Address(bytes: [0xff, 0x02] + Array(repeating: 0, count: 13) + [1])
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses either family; IPv6 is recognised by its colon, as the kernel tools do.
    @inlinable
    public init?(_ text: some StringProtocol) {
        if text.utf8.contains(UInt8(ascii: ":")) {
            guard let v6 = IPv6Address(text) else { return nil }
            self = .v6(v6)
        } else {
            guard let v4 = IPv4Address(text) else { return nil }
            self = .v4(v4)
        }
    }

    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4: self = .v4(IPv4Address(bytes: bytes))
        case 16: self = .v6(IPv6Address(bytes: bytes))
        default: return nil
        }
    }

    public var family: AddressFamily { if case .v4 = self { .inet } else { .inet6 } }
    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): a.bytes
        case .v6(let a): a.bytes
        }
    }
    /// The longest prefix this family allows: 32 or 128.
    public var maximumPrefixLength: Int { family.maximumPrefixLength }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }

    public var isUnspecified: Bool {
        switch self { case .v4(let a): a.isUnspecified; case .v6(let a): a.isUnspecified }
    }
    public var isLoopback: Bool {
        switch self { case .v4(let a): a.isLoopback; case .v6(let a): a.isLoopback }
    }
    public var isMulticast: Bool {
        switch self { case .v4(let a): a.isMulticast; case .v6(let a): a.isMulticast }
    }

    /// Whether `other` lies in this address's subnet of `prefixLength` bits (same family, the
    /// first `prefixLength` bits equal).
    public func covers(_ other: IPAddress, prefixLength: Int) -> Bool {
        guard family == other.family, (0...maximumPrefixLength).contains(prefixLength) else { return false }
        let mine = bytes, theirs = other.bytes
        let whole = prefixLength / 8, rest = prefixLength % 8
        guard mine[..<whole] == theirs[..<whole] else { return false }
        guard rest > 0 else { return true }
        let mask = UInt8(0xff) << (8 - rest)
        return mine[whole] & mask == theirs[whole] & mask
    }
}

/// An address family. The raw values are the kernel's (`AF_INET`, `AF_INET6`).
public enum AddressFamily: Int32, Sendable, CustomStringConvertible {
    case inet = 2
    case inet6 = 10

    public var maximumPrefixLength: Int { self == .inet ? 32 : 128 }
    public var description: String { self == .inet ? "IPv4" : "IPv6" }
}
