import Glibc
import OCF

/// The states the lifecycle matrix runs each action from.
public enum LifecycleState: String, CaseIterable, Sendable {
    case stopped
    case running
    /// Promotable agents only.
    case promoted
    /// Changed by hand behind the agent's back (a real server deleted, an address removed, a
    /// daemon stopped).
    case drifted = "drifted by hand"
    /// What the instance would manage is there, but another instance's (or the admin's).
    case heldByOther = "held by another"
    /// The kernel facility (IPVS, the interface) is missing on this node.
    case facilityMissing = "facility missing"
}

/// An action as the matrix runs it: a probe is a monitor without a recurring interval.
public enum MatrixAction: String, CaseIterable, Sendable {
    case start, stop, monitor, probe
    case validateAll = "validate-all"
    case reloadAgent = "reload-agent"
    case promote, demote, notify

    public var action: Action {
        switch self {
        case .start: .start
        case .stop: .stop
        case .monitor, .probe: .monitor
        case .validateAll: .validateAll
        case .reloadAgent: .reloadAgent
        case .promote: .promote
        case .demote: .demote
        case .notify: .notify
        }
    }

    public var isProbe: Bool { self == .probe }
}

/// What the world must look like after an action.
public enum Aftermath: String, Sendable {
    /// Exactly as before.
    case unchanged
    /// Nothing of the instance left (addresses, services, daemons, sysctls, state, processes).
    case clean
    /// A probe says running (not promoted).
    case running
    /// A probe says promoted.
    case promoted
    /// Running, and nothing drifted any more.
    case repaired
    /// Running with the changed (reloaded) parameters applied.
    case reloaded
}

/// The exit codes an action may give from a state, and the state it must leave.
public struct Expectation: Sendable, CustomStringConvertible {
    public var codes: Set<ExitCode>
    public var after: Aftermath
    /// Why an agent's cell differs from the OCF default, for the report.
    public var because: String?

    public init(_ codes: Set<ExitCode>, after: Aftermath, because: String? = nil) {
        self.codes = codes
        self.after = after
        self.because = because
    }

    public var description: String { codes.map { String($0.rawValue) }.sorted().joined(separator: "/") }
}

/// The expected outcome of every action in every state: OCF's rules (ocf-conventions.md §2),
/// with an agent's own cells where its resource defines the answer (what drift means, who may
/// hold what it manages), each with the reason.
public struct LifecycleTable: Sendable {
    public private(set) var states: [LifecycleState]
    public private(set) var actions: [MatrixAction]
    private var cells: [String: Expectation] = [:]

    public subscript(state: LifecycleState, action: MatrixAction) -> Expectation {
        get { cells["\(state)|\(action)"] ?? Expectation([], after: .unchanged) }
        set { cells["\(state)|\(action)"] = newValue }
    }

    /// An agent's own answer for one cell.
    public mutating func expect(_ state: LifecycleState, _ action: MatrixAction, _ codes: Set<ExitCode>, after: Aftermath,
                                because: String) {
        self[state, action] = Expectation(codes, after: after, because: because)
    }

