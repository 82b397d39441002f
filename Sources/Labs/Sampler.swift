import Dispatch
import Glibc
import OCF

/// Takes a sample every `interval` (from one sample's start to the next) on a thread of its
/// own until stopped, each stamped with the time it started: what a client sees through a
/// failover, at a steady pace. `take` runs on that thread only, one call at a time, so it
/// may keep state (a connection) between calls; it gets the sample's number, from 1.
public final class Sampler<Value: Sendable>: @unchecked Sendable {
    public struct Sample: Sendable {
        public let time: ContinuousClock.Instant
        public let value: Value
    }

    private var samples: [Sample] = []
    private var mutex = pthread_mutex_t()
    private let stopped = Flag()
    private let finished = DispatchSemaphore(value: 0)
    private let take: (Int) -> Value

    public init(interval: Duration, _ take: @escaping (Int) -> Value) {
        self.take = take
        pthread_mutex_init(&mutex, nil)
        DispatchQueue.global().async { [self] in
            var count = 0
            while !stopped.isSet {
                let started = ContinuousClock.now
                count += 1
                let value = self.take(count)
                pthread_mutex_lock(&mutex)
                samples.append(Sample(time: started, value: value))
                pthread_mutex_unlock(&mutex)
                let next = started + interval
                if next > .now { sleep(for: ContinuousClock.now.duration(to: next)) }
            }
            finished.signal()
        }
    }

    deinit { stop() }

    /// Returns once the thread has taken its last sample.
    public func stop() {
        guard !stopped.isSet else { return }
        stopped.set()
        finished.wait()
    }

    /// The samples started at or after `start` and before `end`.
    public func samples(from start: ContinuousClock.Instant = .now - .seconds(100_000),
                        to end: ContinuousClock.Instant = .now) -> [Sample] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return samples.filter { $0.time >= start && $0.time < end }
    }

    /// Waits until a sample started at or after `start` satisfies `condition`; nil after `timeout`.
    public func waitFor(after start: ContinuousClock.Instant, timeout: Duration, _ condition: (Value) -> Bool) -> Sample? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let sample = samples(from: start).first(where: { condition($0.value) }) { return sample }
            guard ContinuousClock.now < deadline else { return nil }
            sleep(for: .milliseconds(20))
        }
    }
}
