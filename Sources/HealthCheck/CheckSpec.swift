import Glibc
import MySQLReplication
import OCF

/// One check, as the parameters configure it for every real server of the resource.
public enum CheckSpec: Sendable {
    case tcp
    case tcpExpect(send: [UInt8], expect: [UInt8])
    case http(HTTPCheck)
    case ping
    case external(program: String, arguments: [String])
    case mysql(MySQLCheck)
    case dns(DNSCheck)
    case none
}

public struct DNSCheck: Sendable {
    public let name: String
    public let type: DNSType
    /// One answer must be this (an address, a name, `PREFERENCE HOST` for MX, the text of TXT).
    public let expect: String?
}

/// mysql_lag_source's values. (The conformance lives with the parameters that use it, so the
/// replication types stay below the OCF contract.)
extension LagSource: OCFEnumeration {}

public enum DNSType: String, OCFEnumeration {
    case A, AAAA, CNAME, MX, NS, PTR, SOA, TXT

    public var code: UInt16 {
        switch self {
        case .A: 1
        case .NS: 2
        case .CNAME: 5
        case .SOA: 6
        case .PTR: 12
        case .MX: 15
        case .TXT: 16
        case .AAAA: 28
        }
    }
}

public struct MySQLCheck: Sendable {
    /// A client defaults file (`[client]` user= password=): the password stays in it.
    public let defaultsFile: String
    public let database: String?
    /// Must return at least one row.
    public let query: String
    /// Replication awareness: the server fails when its replica threads stop or it lags more.
    public let maxLag: Int?
    public let lagSource: LagSource
    public let heartbeatTable: String?
    /// Which servers pass: any that answers, only the writer, or readers.
    public let role: MySQLRole

    /// The lag a reader may have when mysql_max_lag is not set.
    public static let defaultReaderLag = 10
}

/// The servers a mysql check passes, for services that must reach only the writer of a
/// master-master pair (read_only OFF) or only servers fit for reads.
public enum MySQLRole: String, OCFEnumeration {
    /// Every server that answers the query (with mysql_max_lag: every healthy replica within it).
    case any
    /// Only the server with read_only OFF: writes never reach two masters.
    case writer
    /// The writer, and replicas whose threads run and whose lag is within mysql_max_lag.
    case reader
}

public struct HTTPCheck: Sendable {
    public let method: String
    public let path: String
    /// The Host header; the real server's address when `nil`.
    public let host: String?
    public let headers: [(String, String)]
    public let statuses: [ClosedRange<Int>]
    public let body: [UInt8]?
    public let bodyPattern: Pattern?
    /// Set for https.
    public let tls: TLSCheck?
    /// How much of the body is read and matched.
    public static let bodyLimit = 64 * 1024

    public func accepts(status: Int) -> Bool { statuses.contains { $0.contains(status) } }

    /// GET `path`, any 2xx or 3xx status, optionally a body substring, no TLS (test tools).
    public static func plain(path: String, body: String? = nil) -> HTTPCheck {
        HTTPCheck(method: "GET", path: path, host: nil, headers: [], statuses: [200...399], body: body.map { Array($0.utf8) },
                  bodyPattern: nil, tls: nil)
    }

    /// `200`, `200-299,301`: codes and ranges from 100 to 599.
    static func parseStatuses(_ text: String) throws(ValueError) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingSpaces) }
            guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil,
                  (100...599).contains(low), (100...599).contains(high), low <= high else {
                throw ValueError("'\(part)' is not a status code or range (100 to 599, e.g. 200-299)")
            }
            ranges.append(low...high)
        }
        return ranges
    }

    /// RFC 9110 token characters (methods, header names).
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (0x21...0x7e).contains(byte) && !"\"(),/:;<=>?@[\\]{}".utf8.contains(byte)
        }
    }
}

public struct TLSCheck: Sendable {
    public let verify: Bool
    public let caFile: String?
    /// SNI and the name verified; the real server's IP address is verified when `nil`.
    public let serverName: String?
}

/// A POSIX extended regular expression, compiled once (glibc's regcomp: no Foundation).
public final class Pattern: @unchecked Sendable {
    private var compiled = regex_t()
    public let source: String

    public init(_ source: String) throws(ValueError) {
        self.source = source
        let code = regcomp(&compiled, source, REG_EXTENDED | REG_NOSUB)
        guard code == 0 else {
            var message = [CChar](repeating: 0, count: 256)
            regerror(code, &compiled, &message, message.count)
            throw ValueError("'\(source)' is not a regular expression: \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
    }

    deinit { regfree(&compiled) }

    /// Whether the text matches anywhere. NUL bytes end the text for regexec.
    public func matches(_ bytes: some Collection<UInt8>) -> Bool {
        var text = Array(bytes.prefix { $0 != 0 })
        text.append(0)
        return text.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { regexec(&compiled, $0.baseAddress, 0, nil, 0) == 0 }
        }
    }
}

/// `\r \n \t \\ \xHH` in tcp_send and tcp_expect.
enum Escapes {
    static func decode(_ text: String) throws(ValueError) -> [UInt8] {
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.popFirst() {
            guard byte == UInt8(ascii: "\\") else { bytes.append(byte); continue }
            switch input.popFirst() {
            case UInt8(ascii: "r"): bytes.append(0x0d)
            case UInt8(ascii: "n"): bytes.append(0x0a)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "x"):
                let hex = String(decoding: input.prefix(2), as: UTF8.self)
                guard hex.count == 2, let value = UInt8(hex, radix: 16) else { throw ValueError("\\x needs two hex digits") }
                bytes.append(value)
                input = input.dropFirst(2)
            default:
                throw ValueError("unknown escape (\\r \\n \\t \\\\ \\xHH)")
            }
        }
        return bytes
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        drop { $0 == " " }.reversed().drop { $0 == " " }.reversed().reduce(into: "") { $0.append($1) }[...]
    }
}