    /// OCF's answers. A non-promotable agent must refuse promote, demote and notify with 3
    /// (they are not in its list at all), and an agent without reloadable parameters
    /// refuses reload-agent with 3.
    /// - Parameters:
    ///   - facilityMissing: the code for a missing facility: 5 for software or a kernel module,
    ///     2 for a configured interface that is not on this node.
    ///   - notifies: a promotable agent that advertises notify (else notify is refused with 3).
    public static func ocf(promotable: Bool, reloadable: Bool, facilityMissing: ExitCode = .notInstalled,
                           notifies: Bool = true) -> LifecycleTable {
        var table = LifecycleTable(states: [.stopped, .running] + (promotable ? [.promoted] : []) + [.drifted, .heldByOther, .facilityMissing],
                                   actions: [.start, .stop, .monitor, .probe, .validateAll, .reloadAgent]
                                       + (promotable ? [.promote, .demote, .notify] : []))
        func set(_ state: LifecycleState, _ entries: [(MatrixAction, Set<ExitCode>, Aftermath)]) {
            for (action, codes, after) in entries { table[state, action] = Expectation(codes, after: after) }
        }
        set(.stopped, [(.start, [.success], .running), (.stop, [.success], .clean), (.monitor, [.notRunning], .unchanged),
                       (.probe, [.notRunning], .unchanged), (.validateAll, [.success], .unchanged),
                       (.reloadAgent, [.success], .unchanged), (.promote, [.genericError], .unchanged),
                       (.demote, [.success], .unchanged), (.notify, [.success], .unchanged)])
        set(.running, [(.start, [.success], .unchanged), (.stop, [.success], .clean), (.monitor, [.success], .unchanged),
                       (.probe, [.success], .unchanged), (.validateAll, [.success], .unchanged),
                       (.reloadAgent, [.success], .reloaded), (.promote, [.success], .promoted),
                       (.demote, [.success], .unchanged), (.notify, [.success], .unchanged)])
        set(.promoted, [(.start, [.success], .running), (.stop, [.success], .clean), (.monitor, [.runningPromoted], .unchanged),
                        (.probe, [.runningPromoted], .unchanged), (.validateAll, [.success], .unchanged),
                        (.reloadAgent, [.success], .unchanged), (.promote, [.success], .unchanged),
                        (.demote, [.success], .running), (.notify, [.success], .unchanged)])
        set(.drifted, [(.start, [.success], .repaired), (.stop, [.success], .clean), (.monitor, [.genericError], .unchanged),
                       (.probe, [.success, .notRunning], .unchanged), (.validateAll, [.success], .unchanged),
                       (.reloadAgent, [.success], .repaired), (.promote, [.success], .promoted),
                       (.demote, [.success], .repaired), (.notify, [.success], .unchanged)])
        set(.heldByOther, [(.start, [.genericError], .unchanged), (.stop, [.success], .unchanged),
                           (.monitor, [.notRunning], .unchanged), (.probe, [.notRunning], .unchanged),
                           (.validateAll, [.success], .unchanged), (.reloadAgent, [.success], .unchanged),
                           (.promote, [.genericError], .unchanged), (.demote, [.success], .unchanged),
                           (.notify, [.success], .unchanged)])
        set(.facilityMissing, [(.start, [facilityMissing], .unchanged), (.stop, [.success], .unchanged),
                               (.monitor, [facilityMissing], .unchanged), (.probe, [.notRunning], .unchanged),
                               (.validateAll, [facilityMissing], .unchanged), (.reloadAgent, [facilityMissing], .unchanged),
                               (.promote, [facilityMissing], .unchanged), (.demote, [.success], .unchanged),
                               (.notify, [.success], .unchanged)])
        if !reloadable {
            for state in LifecycleState.allCases { table[state, .reloadAgent] = Expectation([.unimplemented], after: .unchanged) }
        }
        if promotable && !notifies {
            for state in LifecycleState.allCases { table[state, .notify] = Expectation([.unimplemented], after: .unchanged) }
        }
        return table
    }
}

/// What one action returned.
public struct ActionResult: Sendable, CustomStringConvertible {
    /// The exit status (128 + signal when killed).
    public let status: Int32
    /// The `ocf-exit-reason:` line's text, when there is one.
    public let reason: String?
    /// Everything the agent logged.
    public let log: String

    public init(status: Int32, reason: String?, log: String) {
        self.status = status
        self.reason = reason
        self.log = log
    }

    public init(_ result: AgentRunner.Result) {
        self.init(status: result.status, reason: result.exitReason, log: result.errorOutput)
    }

    public var exitCode: ExitCode? { ExitCode(rawValue: status) }
    public var description: String { "exit \(status)" + (reason.map { " (\($0))" } ?? "") }
}

/// A world an agent's lifecycle matrix runs in: fakes in-process, or the real kernel through
/// the executables. The world owns one instance under test and knows how to put it in each
/// state by hand.
public protocol LifecycleWorld: AnyObject {
    associatedtype Snapshot: Equatable

    /// The agent's name, for reports.
    var agent: String { get }
    /// A valid configuration of the instance under test.
    var parameters: [String: String] { get }
    /// The same with changed reloadable parameters (for reload-agent).
    var reloadedParameters: [String: String] { get }

    /// Runs one action of the instance.
    func run(_ action: Action, parameters: [String: String], probe: Bool) throws -> ActionResult
    /// Everything the instance could leave behind.
    func snapshot() throws -> Snapshot
    /// Back to clean, whatever happened, by hand.
    func reset() throws
    /// Changes by hand what the running instance manages.
    func drift() throws
    /// Makes another instance (or the admin) hold what this instance would manage.
    func holdByAnother() throws
    /// Takes the kernel facility away (`reset` puts it back).
    func removeFacility() throws
    /// Whether the change `drift()` made is still there.
    func isDrifted() throws -> Bool
    /// Whether the reloaded parameters are in effect.
    func reloadApplied() throws -> Bool
    /// Waits (with a deadline) until transient things — processes on their way out — are gone.
    func settle() throws
    /// Runs start, SIGKILLed at kill point `point`; `false` when the start ended before it.
    func startKilled(at point: Int) throws -> Bool
    /// Runs two actions at the same time.
    func concurrently(_ first: (Action, [String: String], Bool), _ second: (Action, [String: String], Bool)) throws
        -> (ActionResult, ActionResult)
}

