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
        guard let status = ProcessIdentity.status(of: pid), !status.exiting else { return nil }
        self.init(pid: pid, startTime: status.startTime)
    }

    /// Parses `<pid>@<start time>`, the recorded form.
    public init?(_ text: String) {
        let parts = text.split(separator: "@")
        guard parts.count == 2, let pid = pid_t(parts[0]), pid > 0, let start = UInt64(parts[1]) else { return nil }
        self.init(pid: pid, startTime: start)
    }

    public var description: String { "\(pid)@\(startTime)" }

    /// The process still runs its own code (and is the same process).
    public var isRunning: Bool { !isDone }

    /// The process is gone or exiting: it can run no more of its own code. (An exiting process
    /// may still be closing its files, which can take a while: a packet socket's last close
    /// waits for an RCU grace period.)
    public var isDone: Bool {
        guard let status = ProcessIdentity.status(of: pid), status.startTime == startTime else { return true }
        return status.exiting
    }

    /// Sends SIGTERM if the process is still the recorded one, then waits until it runs no more
    /// of its own code (`isDone`), with SIGKILL when `deadline` passes.
    /// - Returns: whether the process is done.
    @discardableResult
    public func terminate(by deadline: ContinuousClock.Instant) -> Bool {
        guard !isDone else { return true }
        kill(pid, SIGTERM)
        while !isDone {
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                return isDone
            }
            sleep(for: .milliseconds(1))
        }
        return true
    }

    /// Reads `/proc/<pid>/stat`: the start time (field 22) and whether the process is exiting
    /// (a zombie, or PF_EXITING in the flags, field 9). The command name (field 2) may contain
    /// spaces and parentheses, so fields are counted after its last `)`.
    static func status(of pid: pid_t) -> (startTime: UInt64, exiting: Bool)? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0, let close = buffer[..<count].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = buffer[(close + 1)..<count].split(separator: UInt8(ascii: " "))
        // After ")": field 3 (state) is index 0, field 9 (flags) index 6, field 22 index 19.
        guard fields.count > 19, let start = UInt64(String(decoding: fields[19], as: UTF8.self)),
              let flags = UInt32(String(decoding: fields[6], as: UTF8.self)) else { return nil }
        let zombie = fields[0].first == UInt8(ascii: "Z") || fields[0].first == UInt8(ascii: "X")
        return (start, zombie || flags & 0x4 != 0)  // PF_EXITING
    }
}
