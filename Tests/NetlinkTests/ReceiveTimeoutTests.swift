import Testing
@testable import Netlink

/// A netlink socket never waits for an answer past the action's deadline: the agent reports
/// "no answer" instead of hanging until Pacemaker kills it.
@Suite struct ReceiveTimeoutTests {
    @Test func aSilentKernelEndsTheWaitAtTheDeadline() throws {
        let started = ContinuousClock.now
        let socket = try RouteSocket(deadline: .now + .milliseconds(200))
        // Nothing was asked, so nothing will come.
        let outcome = socket.receive { _ in }
        let waited = started.duration(to: .now)
        guard case .failure = outcome else {
            Issue.record("expected a timeout, got \(outcome)")
            return
        }
        #expect(waited >= .milliseconds(150) && waited < .seconds(5), "\(waited)")
    }
}
