import Addresses
import Netlink

/// The `service` parameter: `tcp|udp|sctp:ADDR:PORT` (IPv6 in brackets) or
/// `fwmark:MARK[:inet|inet6]` — the identity of one virtual service.
public struct ServiceSpec: Hashable, Sendable, CustomStringConvertible {
    public let identity: IPVSService.Identity

    public init(identity: IPVSService.Identity) { self.identity = identity }

    /// Parses the text; the error says what is wrong (the caller names the parameter).
    public init(parsing text: String) throws(SpecError) {
        let fields = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard fields.count == 2 else { throw SpecError("'\(text)' is not tcp|udp|sctp:ADDR:PORT or fwmark:MARK") }
        let rest = fields[1]
        switch fields[0] {
        case "fwmark":
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let mark = UInt32(parts[0]), mark > 0 else {
                throw SpecError("'\(text)': a firewall mark is a number from 1 to 4294967295")
            }
            var family = AddressFamily.inet
            if parts.count == 2 {
                switch parts[1] {
                case "inet": family = .inet
                case "inet6": family = .inet6
                default: throw SpecError("'\(text)': the family of a fwmark service is inet or inet6")
                }
            }
            identity = .firewallMark(mark, family)
        case "tcp", "udp", "sctp":
            let proto: IPVSProtocol = fields[0] == "tcp" ? .tcp : fields[0] == "udp" ? .udp : .sctp
            let (address, port) = try Endpoint.parse(String(rest), context: text)
            guard let port, port > 0 else { throw SpecError("'\(text)': a port from 1 to 65535 is needed") }
            try Endpoint.checkServiceAddress(address, context: text)
            identity = .address(proto, address, port: port)
        default:
            throw SpecError("'\(text)': the protocol is tcp, udp or sctp, or use fwmark:MARK")
        }
    }

    public var description: String { identity.description }
    public var family: AddressFamily { identity.family }
    /// The port of an address service; 0 for fwmark services.
    public var port: UInt16 {
        if case .address(_, _, let port) = identity { return port }
        return 0
    }
    public var transport: IPVSProtocol? {
        if case .address(let proto, _, _) = identity { return proto }
        return nil
    }
}

/// Why a service or real-server specification was refused.
public struct SpecError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `ADDR[:PORT]` with IPv6 in brackets: `192.0.2.1:80`, `[2001:db8::1]:80`, `192.0.2.1`.
enum Endpoint {
    /// - Parameter context: what error messages quote (worked out only for an error).
    static func parse(_ text: some StringProtocol, context: @autoclosure () -> String) throws(SpecError) -> (IPAddress, UInt16?) {
        var host = Substring(text)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw SpecError("'\(context())': missing ] after an IPv6 address") }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw SpecError("'\(context())': expected :PORT after ]") }
                port = after.dropFirst()
            }
            guard IPv6Address(host) != nil else { throw SpecError("'\(context())': '\(host)' is not an IPv6 address") }
        } else if host.utf8.count(where: { $0 == UInt8(ascii: ":") }) == 1, let colon = host.firstIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        } else if host.utf8.contains(UInt8(ascii: ":")) {
            throw SpecError("'\(context())': write IPv6 addresses in brackets, e.g. [2001:db8::1]:80")
        }
        guard let address = IPAddress(host) else { throw SpecError("'\(context())': '\(host)' is not an IP address") }
        guard let port else { return (address, nil) }
        guard let number = UInt16(port) else { throw SpecError("'\(context())': '\(port)' is not a port (0 to 65535)") }
        return (address, number)
    }

    static func checkServiceAddress(_ address: IPAddress, context: String) throws(SpecError) {
        if address.isUnspecified || address.isMulticast {
            throw SpecError("'\(context)': \(address) cannot be a virtual service address")
        }
        if case .v4(let v4) = address, v4.isLimitedBroadcast {
            throw SpecError("'\(context)': \(address) cannot be a virtual service address")
        }
    }
}
