import Glibc
import HealthCheck
import POSIX

/// Threads for checks that block one (an external program, libmariadb), sized by the checks in
/// flight: a check never waits in a queue for a thread that a hanging check holds. A job that
/// finds no idle thread gets a new one; a thread idle for `idleLimit` ends, down to `kept`.
///
/// With at most one check in flight per target (`claim`/`release`), the threads are bounded by
/// the targets, and a target whose last check still blocks its thread gets no second one.
final class BlockingWorkers: @unchecked Sendable {
    private let lock = ConditionLock()
    private var jobs: [() -> Void] = []
    /// Threads waiting for a job.
    private var idle = 0
    private(set) var threads = 0
    /// Targets whose last blocking call has not returned.
    private var busy: Set<Target> = []
    private var retired = false
    let kept: Int
    let idleLimit: Duration

    init(kept: Int = 2, idleLimit: Duration = .seconds(30)) {
        self.kept = kept
        self.idleLimit = idleLimit
    }

    /// Marks `target` as having a blocking call under way; `false` when its previous one has
    /// not returned yet (it hangs past its own timeouts).
    func claim(_ target: Target) -> Bool {
        lock.withLock { busy.insert(target).inserted }
    }

    func release(_ target: Target) {
        lock.withLock { _ = busy.remove(target) }
    }

    /// Runs `job` on a thread at once: an idle one, else a new one.
    /// - Returns: `false` when no thread could be started (the job did not run).
    @discardableResult
    func run(_ job: @escaping () -> Void) -> Bool {
        lock.lock()
        jobs.append(job)
        if idle >= jobs.count {
            lock.signal()
            lock.unlock()
            return true
        }
        threads += 1
        lock.unlock()
        do {
            try Threads.detach { self.work() }
            return true
        } catch {
            // Out of threads: an idle one may still take it; if none, it is dropped here.
            return lock.withLock {
                threads -= 1
                if idle > 0 { return true }
                jobs.removeLast()
                return false
            }
        }
    }

    /// Lets idle threads end (checks still running finish first).
    func retire() {
        lock.withLock {
            retired = true
            lock.broadcast()
        }
    }

    private func work() {
        lock.lock()
        while true {
            if let job = jobs.first {
                jobs.removeFirst()
                lock.unlock()
                job()
                lock.lock()
                continue
            }
            if retired || !waitForJob() {
                threads -= 1
                lock.unlock()
                return
            }
        }
    }

    /// Waits (holding the lock) until a job comes; `false` when idle long enough to end.
    private func waitForJob() -> Bool {
        idle += 1
        defer { idle -= 1 }
        let until = ContinuousClock.now + idleLimit
        while jobs.isEmpty && !retired {
            if !lock.wait(until: until) && jobs.isEmpty {
                return threads <= kept
            }
        }
        return !retired || !jobs.isEmpty
    }
}
