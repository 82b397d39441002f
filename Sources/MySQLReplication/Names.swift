/// How replication lag is measured.
public enum LagSource: String, CaseIterable, Sendable {
    /// How long transactions have been received but not applied (Gtid_IO_Pos against
    /// @@gtid_slave_pos, every domain; MariaDB), and never less than Seconds_Behind_Master.
    case gtid
    /// Now − the newest `ts` of a heartbeat table the writer updates every second (pt-heartbeat --utc).
    case heartbeat
    /// The server's own figure: 0 while a master is frozen and at the start of a long statement.
    case secondsBehindMaster = "seconds_behind_master"
}

/// Unquoted SQL identifiers: letters, digits, _ and $, at most 64 bytes.
public func isSQLIdentifier(_ text: String) -> Bool {
    !text.isEmpty && text.utf8.count <= 64 && text.utf8.allSatisfy { byte in
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$")
    }
}

/// `DATABASE.TABLE` of unquoted identifiers.
public func isSQLTableName(_ text: String) -> Bool {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 2 && parts.allSatisfy { isSQLIdentifier(String($0)) }
}

