import Glibc
import StateFiles

/// Writes a whole text file (tests and fixtures only).
public func writeFile(_ path: String, _ text: String) throws {
    guard let file = fopen(path, "w") else { throw LabError("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { fclose(file) }
    let bytes = Array(text.utf8)
    guard bytes.withUnsafeBytes({ fwrite($0.baseAddress, 1, $0.count, file) }) == bytes.count else {
        throw LabError("cannot write \(path)")
    }
}

/// Reads a whole text file; `nil` when it does not exist.
public func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count == 0 { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The names in a directory, sorted; empty when it does not exist.
public func listDirectory(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

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
