import Glibc

/// Runs a resource agent: dispatches `argv[1]`, loads and validates parameters, takes the
/// instance lock, traces, maps every outcome to exactly one OCF exit code, and writes one
/// `ocf-exit-reason:` line before a failing exit.
///
/// The only place in Tandem that decides an exit code.
public enum AgentMain {
    /// What an action produced.
    public struct Outcome: Sendable {
        public let exitCode: ExitCode
        /// What goes to stdout (meta-data, usage).
        public let output: String
    }

    /// The process entry point: `main.swift` of every agent is `AgentMain.main(SomeAgent.self) { … }`.
    /// - Parameter host: the live node for an action (its deadline bounds every wait); built
    ///   only for actions that use it.
    public static func main<Agent: ResourceAgent>(_ agent: Agent.Type, host: (AgentContext) -> Agent.Host) -> Never {
        let outcome = run(agent, arguments: Array(CommandLine.arguments.dropFirst()), environment: .current(), host: host)
        Log.writeStandardOutput(outcome.output)
        exit(outcome.exitCode.rawValue)
    }

    /// Runs one action in-process (tests call this directly, with fakes as the host).
    /// - Parameters:
    ///   - arguments: the arguments after the program name; the first is the action.
    ///   - log: where log lines go; by default the process's stderr.
    ///   - attributes: where node attributes go (the cluster's attrd by default).
    public static func run<Agent: ResourceAgent>(_ agent: Agent.Type, arguments: [String], environment: Environment,
                                                 log: Log? = nil, attributes: (any NodeAttributeStore)? = nil,
                                                 host: Agent.Host) -> Outcome {
        run(agent, arguments: arguments, environment: environment, log: log, attributes: attributes) { _ in host }
    }

    /// Runs one action in-process with a host built for its context.
    public static func run<Agent: ResourceAgent>(_ agent: Agent.Type, arguments: [String], environment: Environment,
                                                 log: Log? = nil, attributes: (any NodeAttributeStore)? = nil,
                                                 host: (AgentContext) -> Agent.Host) -> Outcome {
        let log = log ?? Log(agent: Agent.name, environment: environment)
        let argument = arguments.first ?? ""
        guard let action = Action(argument: argument), dispatchable(agent).contains(action) else {
            log.raw(usage(agent))
            return fail(OCFError.unimplemented("action '\(argument)' is not implemented by \(Agent.name)"), log: log)
        }
        switch action {
        case .metaData: return Outcome(exitCode: .success, output: Metadata.render(agent))
        case .usage: return Outcome(exitCode: .success, output: usage(agent))
        case .manPage: return Outcome(exitCode: .success, output: Metadata.manPage(agent))
        default: break
        }
        var store: (@Sendable (ContinuousClock.Instant) -> any NodeAttributeStore)?
        if let attributes { store = { _ in attributes } }
        let context = AgentContext(action: action, environment: environment, log: log, attributes: store)
        let (trace, problem) = Trace.open(environment: environment, agent: Agent.name, action: action, started: context.started)
        log.trace = trace
        if let problem { log.warning("tracing: \(problem)") }
        if let trace { begin(trace, agent, context: context) }
        let outcome: Outcome
        do {
            outcome = Outcome(exitCode: try perform(agent, context: context, host: host(context)), output: "")
        } catch {
            outcome = fail(error, log: log)
        }
        trace?.write("exit \(outcome.exitCode)")
        return outcome
    }

    /// The actions this agent answers: the mandatory ones, and the optional ones it advertises.
    static func dispatchable<Agent: ResourceAgent>(_ agent: Agent.Type) -> Set<Action> {
        Action.mandatory.union(Agent.actions.map(\.action))
    }

    static func perform<Agent: ResourceAgent>(_ agent: Agent.Type, context: AgentContext, host: Agent.Host) throws -> ExitCode {
        let parameters: Agent.Parameters
        let unknown: [String]
        do {
            (parameters, unknown) = try Agent.Parameters.loadReportingUnknown(from: context.environment)
        } catch {
            guard context.action == .stop else {
                for problem in error.problems { context.log.error("\(problem)") }
                throw AlreadyLogged(failure: OCFError.notConfigured(summary(of: error)))
            }
            context.log.warning("stop with a configuration that does not parse (\(error)); stopping what was recorded")
            let lock = try instanceLock(agent, context: context)
            defer { withExtendedLifetime(lock) {} }
            try Agent.stop(unparsableConfiguration: error, context: context, host: host)
            return .success
        }
        for name in unknown {
            // Every monitor would repeat it: validate-all and the other actions say it loud enough.
            let message = "\(name) is not a parameter of \(Agent.name); ignored"
            if context.action == .monitor { context.log.debug(message) } else { context.log.warning(message) }
        }
        let instance = try Agent(parameters: parameters, context: context, host: host)
        switch context.action {
        case .validateAll:
            try instance.validate()
            return .success
        case .start, .reloadAgent:
            // Read-only, so before the lock: a refused start leaves no trace, not even a lock file.
            try instance.validate()
        case .monitor where context.isProbe:
            // A probe changes nothing: no lock file, no repair, no announcement.
            return try exitCode(of: instance.monitor(), context: context)
        default:
            break
        }
        // Actions of one resource never overlap, even when run by hand meanwhile, and a
        // recurring monitor that repairs does so under the same lock.
        let lock = try instanceLock(agent, context: context)
        defer { withExtendedLifetime(lock) {} }
        switch context.action {
        case .start: try instance.start()
        case .stop: try instance.stop()
        case .monitor: return try exitCode(of: instance.monitor(), context: context)
        case .reloadAgent: try instance.reloadAgent()
        case .promote: try instance.promote()
        case .demote: try instance.demote()
        case .notify: try instance.notify()
        case .validateAll, .metaData, .usage, .manPage: break
        }
        return .success
    }

