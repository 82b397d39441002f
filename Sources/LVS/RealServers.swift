import Addresses
import Netlink

/// The `realservers` parameter: comma-separated entries of
/// `ADDR[:PORT] [gate|masq|ipip[:gue:PORT|:gre]] [WEIGHT] [lthresh=N] [uthresh=N]`.
///
/// The port defaults to the service's (0 for fwmark services), the method to `gate` (direct
/// routing, ipvsadm's default) and the weight to 1.
public enum RealServers {
    public static let maximumWeight: Int32 = 65535

    /// Parses the list for `service`; the error names the entry at fault.
    /// - Parameter allowLoopback: a fallback ("sorry") server may be this node itself
    ///   (127.0.0.1:80, ldirectord's usual fallback): IPVS delivers it locally.
    public static func parse(_ text: String, for service: ServiceSpec, allowLoopback: Bool = false) throws(SpecError) -> [IPVSDestination] {
        var destinations: [IPVSDestination] = []
        var seen: Set<IPVSDestination.Key> = []
        // Split on bytes, not characters: a list may hold a thousand entries.
        for entryBytes in text.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let entry = Substring(entryBytes)
            let tokens = entryBytes.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }).map(Substring.init)
            guard let first = tokens.first else {
                throw SpecError("an empty entry (two commas, or a comma at the start or end)")
            }
            let destination = try parseEntry(first: first, options: tokens.dropFirst(), entry: entry, service: service,
                                             allowLoopback: allowLoopback)
            guard seen.insert(destination.key).inserted else {
                throw SpecError("'\(destination.key)' is listed twice")
            }
            destinations.append(destination)
        }
        return destinations
    }

    static func parseEntry(first: Substring, options: ArraySlice<Substring>, entry rawEntry: Substring,
                           service: ServiceSpec, allowLoopback: Bool = false) throws(SpecError) -> IPVSDestination {
        // The entry as error messages quote it (messages only: trimming costs on a 1000-entry list).
        var entry: String { rawEntry.trimmed }
        let (address, explicitPort) = try Endpoint.parse(first, context: entry)
        if address.isUnspecified || address.isMulticast || (address.isLoopback && !allowLoopback) {
            throw SpecError("'\(entry)': \(address) cannot be a real server")
        }
        var method = IPVSDestination.ForwardingMethod.directRouting
        var tunnel: IPVSDestination.Tunnel?
        var weight: Int32 = 1
        var lower: UInt32 = 0, upper: UInt32 = 0
        var methodSeen = false, weightSeen = false
        for option in options {
            if let (key, value) = option.split(at: "=") {
                guard let number = UInt32(value) else { throw SpecError("'\(entry)': \(key) takes a number, not '\(value)'") }
                switch key {
                case "lthresh": lower = number
                case "uthresh": upper = number
                default: throw SpecError("'\(entry)': unknown option '\(key)' (lthresh=N, uthresh=N)")
                }
            } else if let number = Int32(option) {
                guard !weightSeen, (0...maximumWeight).contains(number) else {
                    throw SpecError("'\(entry)': the weight is one number from 0 to \(maximumWeight)")
                }
                weight = number
                weightSeen = true
            } else {
                guard !methodSeen else { throw SpecError("'\(entry)': more than one forwarding method") }
                methodSeen = true
                (method, tunnel) = try parseMethod(option, entry: entry)
            }
        }
        if lower != 0 && upper != 0 && lower > upper {
            throw SpecError("'\(entry)': lthresh \(lower) is above uthresh \(upper)")
        }
        if address.family != service.family && method != .tunnel {
            throw SpecError("'\(entry)': a real server of the other address family needs ipip tunnelling")
        }
        var port = explicitPort ?? service.port
        if method == .directRouting || method == .tunnel, service.port != 0 {
            // Direct routing and tunnelling deliver the packet unchanged: no port translation.
            if let explicitPort, explicitPort != service.port {
                throw SpecError("'\(entry)': \(method == .tunnel ? "ipip" : "gate") cannot change the port (the service's is \(service.port))")
            }
            port = service.port
        }
        if method == .masquerade, port == 0, service.port != 0 {
            throw SpecError("'\(entry)': masq needs a port")
        }
        return IPVSDestination(address: address, port: port, forwarding: method, weight: weight,
                               upperThreshold: upper, lowerThreshold: lower, tunnel: tunnel)
    }

    static func parseMethod(_ text: Substring, entry: @autoclosure () -> String) throws(SpecError)
        -> (IPVSDestination.ForwardingMethod, IPVSDestination.Tunnel?)
    {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch (parts.first, parts.count) {
        case ("gate", 1): return (.directRouting, nil)
        case ("masq", 1): return (.masquerade, nil)
        case ("ipip", 1): return (.tunnel, .init(kind: .ipip))
        case ("ipip", 2) where parts[1] == "gre": return (.tunnel, .init(kind: .gre))
        case ("ipip", 3) where parts[1] == "gue":
            guard let port = UInt16(parts[2]), port > 0 else { throw SpecError("'\(entry())': ipip:gue:PORT needs a port") }
            return (.tunnel, .init(kind: .gue, port: port))
        default:
            throw SpecError("'\(entry())': '\(text)' is not a forwarding method (gate, masq, ipip, ipip:gue:PORT, ipip:gre) or a weight")
        }
    }

    /// The list written back in the parameter's syntax (for logs and the README's examples).
    public static func format(_ destinations: [IPVSDestination]) -> String {
        destinations.map { destination in
            var text = destination.key.description
            switch (destination.forwarding, destination.tunnel?.kind) {
            case (.masquerade, _): text += " masq"
            case (.tunnel, .gue?): text += " ipip:gue:\(destination.tunnel?.port ?? 0)"
            case (.tunnel, .gre?): text += " ipip:gre"
            case (.tunnel, _): text += " ipip"
            default: text += " gate"
            }
            text += " \(destination.weight)"
            if destination.lowerThreshold != 0 { text += " lthresh=\(destination.lowerThreshold)" }
            if destination.upperThreshold != 0 { text += " uthresh=\(destination.upperThreshold)" }
            return text
        }.joined(separator: ", ")
    }
}

extension Substring {
    var trimmed: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return String(self[first...last])
    }
}

extension Substring {
    func split(at separator: Character) -> (Substring, Substring)? {
        guard let position = firstIndex(of: separator) else { return nil }
        return (self[..<position], self[self.index(after: position)...])
    }
}
