import Glibc
import Netlink
import OCF
import Synchronization

/// Counts the changes fakes make and simulates a SIGKILL at one point of an action.
///
/// Kill points are numbered: `2k` is just before change `k` (0-based), `2k + 1` just after it.
/// At the kill point `onKill` runs (the world takes its snapshot: that is the state a SIGKILL
/// leaves), and from then on every call of every fake fails, as a dead process makes none. The
/// world restores its snapshot after the action returns, undoing whatever the agent's error
/// handling did in between — which a real SIGKILL would never have let it do.
public final class StepCounter: @unchecked Sendable {
    private let state = Mutex(State())
    private struct State {
        var killPoint: Int?
        var changes = 0
        var killed = false
        var onKill: (@Sendable () -> Void)?
    }

    public init() {}

    /// Arms a kill at `point`; `nil` disarms.
    public func arm(killAt point: Int?, onKill: (@Sendable () -> Void)?) {
        state.withLock {
            $0 = State(killPoint: point, changes: 0, killed: false, onKill: onKill)
        }
    }

    /// Whether the armed kill happened.
    public var killed: Bool { state.withLock { $0.killed } }
    /// How many changes ran since the last `arm`.
    public var changes: Int { state.withLock { $0.changes } }

    /// The error every call gets once the process is "dead".
    public static let killError = NetlinkError(function: "SIGKILL (simulated)", kind: .other(-9), message: "the agent was killed")

    /// Fails when the process is dead: call at the start of every fake operation.
    public func alive() throws(NetlinkError) {
        if killed { throw Self.killError }
    }

    /// Runs one change, killing the process just before or just after it when armed there.
    /// (The body throws `NetlinkError`; a plain closure spares every fake its annotation.)
    public func change<T>(_ body: () throws -> T) throws(NetlinkError) -> T {
        try alive()
        let index = state.withLock { $0.changes }
        try kill(at: 2 * index)
        let result: T
        do {
            result = try body()
        } catch let error as NetlinkError {
            throw error
        } catch {
            throw NetlinkError(function: "fake change", kind: .other(-1), message: "\(error)")
        }
        state.withLock { $0.changes += 1 }
        try kill(at: 2 * index + 1)
        return result
    }

    private func kill(at point: Int) throws(NetlinkError) {
        let onKill: (@Sendable () -> Void)? = state.withLock { state in
            guard let killPoint = state.killPoint, !state.killed, point == killPoint else { return nil }
            state.killed = true
            return state.onKill ?? {}
        }
        if let onKill {
            onKill()
            throw Self.killError
        }
    }
}