/// One cell of the matrix as it ran.
public struct MatrixCell: Sendable {
    public let state: LifecycleState
    public let action: MatrixAction
    public let expected: Expectation
    public let observed: ActionResult
    public let problems: [String]
}

/// Runs the lifecycle checks every agent passes: the matrix (each action in each state), start
/// killed at every step, concurrent actions on one instance, and generated parameter sets.
public struct LifecycleHarness<World: LifecycleWorld> {
    public let world: World

    public init(_ world: World) { self.world = world }

    // MARK: The matrix

    /// Every cell of `table`; `states` narrows it (a world that cannot produce a state).
    public func matrix(_ table: LifecycleTable, states: [LifecycleState]? = nil) throws -> [MatrixCell] {
        try world.reset()
        let clean = try world.snapshot()
        var cells: [MatrixCell] = []
        for state in states ?? table.states where table.states.contains(state) {
            for action in table.actions {
                let expected = table[state, action]
                try world.reset()
                try enter(state)
                let before = try world.snapshot()
                let parameters = action == .reloadAgent ? world.reloadedParameters : world.parameters
                let result = try world.run(action.action, parameters: parameters, probe: action.isProbe)
                var problems: [String] = []
                if let code = result.exitCode, expected.codes.contains(code) {
                    if let reasonProblem = Self.reasonProblem(result) { problems.append(reasonProblem) }
                    problems += try check(expected.after, before: before, clean: clean, state: state)
                } else {
                    problems.append("exit \(result.status), expected \(expected)\n\(result.log)")
                }
                cells.append(MatrixCell(state: state, action: action, expected: expected, observed: result, problems: problems))
            }
        }
        try world.reset()
        return cells
    }

    /// Puts the clean world into a state.
    func enter(_ state: LifecycleState) throws {
        switch state {
        case .stopped:
            return
        case .running, .promoted, .drifted:
            let start = try world.run(.start, parameters: world.parameters, probe: false)
            guard start.exitCode == .success else { throw LabError("cannot enter \(state): start \(start)\n\(start.log)") }
            if state == .promoted {
                let promote = try world.run(.promote, parameters: world.parameters, probe: false)
                guard promote.exitCode == .success else { throw LabError("cannot enter \(state): promote \(promote)") }
            }
            if state == .drifted { try world.drift() }
        case .heldByOther:
            try world.holdByAnother()
        case .facilityMissing:
            try world.removeFacility()
        }
    }

    /// What is wrong with the world after an action, if anything.
    func check(_ after: Aftermath, before: World.Snapshot, clean: World.Snapshot, state: LifecycleState) throws -> [String] {
        func probe() throws -> ExitCode? { try world.run(.monitor, parameters: world.parameters, probe: true).exitCode }
        switch after {
        case .unchanged:
            try world.settle()
            return try world.snapshot() == before ? [] : ["changed: \(try world.snapshot())\nbefore: \(before)"]
        case .clean:
            try world.settle()
            return try world.snapshot() == clean ? [] : ["left behind: \(try world.snapshot())\nclean: \(clean)"]
        case .running:
            let code = try probe()
            return code == .success ? [] : ["a probe afterwards says \(code.map(\.description) ?? "?"), not running"]
        case .promoted:
            let code = try probe()
            return code == .runningPromoted ? [] : ["a probe afterwards says \(code.map(\.description) ?? "?"), not promoted"]
        case .repaired:
            let code = try probe()
            var problems = code == .success || code == .runningPromoted ? [] : ["a probe afterwards says \(code.map(\.description) ?? "?")"]
            if try world.isDrifted() { problems.append("still drifted") }
            return problems
        case .reloaded:
            let code = try probe()
            var problems = code == .success ? [] : ["a probe afterwards says \(code.map(\.description) ?? "?")"]
            if try !world.reloadApplied() { problems.append("the reloaded parameters are not in effect") }
            return problems
        }
    }

