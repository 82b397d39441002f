import Glibc
import HealthCheck

/// Threads for checks that block one (an external program, libmariadb), sized by the checks in
/// flight: a check never waits in a queue for a thread that a hanging check holds. A job that
/// finds no idle thread gets a new one; a thread idle for `idleLimit` ends, down to `kept`.
///
/// With at most one check in flight per target (`claim`/`release`), the threads are bounded by
/// the targets, and a target whose last check still blocks its thread gets no second one.
final class BlockingWorkers: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
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
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    /// Marks `target` as having a blocking call under way; `false` when its previous one has
    /// not returned yet (it hangs past its own timeouts).
    func claim(_ target: Target) -> Bool {
        locked { busy.insert(target).inserted }
    }

    func release(_ target: Target) {
        locked { _ = busy.remove(target) }
    }

    /// Runs `job` on a thread at once: an idle one, else a new one.
    /// - Returns: `false` when no thread could be started (the job did not run).
    @discardableResult
    func run(_ job: @escaping () -> Void) -> Bool {
        pthread_mutex_lock(&mutex)
        jobs.append(job)
        if idle >= jobs.count {
            pthread_cond_signal(&condition)
            pthread_mutex_unlock(&mutex)
            return true
        }
        threads += 1
        pthread_mutex_unlock(&mutex)
        do {
            try ProbeThread.start("blocking check") { self.work() }
            return true
        } catch {
            // Out of threads: an idle one may still take it; if none, it is dropped here.
            return locked {
                threads -= 1
                if idle > 0 { return true }
                jobs.removeLast()
                return false
            }
        }
    }

    /// Lets idle threads end (checks still running finish first).
    func retire() {
        locked {
            retired = true
            pthread_cond_broadcast(&condition)
        }
    }

    private func work() {
        pthread_mutex_lock(&mutex)
        while true {
            if let job = jobs.first {
                jobs.removeFirst()
                pthread_mutex_unlock(&mutex)
                job()
                pthread_mutex_lock(&mutex)
                continue
            }
            if retired || !waitForJob() {
                threads -= 1
                pthread_mutex_unlock(&mutex)
                return
            }
        }
    }

    /// Waits (holding the mutex) until a job comes; `false` when idle long enough to end.
    private func waitForJob() -> Bool {
        idle += 1
        defer { idle -= 1 }
        var until = timespec()
        clock_gettime(CLOCK_MONOTONIC, &until)
        until.tv_sec += Int(idleLimit.components.seconds)
        while jobs.isEmpty && !retired {
            if pthread_cond_timedwait(&condition, &mutex, &until) == ETIMEDOUT && jobs.isEmpty {
                return threads <= kept
            }
        }
        return !retired || !jobs.isEmpty
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
