import Addresses
import Glibc
import StateFiles
import HealthCheck
import NIOPosix
import OCFTesting
@testable import Probes
import Testing

/// Checks that block a thread (external programs, libmariadb) against a crowd of hanging ones:
/// the time a check waits for a thread never counts against it, and no number of hanging
/// targets delays the others.
@Suite struct BlockingChecksTests {
    /// What the checks of one run gave.
    final class Tally: @unchecked Sendable {
        private var mutex = pthread_mutex_t()
        private var inFlight: Set<Target> = []
        private(set) var healthyFailures: [String] = []
        private(set) var healthyPasses = 0
        private(set) var hangingPasses = 0
        private(set) var healthyLatencies: [Duration] = []
        init() { pthread_mutex_init(&mutex, nil) }

        func begin(_ target: Target) -> Bool {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            return inFlight.insert(target).inserted
        }

        func end(_ target: Target, healthy: Bool, _ outcome: CheckOutcome, _ latency: Duration) {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            inFlight.remove(target)
            switch (healthy, outcome) {
            case (true, .pass):
                healthyPasses += 1
                healthyLatencies.append(latency)
            case (true, .fail(let reason)): healthyFailures.append("\(target): \(reason)")
            case (false, .pass): hangingPasses += 1
            case (false, .fail): break
            }
        }
    }

    /// 40 real servers whose external check hangs (ignoring SIGTERM) beside 4 healthy ones,
    /// each checked every second with a 2 s timeout, as the daemon schedules them: a check
    /// starts when the previous one of its target has ended and an interval has passed.
    @Test func hangingExternalChecksNeverStarveHealthyOnes() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let prober = try Prober(loop: group.next(), spec: .external(program: AgentRunner.path(of: "tandem-testtool"),
                                                                    arguments: ["external-hang", "198.51.100."]),
                                timeout: .seconds(2))
        defer { prober.retire() }
        let healthy = (1...4).map { Target(address: IPAddress("198.51.100.\($0)")!, port: 80) }
        let hanging = (1...40).map { Target(address: IPAddress("192.0.2.\($0)")!, port: 80) }
        let tally = Tally()
        var lastStart: [Target: ContinuousClock.Instant] = [:]
        let end = ContinuousClock.now + .seconds(6)
        while ContinuousClock.now < end {
            let now = ContinuousClock.now
            for target in hanging + healthy where lastStart[target].map({ now - $0 >= .seconds(1) }) ?? true {
                guard tally.begin(target) else { continue }
                lastStart[target] = now
                let isHealthy = healthy.contains(target)
                prober.check(target, service: "tcp:203.0.113.10:80") { outcome, latency in
                    tally.end(target, healthy: isHealthy, outcome, latency)
                }
            }
            sleep(for: .milliseconds(20))
        }
        sleep(for: .seconds(3))
        let sorted = tally.healthyLatencies.sorted()
        let p99 = sorted.isEmpty ? Duration.zero : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        print("blocking checks: \(tally.healthyPasses) healthy checks passed, \(tally.healthyFailures.count) failed; p99 latency \(p99) beside 40 hanging targets")
        #expect(tally.healthyFailures.isEmpty, "\(tally.healthyFailures.prefix(5))")
        #expect(tally.healthyPasses >= 4 * 5, "every healthy target checked about once a second")
        #expect(tally.hangingPasses == 0)
    }
}
