internal import CMariaDB
import HealthCheck

/// One MariaDB/MySQL client connection through libmariadb: its one owner, closed in deinit.
/// Blocking calls, every one bounded by the connect, read and write timeouts set before
/// connecting (a frozen server cannot hang it).
final class MySQLConnection {
    private let handle: UnsafeMutablePointer<MYSQL>

    struct Failure: Error, CustomStringConvertible {
        let errno: UInt32
        let message: String
        var description: String { "MySQL error \(errno): \(message)" }
    }

    /// A value as the server sent it: SQL NULL stays distinct from an empty string.
    enum Value: Equatable {
        case null
        case text(String)
        var text: String? { if case .text(let value) = self { value } else { nil } }
    }

    /// Connects and logs in with the credentials of a client defaults file (`[client]`
    /// section): the password is read by the library from the file, never passed around.
    init(host: String, port: UInt16, defaultsFile: String?, database: String?, timeout: Duration) throws {
        guard let handle = mysql_init(nil) else { throw Failure(errno: 0, message: "mysql_init: out of memory") }
        self.handle = handle
        let seconds = UInt32(max(1, (timeout / .seconds(1)).rounded(.up)))
        _ = tandem_mysql_option_uint(handle, MYSQL_OPT_CONNECT_TIMEOUT, seconds)
        _ = tandem_mysql_option_uint(handle, MYSQL_OPT_READ_TIMEOUT, seconds)
        _ = tandem_mysql_option_uint(handle, MYSQL_OPT_WRITE_TIMEOUT, seconds)
        _ = tandem_mysql_option_uint(handle, MYSQL_OPT_PROTOCOL, UInt32(MYSQL_PROTOCOL_TCP.rawValue))
        if let defaultsFile {
            _ = tandem_mysql_option_string(handle, MYSQL_READ_DEFAULT_FILE, defaultsFile)
            _ = tandem_mysql_option_string(handle, MYSQL_READ_DEFAULT_GROUP, "client")
        }
        // On failure deinit closes the handle (it runs for an initialised object that throws).
        guard mysql_real_connect(handle, host, nil, nil, database, UInt32(port), nil, 0) != nil else {
            throw Failure(errno: mysql_errno(handle), message: String(cString: mysql_error(handle)))
        }
    }

    deinit { mysql_close(handle) }

    /// Runs a query and returns its rows, each as column name → value.
    func query(_ sql: String) throws -> [[String: Value]] {
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
        var rows: [[String: Value]] = []
        while let row = mysql_fetch_row(result) {
            let lengths = mysql_fetch_lengths(result)
            var values: [String: Value] = [:]
            for index in 0..<count {
                guard let cell = row[index] else {
                    values[names[index]] = .null
                    continue
                }
                let length = Int(lengths?[index] ?? 0)
                let bytes = UnsafeRawBufferPointer(start: cell, count: length)
                values[names[index]] = .text(String(decoding: bytes, as: UTF8.self))
            }
            rows.append(values)
        }
        return rows
    }

    private func failure() -> Failure { Failure(errno: mysql_errno(handle), message: String(cString: mysql_error(handle))) }
}

/// What the mysql check found on one server.
enum MySQLVerdict {
    /// Replication state of a replica, for the lag rules.
    struct Replication {
        var ioRunning: String
        var sqlRunning: String
        var lastIOErrno: String
        var lastSQLErrno: String
        var secondsBehind: MySQLConnection.Value
        /// Received (Gtid_IO_Pos) and applied (@@gtid_slave_pos) positions, by domain.
        var received: [UInt32: UInt64]
        var applied: [UInt32: UInt64]
    }

    /// `0-1-100,1-2-7` → domain → sequence number.
    static func positions(_ text: String) -> [UInt32: UInt64] {
        var result: [UInt32: UInt64] = [:]
        for gtid in text.split(separator: ",") {
            let parts = gtid.split(separator: "-").map { $0.filter { $0 != " " } }
            guard parts.count == 3, let domain = UInt32(parts[0]), let sequence = UInt64(parts[2]) else { continue }
            result[domain] = max(result[domain] ?? 0, sequence)
        }
        return result
    }

    /// The replica status row by column name, MariaDB's and MySQL 8's names alike.
    static func replication(_ row: [String: MySQLConnection.Value], applied: String) -> Replication {
        func column(_ names: String...) -> MySQLConnection.Value {
            for name in names { if let value = row[name] { return value } }
            return .null
        }
        return Replication(
            ioRunning: column("Slave_IO_Running", "Replica_IO_Running").text ?? "",
            sqlRunning: column("Slave_SQL_Running", "Replica_SQL_Running").text ?? "",
            lastIOErrno: column("Last_IO_Errno").text ?? "0", lastSQLErrno: column("Last_SQL_Errno").text ?? "0",
            secondsBehind: column("Seconds_Behind_Master", "Seconds_Behind_Source"),
            received: positions(column("Gtid_IO_Pos").text ?? ""), applied: positions(applied))
    }
}
