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

    /// Ends the process if it is still the recorded one: SIGTERM, with SIGCONT so that a stopped
    /// (frozen) process can act on it; SIGKILL when `patience` has passed; then waits until it
    /// runs no more of its own code (`isDone`). A SIGKILLed process is not gone at once: the
    /// kernel ends it when it next runs, so the SIGKILL comes early enough to leave a margin
    /// before `deadline` for that (a quarter of the time left, at most a second).
    /// - Returns: whether the process is done by `deadline`: `false` only when it is really
    ///   still there (a process in uninterruptible sleep ends only when it wakes).
    @discardableResult
    public func terminate(patience: Duration = .seconds(2), by deadline: ContinuousClock.Instant) -> Bool {
        guard !isDone else { return true }
        kill(pid, SIGTERM)
        kill(pid, SIGCONT)
        let left = ContinuousClock.now.duration(to: deadline)
        let killing = ContinuousClock.now + max(.zero, min(patience, left - min(.seconds(1), left / 4)))
        if awaitDone(until: killing) { return true }
        // Still the recorded process? (It may have ended and its pid been reused meanwhile.)
        guard !isDone else { return true }
        kill(pid, SIGKILL)
        return awaitDone(until: deadline)
    }

    /// Polls until the process is done or `deadline` passes.
    private func awaitDone(until deadline: ContinuousClock.Instant) -> Bool {
        var pause = Duration.microseconds(200)
        while !isDone {
            guard ContinuousClock.now < deadline else { return false }
            sleep(for: min(pause, max(.microseconds(50), ContinuousClock.now.duration(to: deadline))))
            pause = min(pause * 2, .milliseconds(10))
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
