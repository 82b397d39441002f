import Glibc
import OCF
import POSIX

/// Runs an agent in-process on fakes, with the environment Pacemaker would give its executable.
public struct InProcessRunner<Agent: ResourceAgent> {
    public let instance: String
    public let stateDirectory: String

    public init(_ agent: Agent.Type, instance: String = "test", stateDirectory: String) {
        self.instance = instance
        self.stateDirectory = stateDirectory
    }

    /// Runs one action.
    /// - Parameter probe: a monitor without an interval; other monitors recur every 10 s.
    /// - Parameter attributes: where node attributes go; the agent runs as a clone instance of a
    ///   promotable clone when given (agents publish only there).
    public func run(_ action: Action, parameters: [String: String], probe: Bool = false, host: Agent.Host,
                    attributes: MemoryAttributes? = nil, timeout: Duration = .seconds(20)) -> ActionResult {
        var variables = ["OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": instance, "HA_RSCTMP": stateDirectory,
                         "OCF_RESKEY_CRM_meta_timeout": String(Int(timeout.components.seconds) * 1000)]
        if action == .monitor && !probe { variables["OCF_RESKEY_CRM_meta_interval"] = "10000" }
        for (name, value) in parameters { variables["OCF_RESKEY_" + name] = value }
        if let attributes {
            variables.merge(["OCF_RESKEY_CRM_meta_promoted_max": "1", "OCF_RESKEY_CRM_meta_clone_max": "2",
                             "OCF_RESKEY_CRM_meta_promotable": "true", "OCF_RESKEY_CRM_meta_on_node": attributes.node]) { $1 }
        }
        let environment = Environment(variables)
        let log = Log(agent: Agent.name, environment: environment, sink: .memory)
        let outcome = AgentMain.run(Agent.self, arguments: [action.rawValue], environment: environment, log: log,
                                    attributes: attributes, host: host)
        let reason = log.lines.last { $0.hasPrefix("ocf-exit-reason:") }.map { String($0.dropFirst("ocf-exit-reason:".count)) }
        return ActionResult(status: outcome.exitCode.rawValue, reason: reason, log: log.lines.joined(separator: "\n"))
    }
}

/// The files of a state directory and their contents, lock files left out: an empty lock file
/// is bookkeeping, not something an instance leaves running.
public struct StateDirectorySnapshot: Equatable, Sendable, CustomStringConvertible {
    public let files: [String: String]

    public init(_ path: String) {
        var files: [String: String] = [:]
        for name in listDirectory(path) where !name.hasSuffix(".lock") {
            files[name] = readFile(path + "/" + name) ?? ""
        }
        self.files = files
    }

    /// Makes the directory hold exactly these files again (lock files stay).
    public func restore(to path: String) {
        for name in listDirectory(path) where !name.hasSuffix(".lock") { unlink(path + "/" + name) }
        for (name, content) in files { try? writeFile(path + "/" + name, content) }
    }

    public var description: String {
        files.isEmpty ? "no state files" : files.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.debugDescription)" }.joined(separator: "; ")
    }
}

/// Runs an action with `steps` armed to kill it at `point`. At the kill, `capture` records the
/// world; after the action, `restore` puts that back — the state a SIGKILL at that point
/// leaves. Returns `false` when the action ended before reaching the point.
public func simulateKill<Snapshot>(at point: Int, steps: StepCounter, capture: @escaping () -> Snapshot,
                                   restore: (Snapshot) -> Void, _ action: () -> Void) -> Bool {
    let taken = Box<Snapshot?>(nil)
    nonisolated(unsafe) let capture = capture
    steps.arm(killAt: point) { taken.value = capture() }
    action()
    steps.arm(killAt: nil, onKill: nil)
    guard let snapshot = taken.value else { return false }
    restore(snapshot)
    return true
}

/// Runs two bodies at the same time on two threads and returns both results.
public func runConcurrently<T>(_ first: @escaping () -> T, _ second: @escaping () -> T) -> (T, T) {
    let results = Box<[T?]>([nil, nil])
    let finished = ConditionLock()
    for (index, body) in [first, second].enumerated() {
        do {
            try Threads.detach {
                let result = body()
                finished.withLock {
                    results.value[index] = result
                    finished.broadcast()
                }
            }
        } catch {
            preconditionFailure("cannot start a thread: \(error)")
        }
    }
    return finished.withLock {
        while results.value.contains(where: { $0 == nil }) { finished.wait() }
        return (results.value[0]!, results.value[1]!)
    }
}

/// A value shared with a closure that runs elsewhere.
final class Box<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
