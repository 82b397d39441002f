import Glibc
import HealthCheck
import POSIX

/// What wakes the daemon's control loop.
enum Event: Sendable {
    case result(Target, started: ContinuousClock.Instant, CheckOutcome, latency: Duration)
    case signal(Int32)
}

/// A queue the event loop and the signal thread post to and the control loop waits on.
final class Mailbox: @unchecked Sendable {
    private let lock = ConditionLock()
    private var events: [Event] = []

    func post(_ event: Event) {
        lock.withLock {
            events.append(event)
            lock.signal()
        }
    }

    /// Everything posted, waiting until `deadline` when nothing is.
    func take(waitingUntil deadline: ContinuousClock.Instant) -> [Event] {
        lock.lock()
        defer { lock.unlock() }
        while events.isEmpty && lock.wait(until: deadline) {}
        let taken = events
        events = []
        return taken
    }
}

/// SIGTERM, SIGINT and SIGHUP, delivered to the mailbox by a thread of their own (blocked in
/// every other thread, so no handler ever runs on the event loop).
enum Signals {
    static let handled: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    /// Blocks the signals in this thread and every thread created after.
    static func block() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Lets the signals through again (their default action: the process ends).
    static func unblock() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// - Throws: `Errno` when the thread cannot be started.
    static func forward(to mailbox: Mailbox) throws(Errno) {
        try Threads.detach {
            var set = sigset_t()
            sigemptyset(&set)
            for signal in Signals.handled { sigaddset(&set, signal) }
            while true {
                var received: Int32 = 0
                if sigwait(&set, &received) == 0 { mailbox.post(.signal(received)) }
            }
        }
    }
}
