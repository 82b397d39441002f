import Glibc
import OCF
import POSIX

/// Keeps one node attribute at the latest value the checker wants, from a thread of its own: a
/// slow or absent attrd never holds up the checks, the verdicts or the heartbeat, and a failed
/// update is retried (1 s, then up to 10 s apart) until one succeeds or a newer value replaces it.
public final class AttributePublisher: @unchecked Sendable {
    public typealias Update = @Sendable (_ value: String) throws -> Void

    private let lock = ConditionLock()
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
        do {
            try Threads.detach { self.run() }
        } catch {
            log.error("node attribute \(name): cannot start its thread (\(error)); it will not be published")
        }
    }

    /// Asks for `value` to be published (a newer call replaces a value not yet published).
    public func publish(_ value: String) {
        lock.withLock {
            wanted = value
            lock.signal()
        }
    }

    /// Ends the thread (a reload named another attribute): nothing more is published.
    public func retire() {
        lock.withLock {
            retired = true
            lock.signal()
        }
    }

    /// Whether every value asked for has been published.
    public var isPublished: Bool { lock.withLock { wanted == nil } }

    private func run() {
        var pause = firstRetry
        lock.lock()
        defer { lock.unlock() }
        while true {
            while wanted == nil && !retired { lock.wait() }
            guard !retired, let value = wanted else { return }
            lock.unlock()
            var failure: (any Error)?
            do { try update(value) } catch { failure = error }
            lock.lock()
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
            let until = ContinuousClock.now + pause
            while wanted == value, !retired, lock.wait(until: until) {}
            pause = min(pause * 2, lastRetry)
        }
    }
}
