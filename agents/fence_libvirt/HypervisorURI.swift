import OCF

/// A libvirt connection URI, `driver[+transport]://[user@][host][:port]/path[?name=value&…]`,
/// checked before anything connects: a character a shell or ssh would read differently, an
/// unknown transport or a remote transport without a host is refused with its reason.
struct HypervisorURI: OCFValue, Equatable {
    let text: String
    let driver: String
    /// `ssh`, `libssh`, `libssh2`, `tcp`, `tls`, `unix`, `ext`; `nil` for the driver's default.
    let transport: String?
    let host: String
    let path: String
    /// The query's parameters in order, decoded.
    let query: [(name: String, value: String)]

    static let transports: Set = ["ssh", "libssh", "libssh2", "tcp", "tls", "unix", "ext"]
    /// RFC 3986 characters, less the ones a shell or an ssh command line treats specially
    /// (`$ ; | ( ) ' * \` …): libvirt hands parts of the URI to ssh and to a remote `sh -c`.
    static let allowed: Set<Character> = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#@!&+,=%[]")

    init(ocfValue text: String) throws(ValueError) {
        if let bad = text.first(where: { !HypervisorURI.allowed.contains($0) }) {
            throw ValueError("'\(HypervisorURI.printable(text))' contains \(HypervisorURI.describe(bad)), which a libvirt URI here may not")
        }
        guard let separator = HypervisorURI.schemeSeparator(in: text) else {
            throw ValueError("'\(text)' is not a libvirt URI (driver[+transport]://[user@]host[:port]/path, e.g. qemu+ssh://root@kvm1/system)")
        }
        let scheme = text[..<separator]
        let parts = scheme.split(separator: "+", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber } }) else {
            throw ValueError("'\(text)' has no valid driver[+transport] before ://")
        }
        driver = String(parts[0])
        transport = parts.count == 2 ? String(parts[1]) : nil
        if let transport, !HypervisorURI.transports.contains(transport) {
            throw ValueError("'\(text)': unknown transport '\(transport)' (one of \(HypervisorURI.transports.sorted().joined(separator: ", ")))")
        }
        let rest = text[text.index(separator, offsetBy: 3)...]
        let beforeQuery = rest.prefix { $0 != "?" }
        let slash = beforeQuery.firstIndex(of: "/") ?? beforeQuery.endIndex
        host = String(beforeQuery[..<slash])
        path = String(beforeQuery[slash...])
        var query: [(String, String)] = []
        if rest.count > beforeQuery.count {
            for pair in rest.dropFirst(beforeQuery.count + 1).split(separator: "&") {
                let name = pair.prefix { $0 != "=" }
                let value = pair.dropFirst(name.count + 1)
                guard !name.isEmpty, let decoded = HypervisorURI.percentDecoded(value) else {
                    throw ValueError("'\(text)': malformed query parameter '\(pair)'")
                }
                query.append((String(name), decoded))
            }
        }
        self.query = query
        self.text = text
        if transport.map({ ["ssh", "libssh", "libssh2", "tcp", "tls"].contains($0) }) == true && hostName.isEmpty {
            throw ValueError("'\(text)': the \(transport!) transport needs a host (\(driver)+\(transport!)://[user@]host/…)")
        }
    }

    init(_ text: String) throws(ValueError) { try self.init(ocfValue: text) }

    /// `qemu:///system`, the default: the hypervisor on this host.
    static let localSystem = HypervisorURI(text: "qemu:///system", driver: "qemu", host: "", path: "/system")

    private init(text: String, driver: String, host: String, path: String) {
        self.text = text
        self.driver = driver
        transport = nil
        self.host = host
        self.path = path
        query = []
    }

    var ocfValue: String { text }
    static var contentType: ContentType { .string }

    static func == (a: HypervisorURI, b: HypervisorURI) -> Bool { a.text == b.text }

    /// The host without user and port.
    var hostName: String {
        let afterUser = host.split(separator: "@", maxSplits: 1).last.map(String.init) ?? ""
        if afterUser.hasPrefix("[") { return String(afterUser.prefix { $0 != "]" }.dropFirst()) }
        return String(afterUser.prefix { $0 != ":" })
    }

    func parameter(_ name: String) -> String? { query.last { $0.name == name }?.value }

    /// Uses OpenSSH through libvirt (`+ssh`).
    var usesOpenSSH: Bool { transport == "ssh" }
    /// Uses libvirt's built-in ssh clients (`+libssh`, `+libssh2`).
    var usesLibSSH: Bool { transport == "libssh" || transport == "libssh2" }

    /// The same URI with query parameters added (values encoded).
    func adding(_ parameters: [(String, String)]) -> String {
        guard !parameters.isEmpty else { return text }
        let encoded = parameters.map { "\($0.0)=\(HypervisorURI.percentEncoded($0.1))" }.joined(separator: "&")
        return text + (text.contains("?") ? "&" : "?") + encoded
    }

    /// Where `://` begins.
    static func schemeSeparator(in text: String) -> String.Index? {
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix("://") { return index }
            index = text.index(after: index)
        }
        return nil
    }

    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            // A decoded value is a file name or a command: no control characters.
            guard value >= 0x20, value != 0x7f else { return nil }
            bytes.append(value)
            utf8 = utf8.dropFirst(2)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if scalar.properties.isASCIIHexDigit || (byte < 0x80 && (Character(scalar).isLetter || "-._~/".unicodeScalars.contains(scalar))) {
                encoded.unicodeScalars.append(scalar)
            } else {
                encoded += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return encoded
    }

    static func describe(_ character: Character) -> String {
        guard let scalar = character.unicodeScalars.first, scalar.value >= 0x20, scalar.value != 0x7f else {
            return "a control character"
        }
        return character == " " ? "a space" : "'\(character)'"
    }

    static func printable(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }
}

/// The hypervisors a device asks: one URI, or several separated by spaces. A domain defined on
/// several hosts (live migration with --persistent and without --undefinesource) is "off" on
/// one while it runs on another: every one of them must agree it is off.
struct HypervisorURIs: OCFValue, Equatable {
    let all: [HypervisorURI]

    init(ocfValue text: String) throws(ValueError) {
        var uris: [HypervisorURI] = []
        for part in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let uri = try HypervisorURI(ocfValue: String(part))
            if uris.contains(uri) { throw ValueError("'\(part)' is given twice") }
            uris.append(uri)
        }
        guard !uris.isEmpty else { throw ValueError("no libvirt URI given") }
        all = uris
    }

    init(_ uris: [HypervisorURI]) { all = uris }

    static let localSystem = HypervisorURIs([.localSystem])

    var ocfValue: String { all.map(\.text).joined(separator: " ") }
    static var contentType: ContentType { .string }

    /// How logs and errors name them.
    var text: String { ocfValue }
}
