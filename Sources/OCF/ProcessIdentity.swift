import Glibc

/// A process named by its pid and its start time, so a recorded process is never confused
/// with a later one that reuses the pid.
public struct ProcessIdentity: Equatable, Sendable, CustomStringConvertible {
    public let pid: pid_t
    /// Field 22 of `/proc/<pid>/stat`: clock ticks after boot when the process started.
    public let startTime: UInt64

    public init(pid: pid_t, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// The identity of a running process; `nil` when there is none with that pid.
    public init?(pid: pid_t) {
        guard let start = ProcessIdentity.startTime(of: pid) else { return nil }
        self.init(pid: pid, startTime: start)
    }

    /// Parses `<pid>@<start time>`, the recorded form.
    public init?(_ text: String) {
        let parts = text.split(separator: "@")
        guard parts.count == 2, let pid = pid_t(parts[0]), pid > 0, let start = UInt64(parts[1]) else { return nil }
        self.init(pid: pid, startTime: start)
    }

    public var description: String { "\(pid)@\(startTime)" }

    /// The process still runs (and is the same process).
    public var isRunning: Bool { ProcessIdentity.startTime(of: pid) == startTime }

    /// Sends SIGTERM if the process is still the recorded one, then waits until it is gone,
    /// with SIGKILL when `deadline` passes.
    /// - Returns: whether the process is gone.
    @discardableResult
    public func terminate(by deadline: ContinuousClock.Instant) -> Bool {
        guard isRunning else { return true }
        kill(pid, SIGTERM)
        while isRunning {
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                return !isRunning
            }
            sleep(for: .milliseconds(2))
        }
        return true
    }

    /// Reads the start time from `/proc/<pid>/stat`. The command name (field 2) may contain
    /// spaces and parentheses, so fields are counted after its last `)`.
    static func startTime(of pid: pid_t) -> UInt64? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0, let close = buffer[..<count].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = buffer[(close + 1)..<count].split(separator: UInt8(ascii: " "))
        // After ")": field 3 (state) is index 0, so field 22 is index 19. A zombie is not running.
        guard fields.count > 19, fields[0].first != UInt8(ascii: "Z") else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }
}
