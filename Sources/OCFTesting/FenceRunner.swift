import Glibc
import OCF
import POSIX

/// Runs a fence agent as pacemaker-fenced does (no arguments, `key=value` lines on stdin) or
/// as a person does (command-line options), and times it.
public struct FenceRunner: Sendable {
    public let executable: String

    public init(_ executable: String) { self.executable = executable }

    public struct Result: Sendable, CustomStringConvertible {
        public let status: Int32
        public let output: String
        public let errorOutput: String
        public let elapsed: Duration
        public let timedOut: Bool
        public var description: String {
            "exit \(status) after \(elapsed)\(timedOut ? " (killed at the deadline)" : "")\nstdout: \(output)\nstderr: \(errorOutput)"
        }
        /// stderr's last line: the reason a failure gives Pacemaker.
        public var reason: String { errorOutput.split(separator: "\n").last.map(String.init) ?? "" }
    }

    /// The fencer's way: `options` as stdin lines, in the given order.
    public func run(_ options: [(String, String)], timeout: Duration = .seconds(120)) throws -> Result {
        let input = options.map { "\($0.0)=\($0.1)\n" }.joined()
        return try measure(Command(executable, [], input: Array(input.utf8)), timeout: timeout)
    }

    /// A person's way: command-line arguments.
    public func run(arguments: [String], timeout: Duration = .seconds(120)) throws -> Result {
        try measure(Command(executable, arguments), timeout: timeout)
    }

    private func measure(_ command: Command, timeout: Duration) throws -> Result {
        let started = ContinuousClock.now
        let result = try command.run(deadline: .now + timeout)
        return Result(status: result.status, output: result.output, errorOutput: result.errorOutput,
                      elapsed: .now - started, timedOut: result.timedOut)
    }
}

/// Processes with an argument that contains `text`, e.g. the port of an ssh a timed-out agent
/// could leave behind.
public func processes(withArgumentContaining text: String) -> [pid_t] {
    listDirectory("/proc").compactMap { Int32($0) }.filter { pid in
        guard pid != getpid(), let data = try? readWholeFile("/proc/\(pid)/cmdline") else { return false }
        return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self).contains(text) }
    }
}

/// Every process below `pid` (children, their children, …).
public func descendants(of pid: pid_t) -> [pid_t] {
    var parents: [pid_t: [pid_t]] = [:]
    for candidate in listDirectory("/proc").compactMap({ Int32($0) }) {
        guard let stat = readFile("/proc/\(candidate)/stat"), let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 1, let parent = Int32(fields[1]) { parents[parent, default: []].append(candidate) }
    }
    var found: [pid_t] = []
    var queue = [pid]
    while let next = queue.popLast() {
        let children = parents[next] ?? []
        found += children
        queue += children
    }
    return found
}
