/// An OCF resource agent: a parameter set and the actions.
///
/// An agent is a small type: `AgentMain` owns dispatch, parameter loading, validation order,
/// locking, exit codes, meta-data, tracing and logging. Methods throw; `OCFError` chooses the
/// exit code, any other error ends as `OCF_ERR_GENERIC` with its description as the exit reason.
public protocol ResourceAgent {
    associatedtype Parameters: ParameterSet
    /// What the agent talks to on the node (kernel tables, sysctls, processes), behind
    /// protocols: the live node in the executable, fakes in tests.
    associatedtype Host

    /// The agent's file name, e.g. `vip`.
    static var name: String { get }
    static var version: String { get }
    static var shortDescription: String { get }
    static var longDescription: String { get }
    /// Every action meta-data advertises. Optional actions (reload-agent, promote, demote,
    /// notify) are dispatched only when advertised here, and then must be implemented.
    static var actions: [ActionAdvertisement] { get }

    init(parameters: Parameters, context: AgentContext, host: Host) throws

    /// Checks that this node can run the configuration (interfaces, kernel facilities).
    /// Runs for `validate-all` and before `start` and `reload-agent`; parameter syntax was
    /// checked already. Changes nothing.
    func validate() throws

    /// Starts; succeeds when already started. Returns only when the resource is usable.
    func start() throws

    /// Stops; succeeds when already stopped. Never fails when it can prove nothing runs.
    func stop() throws

    /// Reports the state. Throw for a failed resource; return `.notRunning` only when cleanly
    /// stopped. A probe (`context.isProbe`) changes nothing at all.
    func monitor() throws -> MonitorResult

    /// Stop with a configuration that does not parse (after an upgrade, or an edit that broke
    /// it). Pacemaker stops with the parameters the resource was started with; the agent must
    /// still prove that nothing of it is left, from what it recorded at start. Every agent
    /// writes this: there is no default that could return success while something runs.
    static func stop(unparsableConfiguration problems: ParameterProblems, context: AgentContext, host: Host) throws

    /// Applies changed `reloadable` parameters to the running resource without a restart;
    /// succeeds, changing nothing, when the resource is not running.
    func reloadAgent() throws
    func promote() throws
    func demote() throws
    func notify() throws
}

extension ResourceAgent {
    public func reloadAgent() throws { throw OCFError.unimplemented("reload-agent is not implemented") }
    public func promote() throws { throw OCFError.unimplemented("promote is not implemented") }
    public func demote() throws { throw OCFError.unimplemented("demote is not implemented") }
    public func notify() throws { throw OCFError.unimplemented("notify is not implemented") }
}

/// What `monitor` found.
public enum MonitorResult: Sendable, Equatable {
    case running
    case notRunning
    case runningPromoted
    /// Running, but a failure is more likely (shown as a failed operation, not recovered).
    case degraded(String)
    case degradedPromoted(String)
    /// Promoted but failed.
    case failedPromoted(String)

    var exitCode: ExitCode {
        switch self {
        case .running: .success
        case .notRunning: .notRunning
        case .runningPromoted: .runningPromoted
        case .degraded: .degraded
        case .degradedPromoted: .degradedPromoted
        case .failedPromoted: .failedPromoted
        }
    }
}

/// One `<action>` line of meta-data. Timeouts and intervals are advice for the admin's
/// configuration; Pacemaker does not apply them by itself.
public struct ActionAdvertisement: Sendable {
    public let action: Action
    public let timeout: Int
    public let interval: Int?
    public let depth: Int?
    public let role: Role?

    /// - Parameters:
    ///   - timeout: seconds.
    ///   - interval: seconds, for recurring monitors.
    ///   - depth: the `OCF_CHECK_LEVEL` this monitor runs at.
    public init(_ action: Action, timeout: Int, interval: Int? = nil, depth: Int? = nil, role: Role? = nil) {
        self.action = action
        self.timeout = timeout
        self.interval = interval
        self.depth = depth
        self.role = role
    }
}

/// Everything an action runs with.
public struct AgentContext: Sendable {
    public let action: Action
    public let environment: Environment
    public let instance: String
    public let log: Log
    public let state: StateDirectory
    /// When the action began.
    public let started: ContinuousClock.Instant
    /// When every wait inside the action must have ended: the operation timeout less a margin
    /// (a tenth, at most 5 s) so the agent reports before Pacemaker's SIGKILL.
    public let deadline: ContinuousClock.Instant
    /// A monitor with no recurring interval: Pacemaker asking "is it running here?". It
    /// changes nothing.
    public let isProbe: Bool
    /// `OCF_CHECK_LEVEL`: 0 cheap, 10 thorough, 20 expensive.
    public let checkLevel: Int
    /// The step-by-step trace `crm resource trace` asks for; `nil` when not tracing.
    public var trace: Trace? { log.trace }
    /// Where node attributes go, for calls that must end by the deadline given: the cluster's
    /// attrd, or what a test put in its place.
    public let attributeStore: @Sendable (_ deadline: ContinuousClock.Instant) -> any NodeAttributeStore

    public init(action: Action, environment: Environment, log: Log, started: ContinuousClock.Instant = .now,
                attributes: (@Sendable (_ deadline: ContinuousClock.Instant) -> any NodeAttributeStore)? = nil) {
        self.attributeStore = attributes ?? { NodeAttributes(deadline: $0) }
        self.action = action
        self.environment = environment
        self.instance = environment.instance
        self.log = log
        self.state = StateDirectory(environment: environment)
        self.started = started
        let timeout = environment.timeout
        self.deadline = started + timeout - min(timeout / 10, .seconds(5))
        self.isProbe = action == .monitor && environment.intervalMilliseconds == 0
        self.checkLevel = environment.checkLevel
    }

    /// Time left before `deadline`, never negative.
    public var remaining: Duration { max(.zero, ContinuousClock.now.duration(to: deadline)) }

    /// The file `<agent>-<instance><suffix>` in the state directory.
    public func stateFile(agent: String, suffix: String = "") -> StateFile {
        state.file(agent: agent, instance: instance, suffix: suffix)
    }

    /// Removes a state file at the end of a stop. A file that cannot be removed (the state
    /// directory went read-only) is said, never a failed stop: what stop must prove is that
    /// nothing runs, and a failed stop gets the node fenced. The next start writes it anew.
    public func forget(_ file: StateFile) {
        do {
            try file.remove()
        } catch {
            log.warning("cannot remove it (\(error)): nothing of it runs; the next start replaces it")
        }
    }
}
