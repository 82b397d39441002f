/// Where a server listens: its unix socket, or a TCP host and port (never falling back to the
/// socket: a host means TCP).
public enum MySQLEndpoint: Sendable, Equatable, CustomStringConvertible {
    case socket(String)
    case tcp(host: String, port: UInt16)

    public var description: String {
        switch self {
        case .socket(let path): path
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

/// A value as the server sent it, in the text protocol: SQL NULL stays distinct from an empty
/// string.
public enum SQLValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case text(String)

    public var text: String? { if case .text(let value) = self { value } else { nil } }
    public var integer: Int64? { text.flatMap { Int64($0) } }
    public var isNull: Bool { self == .null }
    public var description: String { text ?? "NULL" }
}

/// One row of a result, its values by column name.
public struct SQLRow: Sendable, Equatable {
    public var values: [String: SQLValue]
    public init(_ values: [String: SQLValue]) { self.values = values }

    /// The value of the first of `names` the row has (a column renamed between versions, e.g.
    /// `Slave_IO_Running` / `Replica_IO_Running`); `.null` when it has none.
    public subscript(_ names: String...) -> SQLValue { self[names] }
    public subscript(_ names: [String]) -> SQLValue {
        for name in names { if let value = values[name] { return value } }
        return .null
    }
}

