import Glibc
import HealthCheck
import OCF
import StateFiles
import Testing

/// The checker's node attribute, published off its loop: an update that fails is retried until
/// one succeeds, and a newer value replaces one not yet published.
struct AttributePublisherTests {
    final class Attrd: @unchecked Sendable {
        private var mutex = pthread_mutex_t()
        private var failuresLeft: Int
        private(set) var attempts: [String] = []
        private(set) var value: String?
        init(failing: Int) {
            failuresLeft = failing
            pthread_mutex_init(&mutex, nil)
        }
        func update(_ value: String) throws {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            attempts.append(value)
            if failuresLeft > 0 {
                failuresLeft -= 1
                throw OCFError.generic("attrd_updater: connection refused")
            }
            self.value = value
        }
        var snapshot: (attempts: [String], value: String?) {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            return (attempts, value)
        }
    }

    @Test func aFailedUpdateIsRetriedUntilItSucceeds() {
        let attrd = Attrd(failing: 3)
        let publisher = AttributePublisher(name: "hc_healthy", log: Log(agent: "healthcheck", environment: Environment([:]), sink: .logsOnly),
                                           firstRetry: .milliseconds(20), lastRetry: .milliseconds(50)) { try attrd.update($0) }
        defer { publisher.retire() }
        publisher.publish("2")
        let deadline = ContinuousClock.now + .seconds(10)
        while !publisher.isPublished && ContinuousClock.now < deadline { sleep(for: .milliseconds(10)) }
        #expect(publisher.isPublished)
        #expect(attrd.snapshot.value == "2")
        #expect(attrd.snapshot.attempts == ["2", "2", "2", "2"], "three failures, then the fourth try")
    }

    @Test func aNewerValueReplacesOneNotYetPublished() {
        let attrd = Attrd(failing: 1)
        let publisher = AttributePublisher(name: "hc_healthy", log: Log(agent: "healthcheck", environment: Environment([:]), sink: .logsOnly),
                                           firstRetry: .seconds(5), lastRetry: .seconds(5)) { try attrd.update($0) }
        defer { publisher.retire() }
        publisher.publish("2")
        let failed = ContinuousClock.now + .seconds(5)
        while attrd.snapshot.attempts.isEmpty && ContinuousClock.now < failed { sleep(for: .milliseconds(5)) }
        publisher.publish("1")
        let deadline = ContinuousClock.now + .seconds(3)
        while !publisher.isPublished && ContinuousClock.now < deadline { sleep(for: .milliseconds(10)) }
        #expect(attrd.snapshot.value == "1", "tried at once, not after the 5 s pause")
    }
}