    /// One `ocf-exit-reason:` line of at most 128 bytes, before every failing exit.
    static func reasonProblem(_ result: ActionResult) -> String? {
        guard let code = result.exitCode, code != .success, code != .notRunning, code != .runningPromoted,
              code != .degraded, code != .degradedPromoted else { return nil }
        guard let reason = result.reason, !reason.isEmpty else { return "exit \(result.status) without an ocf-exit-reason line" }
        if reason.utf8.count > 128 { return "exit reason over 128 bytes: \(reason)" }
        let lines = result.log.split(separator: "\n").filter { $0.hasPrefix("ocf-exit-reason:") }
        if lines.count != 1 { return "\(lines.count) ocf-exit-reason lines" }
        return nil
    }

    // MARK: SIGKILL at every step of start

    /// Kills start at every kill point in turn, then probes and stops: the probe must say
    /// running or not running (never an error), the stop must succeed, and nothing may be left.
    /// - Returns: the problems, and how many kill points there were.
    public func killedStarts(maximum: Int = 400) throws -> (problems: [String], points: Int) {
        try world.reset()
        let clean = try world.snapshot()
        var problems: [String] = []
        var point = 0
        while point < maximum {
            try world.reset()
            guard try world.startKilled(at: point) else { break }
            let probe = try world.run(.monitor, parameters: world.parameters, probe: true)
            if probe.exitCode != .success && probe.exitCode != .notRunning {
                problems.append("killed at \(point): the probe says \(probe)\n\(probe.log)")
            }
            let stop = try world.run(.stop, parameters: world.parameters, probe: false)
            if stop.exitCode != .success { problems.append("killed at \(point): stop \(stop)\n\(stop.log)") }
            try world.settle()
            let after = try world.snapshot()
            if after != clean { problems.append("killed at \(point): left behind \(after)\nclean: \(clean)") }
            point += 1
        }
        try world.reset()
        if point == 0 { problems.append("start was never killed: no kill point reached") }
        return (problems, point)
    }

    // MARK: Concurrent actions on one instance

    /// start‖start and start‖stop from stopped, monitor‖reload-agent from running: both actions
    /// succeed, and the instance converges: a probe says running or stopped, and a stop then
    /// leaves nothing.
    public func concurrentActions(reloadable: Bool) throws -> [String] {
        try world.reset()
        let clean = try world.snapshot()
        var problems: [String] = []
        var pairs: [(String, LifecycleState, (Action, [String: String], Bool), (Action, [String: String], Bool), Set<ExitCode>)] = [
            ("start‖start", .stopped, (.start, world.parameters, false), (.start, world.parameters, false), [.success]),
            ("start‖stop", .stopped, (.start, world.parameters, false), (.stop, world.parameters, false), [.success, .notRunning]),
        ]
        if reloadable {
            pairs.append(("monitor‖reload-agent", .running, (.monitor, world.reloadedParameters, false),
                          (.reloadAgent, world.reloadedParameters, false), [.success]))
        }
        for (name, state, first, second, settled) in pairs {
            try world.reset()
            try enter(state)
            let (a, b) = try world.concurrently(first, second)
            for (action, result) in [(first.0, a), (second.0, b)] where result.exitCode != .success {
                problems.append("\(name): \(action) \(result)\n\(result.log)")
            }
            let probe = try world.run(.monitor, parameters: world.parameters, probe: true)
            if let code = probe.exitCode, !settled.contains(code) { problems.append("\(name): a probe afterwards says \(probe)") }
            let stop = try world.run(.stop, parameters: world.parameters, probe: false)
            if stop.exitCode != .success { problems.append("\(name): stop afterwards \(stop)") }
            try world.settle()
            if try world.snapshot() != clean { problems.append("\(name): the stop afterwards left \(try world.snapshot())") }
        }
        try world.reset()
        return problems
    }

    // MARK: Generated parameter sets

