/// A MariaDB GTID position: for each replication domain, the sequence number of the newest
/// transaction (`0-1-100,1-2-7` → domain 0 at 100, domain 1 at 7). The server ID in the middle
/// says who wrote it and does not order anything.
public struct GTIDPosition: Sendable, Equatable, CustomStringConvertible {
    public var sequences: [UInt32: UInt64]

    public init(_ sequences: [UInt32: UInt64] = [:]) { self.sequences = sequences }

    /// Parses a position list; `nil` for text that is not one (empty text is the empty position).
    public init?(_ text: String) {
        sequences = [:]
        for gtid in text.split(separator: ",") {
            let parts = gtid.split(separator: "-", omittingEmptySubsequences: false).map { $0.filter { $0 != " " && $0 != "\n" } }
            guard parts.count == 3, let domain = UInt32(parts[0]), UInt32(parts[1]) != nil, let sequence = UInt64(parts[2]) else {
                return nil
            }
            sequences[domain] = max(sequences[domain] ?? 0, sequence)
        }
    }

    /// The newer sequence of each domain of both.
    public func merging(_ other: GTIDPosition) -> GTIDPosition {
        GTIDPosition(sequences.merging(other.sequences) { max($0, $1) })
    }

    /// Whether every transaction of `other` is in this position: each of its domains at least
    /// as far here.
    public func covers(_ other: GTIDPosition) -> Bool {
        other.sequences.allSatisfy { domain, sequence in (sequences[domain] ?? 0) >= sequence }
    }

    /// The domains of `other` ahead of this position, with how many transactions each is ahead.
    public func missing(from other: GTIDPosition) -> [UInt32: UInt64] {
        var result: [UInt32: UInt64] = [:]
        for (domain, sequence) in other.sequences where sequence > (sequences[domain] ?? 0) {
            result[domain] = sequence - (sequences[domain] ?? 0)
        }
        return result
    }

    /// `domain-0-sequence` for each domain, sorted (the server ID is not kept).
    public var description: String {
        sequences.keys.sorted().map { "\($0)-0-\(sequences[$0]!)" }.joined(separator: ",")
    }
}

/// A replication thread (IO or SQL) as `SHOW REPLICA STATUS` reports it.
public enum ThreadState: Sendable, Equatable, CustomStringConvertible {
    /// `Yes`.
    case running
    /// `No`: stopped by an admin or by an error.
    case stopped
    /// `Connecting` (the IO thread retries its master), or MySQL's `Preparing`.
    case connecting(String)
    /// Anything else, as the server said it.
    case other(String)

    public init(_ text: String) {
        switch text {
        case "Yes": self = .running
        case "No": self = .stopped
        case "Connecting", "Preparing": self = .connecting(text)
        default: self = .other(text)
        }
    }

    /// The server's own word.
    public var description: String {
        switch self {
        case .running: "Yes"
        case .stopped: "No"
        case .connecting(let text), .other(let text): text
        }
    }
}

/// A replica's state as `SHOW REPLICA STATUS` (or `SHOW SLAVE STATUS`) reports it, read by
/// column name under MariaDB's and MySQL 8's names alike. SQL NULL stays NULL: a NULL
/// Seconds_Behind_Master means "unknown", never "no lag".
public struct ReplicaStatus: Sendable, Equatable {
    public var ioRunning: ThreadState
    public var sqlRunning: ThreadState
    public var lastIOErrno: Int
    public var lastIOError: String
    public var lastSQLErrno: Int
    public var lastSQLError: String
    public var secondsBehind: SQLValue
    public var masterHost: String
    public var masterPort: UInt16?
    /// The account the replica logs in to its master with.
    public var masterUser: String
    /// Transactions received (MariaDB's Gtid_IO_Pos); `nil` without GTID replication.
    public var received: GTIDPosition?
    /// The master's binlog coordinates read (IO) and executed (SQL), for replication without GTID.
    public var readFile: String
    public var readPosition: Int64
    public var executedFile: String
    public var executedPosition: Int64

    public init(_ row: SQLRow) {
        ioRunning = ThreadState(row["Slave_IO_Running", "Replica_IO_Running"].text ?? "")
        sqlRunning = ThreadState(row["Slave_SQL_Running", "Replica_SQL_Running"].text ?? "")
        lastIOErrno = Int(row["Last_IO_Errno"].integer ?? 0)
        lastIOError = row["Last_IO_Error"].text ?? ""
        lastSQLErrno = Int(row["Last_SQL_Errno"].integer ?? 0)
        lastSQLError = row["Last_SQL_Error"].text ?? ""
        secondsBehind = row["Seconds_Behind_Master", "Seconds_Behind_Source"]
        masterHost = row["Master_Host", "Source_Host"].text ?? ""
        masterUser = row["Master_User", "Source_User"].text ?? ""
        masterPort = row["Master_Port", "Source_Port"].text.flatMap { UInt16($0) }
        let using = row["Using_Gtid"].text ?? "No"
        let gtid = using != "No" && !using.isEmpty
        received = gtid ? row["Gtid_IO_Pos"].text.flatMap(GTIDPosition.init) : nil
        readFile = row["Master_Log_File", "Source_Log_File"].text ?? ""
        readPosition = row["Read_Master_Log_Pos", "Read_Source_Log_Pos"].integer ?? 0
        executedFile = row["Relay_Master_Log_File", "Relay_Source_Log_File"].text ?? ""
        executedPosition = row["Exec_Master_Log_Pos", "Exec_Source_Log_Pos"].integer ?? 0
    }

    /// Without GTID: whether the SQL thread executed everything the IO thread read.
    public var executedAllRead: Bool { executedFile == readFile && executedPosition >= readPosition }

    /// The master as a TCP endpoint, when the status names one.
    public var master: MySQLEndpoint? {
        guard !masterHost.isEmpty, let masterPort else { return nil }
        return .tcp(host: masterHost, port: masterPort)
    }
}
