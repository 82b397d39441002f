import Glibc
import OCF
import POSIX
import Synchronization

/// A deadline around calls that can block without limit (connecting to a host that accepts
/// TCP and never answers, a frozen libvirtd): when it passes, the process kills its children
/// (an ssh transport), writes "<what> timed out after N s" and exits 1.
///
/// A thread rather than a signal: reporting and killing children are not async-signal-safe.
/// Exiting is the only way out of a blocked libvirt call, and a fence agent's run is one action.
public enum Watchdog {
    struct Armed {
        let deadline: ContinuousClock.Instant
        let what: String
        let limit: Duration
        let log: Log
        let exitCode: Int32
        let output: String
        /// Logged as a warning instead of the timeout's error (the action's outcome is known).
        let warning: String?
    }

    /// The deadline in force, and whether the watchdog has claimed it: from then on only the
    /// watchdog reports (the call it interrupts fails too, killed ssh and all, and must not have
    /// the last word on stderr: Pacemaker reads a timeout from "timed out").
    struct State {
        var armed: Armed?
        var expired = false
    }

    static let state = Mutex(State())
    /// Whether the watching thread runs (it is started once, on first use).
    static let started = Mutex(false)

    /// Runs `body`; if it has not returned within `limit`, the process exits as described, with
    /// `exitCode` and `output` on stdout (a reboot whose off is done has fenced its node even
    /// when the start that follows hangs; an action whose outcome is known is not undone by a
    /// connection that will not close, and says so as `warning`).
    public static func within<T, E: Error>(_ limit: Duration, _ what: String, log: Log, exitCode: Int32 = 1, output: String = "",
                                           warning: String? = nil, _ body: () throws(E) -> T) throws(E) -> T {
        startThread()
        state.withLock {
            $0.armed = Armed(deadline: .now + limit, what: what, limit: limit, log: log, exitCode: exitCode, output: output, warning: warning)
        }
        let result: Result<T, E>
        do throws(E) {
            result = .success(try body())
        } catch {
            result = .failure(error)
        }
        let expired = state.withLock { state -> Bool in
            if !state.expired { state.armed = nil }
            return state.expired
        }
        // Too late: the watchdog is reporting the timeout and exits the process.
        while expired {
            var pause = timespec(tv_sec: 1, tv_nsec: 0)
            nanosleep(&pause, nil)
        }
        return try result.get()
    }

    static func startThread() {
        started.withLock { started in
            guard !started else { return }
            started = (try? Threads.detach { Watchdog.watch() }) != nil
        }
    }

    static func watch() -> Never {
        while true {
            let now = ContinuousClock.now
            let due = state.withLock { state -> Armed? in
                guard let armed = state.armed, armed.deadline <= now else { return nil }
                state.expired = true
                return armed
            }
            if let due { expire(due) }
            // A deadline is met within 10 ms; the agent lives for a second or so.
            var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            nanosleep(&pause, nil)
        }
    }

    static func expire(_ armed: Armed) -> Never {
        killChildren()
        if let warning = armed.warning {
            armed.log.warning("\(armed.what) timed out after \(armed.limit.seconds) s: \(warning)")
        } else {
            armed.log.error("\(armed.what) timed out after \(armed.limit.seconds) s")
        }
        Log.writeStandardOutput(armed.output)
        _exit(armed.exitCode)
    }

    /// SIGKILLs every process whose parent is this one (libvirt's ssh, which would otherwise
    /// wait for a banner forever).
    static func killChildren() {
        let me = getpid()
        for name in directoryNames("/proc") {
            guard let pid = Int32(name), let parent = parentOf(pid), parent == me else { continue }
            kill(pid, SIGKILL)
        }
    }

    /// The PPID field of `/proc/<pid>/stat` (the fourth, after the parenthesised command).
    static func parentOf(_ pid: Int32) -> Int32? {
        let descriptor = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }
}

extension Duration {
    /// Whole and fractional seconds, e.g. `10` or `2.5`.
    var seconds: String {
        let milliseconds = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)" : "\(Double(milliseconds) / 1000)"
    }
}
