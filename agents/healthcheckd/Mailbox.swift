import Glibc
import HealthCheck

/// What wakes the daemon's control loop.
enum Event: Sendable {
    case result(Target, started: ContinuousClock.Instant, CheckOutcome, latency: Duration)
    case signal(Int32)
}

/// A queue the event loop and the signal thread post to and the control loop waits on.
final class Mailbox: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var events: [Event] = []

    init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    func post(_ event: Event) {
        pthread_mutex_lock(&mutex)
        events.append(event)
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Everything posted, waiting until `deadline` when nothing is.
    func take(waitingUntil deadline: ContinuousClock.Instant) -> [Event] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while events.isEmpty {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { break }
            var time = timespec()
            clock_gettime(CLOCK_MONOTONIC, &time)
            let total = Int64(time.tv_nsec) + remaining.components.attoseconds / 1_000_000_000
            time.tv_sec += Int(remaining.components.seconds) + Int(total / 1_000_000_000)
            time.tv_nsec = Int(total % 1_000_000_000)
            _ = pthread_cond_timedwait(&condition, &mutex, &time)
        }
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

    static func forward(to mailbox: Mailbox) {
        let box = Unmanaged.passRetained(mailbox)
        var thread = pthread_t()
        pthread_create(&thread, nil, { argument in
            let mailbox = Unmanaged<Mailbox>.fromOpaque(argument!).takeUnretainedValue()
            var set = sigset_t()
            sigemptyset(&set)
            for signal in Signals.handled { sigaddset(&set, signal) }
            while true {
                var received: Int32 = 0
                if sigwait(&set, &received) == 0 { mailbox.post(.signal(received)) }
            }
        }, box.toOpaque())
    }
}
