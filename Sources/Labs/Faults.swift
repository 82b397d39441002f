import Glibc
import OCF
import OCFTesting

/// The fault table: for each agent, the faults an operator meets (a frozen or killed helper, a
/// backend that accepts and never answers, a full or read-only state directory, a low
/// descriptor limit, a clock step, an interface or namespace gone, IPVS unloaded), what must
/// happen (no false success, no spurious stop failure, a clear exit reason, nothing left
/// behind) and what did. Tests record each cell; the rows of a run go to
/// `lab-logs/faults/<agent>.md` (the fault table of docs/reliability.md is made from them).
public enum FaultTable {
    public struct Row: Sendable {
        public let agent: String
        public let fault: String
        public let expected: String
        public let observed: String
        public let holds: Bool
    }

    private static let rows = LockedRows()

    /// Records one cell and rewrites the agent's report.
    /// - Parameter holds: whether what was observed is what was expected (the test asserts it too).
    public static func record(_ agent: String, _ fault: String, expected: String, observed: String, holds: Bool) {
        let all = rows.append(Row(agent: agent, fault: fault, expected: expected, observed: observed, holds: holds))
        let mine = all.filter { $0.agent == agent }
        let report = "| fault | expected | observed | |\n|---|---|---|---|\n"
            + mine.map { "| \($0.fault) | \($0.expected) | \($0.observed) | \($0.holds ? "as expected" : "NOT AS EXPECTED") |" }
                .joined(separator: "\n") + "\n"
        let directory = labLogsDirectory + "/faults"
        mkdir(labLogsDirectory, 0o755)
        mkdir(directory, 0o755)
        try? writeFile(directory + "/" + agent + ".md", report)
        print("fault table, \(agent): \(fault): \(observed) (\(holds ? "as expected" : "NOT AS EXPECTED"))")
    }

    /// What an action returned, for the observed column: its exit code and exit reason.
    public static func outcome(_ action: String, _ result: AgentRunner.Result) -> String {
        let reason = result.exitReason.map { ": \($0.trimmingPrefix(while: { $0 == " " }))" } ?? ""
        return "\(action) \(result.status)\(reason)"
    }

    final class LockedRows: @unchecked Sendable {
        private var mutex = pthread_mutex_t()
        private var rows: [Row] = []
        init() { pthread_mutex_init(&mutex, nil) }
        func append(_ row: Row) -> [Row] {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            rows.append(row)
            return rows
        }
    }
}

/// A state directory on a small tmpfs of its own, made full (ENOSPC) or read-only (EROFS) under
/// a running resource and made writable again: the faults of a /run that filled up or went
/// read-only. Unmounted in `deinit`.
public final class FaultyDirectory {
    public let path: String
    private var filler: String { path + "/.filler" }

    /// Mounts a 1 MiB tmpfs at `path` (created).
    public init(_ path: String) throws {
        self.path = path
        _ = try Command("/bin/mkdir", ["-p", path]).run(deadline: .now + .seconds(10))
        let mount = try Command("/bin/mount", ["-t", "tmpfs", "-o", "size=1m,mode=0755", "tandem-faults", path]).run(deadline: .now + .seconds(10))
        guard mount.status == 0 else { throw LabError("mount tmpfs at \(path): \(mount.errorOutput)") }
    }

    deinit {
        _ = try? Command("/bin/umount", ["-l", path]).run(deadline: .now + .seconds(10))
    }

    /// Fills the file system: every write fails with ENOSPC (unlinking still works).
    public func fill() throws {
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LabError("cannot create \(filler)") }
        defer { close(fd) }
        var block = [UInt8](repeating: 0x5a, count: 4096)
        while block.withUnsafeMutableBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        // Inodes too: a tmpfs of 1 MiB has few, but make sure no new file fits.
        var index = 0
        while index < 100_000 {
            let small = open(path + "/.f\(index)", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard small >= 0 else { break }
            close(small)
            index += 1
        }
    }

    /// Makes the file system read-only (EROFS on every change).
    public func makeReadOnly() throws {
        let remount = try Command("/bin/mount", ["-o", "remount,ro", path]).run(deadline: .now + .seconds(10))
        guard remount.status == 0 else { throw LabError("remount ro \(path): \(remount.errorOutput)") }
    }

    /// Writable again, with its space back.
    public func repair() throws {
        _ = try Command("/bin/mount", ["-o", "remount,rw", path]).run(deadline: .now + .seconds(10))
        for name in listDirectory(path) where name == ".filler" || name.hasPrefix(".f") { unlink(path + "/" + name) }
    }

    /// The files in it, but the filler's.
    public var files: [String] { listDirectory(path).filter { $0 != ".filler" && !$0.hasPrefix(".f") } }
}

extension AgentRunner {
    /// Runs one action under a descriptor limit (`prlimit --nofile`), as a node whose limits
    /// are low runs it.
    public func run(_ action: String, _ parameters: [String: String], descriptorLimit: Int, interval: Int = 10_000,
                    timeout: Duration = .seconds(20)) throws -> Result {
        let command = command(action, parameters, interval: interval, timeout: timeout,
                              wrapper: ["/usr/bin/prlimit", "--nofile=\(descriptorLimit):\(descriptorLimit)", "--"])
        let deadline = ContinuousClock.now + timeout + .seconds(10)
        let result = try namespace.map { try command.run(in: $0, deadline: deadline) } ?? command.run(deadline: deadline)
        return Result(status: result.status, output: result.output, errorOutput: result.errorOutput)
    }
}
