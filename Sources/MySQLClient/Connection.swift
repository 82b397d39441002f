internal import CMariaDB
import Glibc
import MySQLReplication

/// An error from the client library or the server: its number and message.
public struct MySQLError: Error, Sendable, CustomStringConvertible {
    public let errno: UInt32
    public let message: String
    /// A connection attempt that failed well within its timeout.
    public let failedAtOnce: Bool

    public init(errno: UInt32, message: String, failedAtOnce: Bool = false) {
        self.errno = errno
        self.message = message
        self.failedAtOnce = failedAtOnce
    }

    public var description: String { "error \(errno): \(message)" }

    /// Nothing listens: the socket file is missing or refuses (ENOENT, ECONNREFUSED), or the TCP
    /// port refused at once. libmariadb reports a TCP connect that timed out with the same
    /// EINPROGRESS (115) as a refused one: only one that failed at once is a refusal, else the
    /// server may be frozen with its listen queue full.
    public var isNotListening: Bool {
        guard errno == 2002 || errno == 2003 else { return false }
        if message.hasSuffix("(2)") || message.hasSuffix("(111)") || message.contains("(111 ") || message.contains("(2 ") { return true }
        return message.hasSuffix("(115)") && failedAtOnce
    }

    /// The server did not answer in time or dropped the connection (a frozen or overloaded
    /// server, a network that swallows packets).
    public var isNoAnswer: Bool { [2006, 2013, 2026, 2027, 2055].contains(errno) || (errno == 2002 && !isNotListening) }

    /// The login was refused: wrong password or user, locked or expired account, or a host
    /// without an account (1045, 1698, 4151, 1820, 1130).
    public var isLoginRefused: Bool { [1045, 1698, 4151, 1820, 1130].contains(errno) }

    /// The account lacks a privilege for a statement (1227, 1142, 1044).
    public var isPrivilegeMissing: Bool { [1227, 1142, 1044].contains(errno) }

    /// The server has no free connection slot (1040, or 1226 for the account's own limit).
    public var isServerFull: Bool { errno == 1040 || errno == 1226 }
}

/// How to log in: a client defaults file's `[client]` section holds the user and password
/// (the library reads it; the password never passes through the caller), and the timeouts.
public struct MySQLLogin: Sendable, Equatable {
    public var defaultsFile: String?
    public var database: String?
    /// Bounds the TCP connect and the server's greeting.
    public var connectTimeout: Duration
    /// Bounds each read and write of a statement.
    public var readTimeout: Duration

    public init(defaultsFile: String?, database: String? = nil, connectTimeout: Duration, readTimeout: Duration) {
        self.defaultsFile = defaultsFile
        self.database = database
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
    }
}

/// One client connection through libmariadb: its one owner, closed once in deinit. Blocking
/// calls, each bounded by the timeouts set before connecting, the unix socket included (without
/// them a frozen server hangs a client forever).
public final class MySQLConnection {
    private let handle: UnsafeMutablePointer<MYSQL>
    public let endpoint: MySQLEndpoint

    /// The library's process-wide set-up, once: OpenSSL without its configuration file (no
    /// openssl.cnf read on every agent run).
    private static let prepared: Void = tandem_mysql_prepare()

    public init(_ endpoint: MySQLEndpoint, login: MySQLLogin) throws(MySQLError) {
        _ = Self.prepared
        guard let handle = mysql_init(nil) else { throw MySQLError(errno: 2008, message: "mysql_init: out of memory") }
        self.handle = handle
        self.endpoint = endpoint
        func seconds(_ duration: Duration) -> UInt32 { UInt32(max(1, min(86_400, (duration / .seconds(1)).rounded(.up)))) }
        _ = tandem_mysql_option_uint(handle, MYSQL_OPT_CONNECT_TIMEOUT, seconds(login.connectTimeout))
        _ = tandem_mysql_option_uint(handle, MYSQL_OPT_READ_TIMEOUT, seconds(login.readTimeout))
        _ = tandem_mysql_option_uint(handle, MYSQL_OPT_WRITE_TIMEOUT, seconds(login.readTimeout))
        let host: String?
        let port: UInt32
        let socket: String?
        switch endpoint {
        case .socket(let path):
            _ = tandem_mysql_option_uint(handle, MYSQL_OPT_PROTOCOL, UInt32(MYSQL_PROTOCOL_SOCKET.rawValue))
            (host, port, socket) = ("localhost", 0, path)
        case .tcp(let name, let number):
            _ = tandem_mysql_option_uint(handle, MYSQL_OPT_PROTOCOL, UInt32(MYSQL_PROTOCOL_TCP.rawValue))
            (host, port, socket) = (name, UInt32(number), nil)
        }
        // Named, not derived from the locale (setlocale would read the locale files each run).
        _ = tandem_mysql_option_string(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        if let file = login.defaultsFile {
            _ = tandem_mysql_option_string(handle, MYSQL_READ_DEFAULT_FILE, file)
            _ = tandem_mysql_option_string(handle, MYSQL_READ_DEFAULT_GROUP, "client")
        }
        // On failure deinit closes the handle (it runs for an initialised object that throws).
        let started = ContinuousClock.now
        guard mysql_real_connect(handle, host, nil, nil, login.database, port, socket, 0) != nil else {
            let failure = failure()
            let atOnce = started.duration(to: .now) < min(.milliseconds(500), login.connectTimeout / 2)
            throw MySQLError(errno: failure.errno, message: failure.message, failedAtOnce: atOnce)
        }
    }

    deinit { mysql_close(handle) }

    /// Runs a statement and returns its rows (none for a statement without a result set).
    @discardableResult
    public func query(_ sql: String) throws(MySQLError) -> [SQLRow] {
        guard mysql_real_query(handle, sql, UInt(sql.utf8.count)) == 0 else { throw failure() }
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) == 0 { return [] }
            throw failure()
        }
        defer { mysql_free_result(result) }
        let count = Int(mysql_num_fields(result))
        var names: [String] = []
        if let fields = mysql_fetch_fields(result) {
            for index in 0..<count { names.append(String(cString: fields[index].name)) }
        }
        var rows: [SQLRow] = []
        while let row = mysql_fetch_row(result) {
            let lengths = mysql_fetch_lengths(result)
            var values: [String: SQLValue] = [:]
            for index in 0..<count {
                guard let cell = row[index] else {
                    values[names[index]] = .null
                    continue
                }
                let bytes = UnsafeRawBufferPointer(start: cell, count: Int(lengths?[index] ?? 0))
                values[names[index]] = .text(String(decoding: bytes, as: UTF8.self))
            }
            rows.append(SQLRow(values))
        }
        return rows
    }

    private func failure() -> MySQLError { MySQLError(errno: mysql_errno(handle), message: String(cString: mysql_error(handle))) }
}

/// Text for an SQL string literal: quotes and backslashes escaped byte by byte (a combining
/// mark after a quote must not hide it), as the server reads it in its default SQL mode.
public func sqlQuoted(_ text: String) -> String {
    var bytes: [UInt8] = [UInt8(ascii: "'")]
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "'"): bytes += [UInt8(ascii: "'"), UInt8(ascii: "'")]
        case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
        case 0: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "0")]
        default: bytes.append(byte)
        }
    }
    bytes.append(UInt8(ascii: "'"))
    return String(decoding: bytes, as: UTF8.self)
}
