import Glibc
import POSIX
import StateFiles

/// A test's set-up or tool failed (not the agent under test).
public struct LabError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Writes a whole text file (tests and fixtures only).
public func writeFile(_ path: String, _ text: String) throws {
    try writeBinaryFile(path, Array(text.utf8))
}

/// Writes a whole file, mode 0644 when it is created (tests and fixtures only).
public func writeBinaryFile(_ path: String, _ bytes: [UInt8]) throws {
    do {
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        defer { file.close() }
        try file.writeAll(bytes)
    } catch {
        throw LabError("cannot write \(path): \(error)")
    }
}

/// Reads a whole text file; `nil` when it does not exist or cannot be read.
public func readFile(_ path: String) -> String? { readTextFile(path) }

/// The names in a directory, sorted; empty when it does not exist.
public func listDirectory(_ path: String) -> [String] { directoryNames(path).sorted() }

/// The repository this test build comes from (test sources find fixtures and scripts from it).
public let repositoryRoot = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")

/// Where labs and reports keep their logs: `lab-logs/` of the repository; inside the IPVS
/// guest (whose filesystem is thrown away) the run directory it shares with the host.
public var labLogsDirectory: String {
    if let shared = getenv("VM_OUTDIR").map({ String(cString: $0) }), !shared.isEmpty { return shared + "/lab-logs" }
    return repositoryRoot + "/lab-logs"
}

/// Now, in nanoseconds since the epoch (CLOCK_REALTIME), the clock packet sockets stamp frames with.
public func realTimeNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Polls `condition` until it holds or `deadline` passes (20 ms apart at first, then up to 500).
public func waitUntil(deadline: ContinuousClock.Instant, _ condition: () throws -> Bool) rethrows -> Bool {
    var pause = Duration.milliseconds(20)
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        sleep(for: pause)
        pause = min(pause * 2, .milliseconds(500))
    }
    return try condition()
}
