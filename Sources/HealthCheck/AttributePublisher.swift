import Glibc
import OCF

/// Keeps one node attribute at the latest value the checker wants, from a thread of its own: a
/// slow or absent attrd never holds up the checks, the verdicts or the heartbeat, and a failed
/// update is retried (1 s, then up to 10 s apart) until one succeeds or a newer value replaces it.
public final class AttributePublisher: @unchecked Sendable {
    public typealias Update = @Sendable (_ value: String) throws -> Void

    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    /// The value to publish; `nil` once it is published.
    private var wanted: String?
    private var failing = false
    private var retired = false
    private let name: String
    private let update: Update
    private let log: Log
    private let firstRetry: Duration
    private let lastRetry: Duration

    /// - Parameters:
    ///   - update: publishes one value (attrd_updater by default), throwing when it fails.
    public init(name: String, log: Log, firstRetry: Duration = .seconds(1), lastRetry: Duration = .seconds(10),
                update: Update? = nil) {
        self.name = name
        self.log = log
        self.firstRetry = firstRetry
        self.lastRetry = lastRetry
        self.update = update ?? { value in try NodeAttributes(deadline: .now + .seconds(5)).update(name, to: value) }
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        if pthread_create(&thread, nil, { argument in
            Unmanaged<AttributePublisher>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, box) == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<AttributePublisher>.fromOpaque(box).release()
            log.error("node attribute \(name): cannot start its thread; it will not be published")
        }
    }

    /// Asks for `value` to be published (a newer call replaces a value not yet published).
    public func publish(_ value: String) {
        pthread_mutex_lock(&mutex)
        wanted = value
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Ends the thread (a reload named another attribute): nothing more is published.
    public func retire() {
        pthread_mutex_lock(&mutex)
        retired = true
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Whether every value asked for has been published.
    public var isPublished: Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return wanted == nil
    }

    private func run() {
        var pause = firstRetry
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while true {
            while wanted == nil && !retired { pthread_cond_wait(&condition, &mutex) }
            guard !retired, let value = wanted else { return }
            pthread_mutex_unlock(&mutex)
            var failure: (any Error)?
            do { try update(value) } catch { failure = error }
            pthread_mutex_lock(&mutex)
            if failure == nil {
                if wanted == value { wanted = nil }
                if failing { log.info("node attribute \(name) is \(value) again (attrd answers)") }
                failing = false
                pause = firstRetry
                continue
            }
            if !failing, let failure {
                let reason = (failure as? OCFError)?.reason ?? "\(failure)"
                log.warning("node attribute \(name): \(reason); retrying until it succeeds")
            }
            failing = true
            // Waits out the pause, unless a newer value comes first (tried at once).
            var until = timespec()
            clock_gettime(CLOCK_MONOTONIC, &until)
            let nanoseconds = Int(until.tv_nsec) + Int(pause.components.attoseconds / 1_000_000_000)
            until.tv_sec += Int(pause.components.seconds) + nanoseconds / 1_000_000_000
            until.tv_nsec = nanoseconds % 1_000_000_000
            while wanted == value, !retired, pthread_cond_timedwait(&condition, &mutex, &until) != ETIMEDOUT {}
            pause = min(pause * 2, lastRetry)
        }
    }
}