    /// `count` generated parameter sets through validate-all and start: never a crash (a
    /// signal or a code outside OCF's), an exit reason on every refusal (naming a parameter
    /// when the configuration is refused), nothing changed when refused; what starts stops
    /// cleanly.
    public func fuzz(_ generator: inout ParameterFuzzer, count: Int, declared: Set<String>) throws -> (problems: [String], refused: Int) {
        try world.reset()
        let clean = try world.snapshot()
        var problems: [String] = []
        var refused = 0
        for index in 0..<count {
            let parameters = generator.next()
            let label = "set \(index) \(ParameterFuzzer.describe(parameters))"
            for action in [Action.validateAll, .start] {
                let before = try world.snapshot()
                let result = try world.run(action, parameters: parameters, probe: false)
                guard let code = result.exitCode else {
                    problems.append("\(label): \(action) crashed (status \(result.status))\n\(result.log)")
                    continue
                }
                if code == .success { continue }
                if action == .validateAll { refused += 1 }
                if let problem = Self.reasonProblem(result) { problems.append("\(label): \(action): \(problem)") }
                if code == .notConfigured, let reason = result.reason,
                   !declared.contains(where: { reason.hasPrefix($0 + ":") }) {
                    problems.append("\(label): \(action): the reason names no parameter: \(reason)")
                }
                try world.settle()
                if try world.snapshot() != before { problems.append("\(label): \(action) refused (\(result)) but changed the system") }
            }
            let stop = try world.run(.stop, parameters: parameters, probe: false)
            if stop.exitCode != .success { problems.append("\(label): stop \(stop)\n\(stop.log)") }
            try world.settle()
            if try world.snapshot() != clean {
                problems.append("\(label): left behind after stop: \(try world.snapshot())")
                try world.reset()
            }
        }
        try world.reset()
        return (problems, refused)
    }

    // MARK: Report

    /// The matrix as a Markdown table: one row per state, one column per action,
    /// `expected → observed` in each cell, and the cells that failed marked.
    public static func report(agent: String, world name: String, _ cells: [MatrixCell]) -> String {
        let actions = MatrixAction.allCases.filter { action in cells.contains { $0.action == action } }
        var text = "\(agent) (\(name)): expected → observed exit code\n\n"
        text += "| state | " + actions.map(\.rawValue).joined(separator: " | ") + " |\n"
        text += "|---|" + actions.map { _ in "---|" }.joined() + "\n"
        for state in LifecycleState.allCases where cells.contains(where: { $0.state == state }) {
            text += "| \(state.rawValue) |"
            for action in actions {
                guard let cell = cells.first(where: { $0.state == state && $0.action == action }) else {
                    text += " |"
                    continue
                }
                text += " \(cell.expected) → \(cell.observed.status)\(cell.problems.isEmpty ? "" : " ✘") |"
            }
            text += "\n"
        }
        let reasons = cells.compactMap { cell in cell.expected.because.map { "- \(cell.state.rawValue), \(cell.action.rawValue): \($0)" } }
        if !reasons.isEmpty { text += "\nThe agent's own cells:\n" + reasons.joined(separator: "\n") + "\n" }
        return text
    }
}

/// Prints a matrix report and keeps it in `lab-logs/lifecycle/<name>.md`.
public func saveReport(_ report: String, as name: String) {
    print(report)
    let directory = labLogsDirectory + "/lifecycle"
    mkdir(labLogsDirectory, 0o755)
    mkdir(directory, 0o755)
    let file = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" })
    try? writeFile(directory + "/" + file + ".md", report)
}

/// A world that runs the agent's executable (`runner`): actions, start killed by strace at
/// each of its kill points, and concurrent actions come from the runner.
public protocol ExecutableWorld: LifecycleWorld {
    var runner: AgentRunner { get }
    /// Where the kill points of a start from clean are kept once counted.
    var killPlan: KillPlan { get }
}

/// The kill points of a start, counted once (under strace) and then used one by one.
public final class KillPlan {
    var points: [AgentRunner.KillPoint]?
    public init() {}
}

extension ExecutableWorld {
    public func run(_ action: Action, parameters: [String: String], probe: Bool) throws -> ActionResult {
        ActionResult(try runner.run(action.rawValue, parameters, interval: probe ? 0 : 10_000))
    }

    public func startKilled(at point: Int) throws -> Bool {
        if killPlan.points == nil {
            killPlan.points = try runner.killPoints(ofStart: parameters)
            try reset()
        }
        guard let points = killPlan.points, point < points.count else { return false }
        guard try runner.startKilled(at: points[point], parameters) else {
            throw LabError("start was not killed \(points[point]): it no longer takes the path it took when counted")
        }
        return true
    }

    public func concurrently(_ first: (Action, [String: String], Bool), _ second: (Action, [String: String], Bool)) throws
        -> (ActionResult, ActionResult) {
        let (a, b) = try runner.concurrently((first.0.rawValue, first.1, first.2 ? 0 : 10_000),
                                             (second.0.rawValue, second.1, second.2 ? 0 : 10_000))
        return (ActionResult(a), ActionResult(b))
    }
}
