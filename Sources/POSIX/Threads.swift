import Glibc

/// Threads of Tandem's own (a check's, the checker's helpers', a test's sampler): detached, each
/// holding what its body captures until the body returns.
public enum Threads {
    final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Starts `body` on a new detached thread.
    /// - Throws: `Errno` from pthread_create (EAGAIN: out of threads).
    public static func detach(_ body: @escaping () -> Void) throws(Errno) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let code = pthread_create(&thread, nil, { argument in
            Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, context)
        guard code == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw Errno(code)
        }
        pthread_detach(thread)
    }
}

/// A mutex with a condition variable on the monotonic clock, for threads that wait for work or
/// for a while: a step of the wall clock never shortens or stretches a wait.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits for a signal, the lock held (a wake-up may come without one: check again).
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits for a signal for `duration` at most, the lock held.
    /// - Returns: `false` when the time passed.
    @discardableResult
    public func wait(for duration: Duration) -> Bool {
        guard duration > .zero else { return false }
        var until = timespec()
        clock_gettime(CLOCK_MONOTONIC, &until)
        let nanoseconds = Int64(until.tv_nsec) + duration.components.attoseconds / 1_000_000_000
        until.tv_sec += Int(duration.components.seconds) + Int(nanoseconds / 1_000_000_000)
        until.tv_nsec = Int(nanoseconds % 1_000_000_000)
        return pthread_cond_timedwait(condition, mutex, &until) != ETIMEDOUT
    }

    /// Waits for a signal until `deadline` at most, the lock held; `false` when it passed.
    @discardableResult
    public func wait(until deadline: ContinuousClock.Instant) -> Bool {
        wait(for: ContinuousClock.now.duration(to: deadline))
    }

    public func signal() { pthread_cond_signal(condition) }
    public func broadcast() { pthread_cond_broadcast(condition) }
}