    /// The instance lock; `nil` for a stop when the state directory cannot hold a lock file
    /// (full or read-only and no lock file yet): Pacemaker never runs two operations of one
    /// resource at once, and a stop that fails for a lock file gets the node fenced.
    static func instanceLock<Agent: ResourceAgent>(_ agent: Agent.Type, context: AgentContext) throws -> FileLock? {
        let taken = Result { () throws(StateError) -> FileLock in
            try context.state.create()
            return try FileLock(path: context.stateFile(agent: Agent.name, suffix: ".lock").path, deadline: context.deadline)
        }
        switch taken {
        case .success(let lock):
            return lock
        case .failure(let error) where context.action == .stop && [ENOSPC, EROFS, EDQUOT].contains(error.errno):
            context.log.warning("stopping without the instance lock: \(error)")
            return nil
        case .failure(let error):
            throw error
        }
    }

    static func exitCode(of result: MonitorResult, context: AgentContext) -> ExitCode {
        switch result {
        case .degraded(let reason), .degradedPromoted(let reason):
            // crm_mon lists a degraded monitor among the failed actions, with this reason.
            context.log.warning(reason)
            context.log.exitReason(reason)
        case .failedPromoted(let reason):
            context.log.error(reason)
            context.log.exitReason(reason)
        case .running, .notRunning, .runningPromoted:
            break
        }
        return result.exitCode
    }

    /// The first lines of a trace: what the action was asked and what it read.
    static func begin<Agent: ResourceAgent>(_ trace: Trace, _ agent: Agent.Type, context: AgentContext) {
        let environment = context.environment
        trace.write("\(Agent.name) \(Agent.version) \(context.action) of \(context.instance), pid \(getpid())"
            + (context.isProbe ? " (probe)" : "") + ", check level \(context.checkLevel)"
            + ", timeout \(environment.timeout), \(context.remaining) to the deadline")
        let declarations = Agent.Parameters.declarations
        let secrets = Set(declarations.filter(\.isSecret).map(\.name))
        for name in environment.variables.keys.sorted() {
            let value = environment.variables[name] ?? ""
            let parameter = name.hasPrefix("OCF_RESKEY_") ? String(name.dropFirst("OCF_RESKEY_".count)) : nil
            trace.write("read \(name)=\(parameter.map(secrets.contains) == true ? "(secret)" : value)")
        }
        let defaults = declarations.filter { environment.parameter($0.name) == nil && $0.defaultValue != nil }
        if !defaults.isEmpty {
            trace.write("defaults: " + defaults.map { "\($0.name)=\($0.defaultValue ?? "")" }.joined(separator: " "))
        }
    }

    /// The exit reason for a set of problems: the first, and how many more there are.
    static func summary(of problems: ParameterProblems) -> String {
        guard let first = problems.problems.first else { return "invalid configuration" }
        let more = problems.problems.count - 1
        return more == 0 ? first.description : "\(first) (and \(more) more problem\(more == 1 ? "" : "s"))"
    }

    /// A failure whose details are in the log already; only the exit reason is left to write.
    struct AlreadyLogged: Error {
        let failure: OCFError
    }

    static func fail(_ error: any Error, log: Log) -> Outcome {
        let failure: OCFError
        switch error {
        case let error as AlreadyLogged:
            failure = error.failure
        case let error as OCFError:
            failure = error
            log.error(failure.reason)
        default:
            failure = .generic("\(error)")
            log.error(failure.reason)
        }
        log.exitReason(failure.reason)
        return Outcome(exitCode: failure.exitCode, output: "")
    }

    static func usage<Agent: ResourceAgent>(_ agent: Agent.Type) -> String {
        let optional: [Action] = [.reloadAgent, .promote, .demote, .notify]
        let names = ["start", "stop", "monitor", "status", "validate-all"]
            + optional.filter { action in Agent.actions.contains { $0.action == action } }.map(\.rawValue)
            + ["meta-data", "usage"]
        return "usage: \(Agent.name) {\(names.joined(separator: "|"))}\n\n"
            + "\(Agent.name): \(Agent.shortDescription).\n"
            + "Parameters come from OCF_RESKEY_<name>; run '\(Agent.name) meta-data' for the list.\n"
    }
}
