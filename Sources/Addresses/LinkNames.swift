/// A network interface name as the kernel accepts it, further limited to the characters
/// interface names use in practice.
///
/// The kernel (`dev_valid_name`) allows 1–15 bytes without `/`, `:` or white space. Tandem
/// also refuses everything outside `A–Z a–z 0–9 _ . -`, so a name can never carry shell or
/// label syntax into logs, state files or another tool's command line.
public struct InterfaceName: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// IFNAMSIZ is 16 including the terminating NUL.
    public static let maximumLength = 15

    public init?(_ text: some StringProtocol) {
        let name = String(text)
        guard InterfaceName.isValid(name) else { return nil }
        rawValue = name
    }

    static func isValid(_ name: String) -> Bool {
        guard (1...maximumLength).contains(name.utf8.count), name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    public static let loopback = InterfaceName("lo")!
    public var description: String { rawValue }
}

/// An IPv4 address label (`eth0:web`). The kernel requires a label to start with the
/// interface name and to fit in IFNAMSIZ.
public struct AddressLabel: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Builds `<interface>:<suffix>`; `nil` when the suffix is empty, holds characters an
    /// interface name may not, or the whole label exceeds 15 bytes.
    public init?(interface: InterfaceName, suffix: String) {
        guard InterfaceName.isValid(suffix) else { return nil }
        let label = interface.rawValue + ":" + suffix
        guard label.utf8.count <= InterfaceName.maximumLength else { return nil }
        rawValue = label
    }

    /// A label as the kernel reports it; any text up to 15 bytes.
    public init?(kernelLabel: String) {
        guard !kernelLabel.isEmpty, kernelLabel.utf8.count <= InterfaceName.maximumLength else { return nil }
        rawValue = kernelLabel
    }

    public var description: String { rawValue }
}

/// A 48-bit Ethernet (EUI-48) address.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 6 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Parses `00:11:22:aa:bb:cc` (colon-separated, two hex digits each).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    public static let broadcast = MACAddress(bytes: [UInt8](repeating: 0xff, count: 6))!
    public static let zero = MACAddress(bytes: [UInt8](repeating: 0, count: 6))!

    /// The Ethernet group address an IPv6 multicast address maps to (33:33 + last 4 bytes, RFC 2464).
    public init(multicast group: IPv6Address) {
        bytes = [0x33, 0x33] + group.bytes[12...]
    }

    public var isMulticast: Bool { bytes[0] & 1 == 1 }
    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    public var description: String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}
