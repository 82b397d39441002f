import Glibc

/// Runs a resource agent: dispatches `argv[1]`, loads and validates parameters, takes the
/// instance lock, maps every outcome to exactly one OCF exit code, and writes one
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

    /// The process entry point: `main.swift` of every agent is `AgentMain.main(SomeAgent.self)`.
    public static func main<Agent: ResourceAgent>(_ agent: Agent.Type) -> Never {
        let outcome = run(agent, arguments: Array(CommandLine.arguments.dropFirst()), environment: .current())
        if !outcome.output.isEmpty {
            var bytes = Array(outcome.output.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { break }
                bytes = bytes.dropFirst(written)
            }
        }
        exit(outcome.exitCode.rawValue)
    }

    /// Runs one action in-process (tests call this directly).
    /// - Parameters:
    ///   - arguments: the arguments after the program name; the first is the action.
    ///   - log: where log lines go; by default the process's stderr.
    public static func run<Agent: ResourceAgent>(_ agent: Agent.Type, arguments: [String], environment: Environment,
                                                 log: Log? = nil) -> Outcome {
        let log = log ?? Log(agent: Agent.name, environment: environment)
        let action = arguments.first ?? ""
        switch action {
        case "meta-data":
            return Outcome(exitCode: .success, output: Metadata.render(agent))
        case "usage", "help", "--help", "-h":
            return Outcome(exitCode: .success, output: usage(agent))
        default:
            // `status` is the old name of monitor.
            let canonical = action == "status" ? "monitor" : action
            guard dispatchable(agent).contains(canonical) else {
                Log.writeStandardError(usage(agent))
                return fail(OCFError.unimplemented("action '\(action)' is not implemented by \(Agent.name)"), log: log)
            }
            let context = AgentContext(action: canonical, environment: environment, log: log)
            do {
                return Outcome(exitCode: try perform(agent, context: context), output: "")
            } catch {
                return fail(error, log: log)
            }
        }
    }

    /// The actions this agent answers: the mandatory ones, and the optional ones it advertises.
    static func dispatchable<Agent: ResourceAgent>(_ agent: Agent.Type) -> Set<String> {
        var actions: Set = ["start", "stop", "monitor", "validate-all"]
        for advertised in Agent.actions where ["reload", "promote", "demote", "notify"].contains(advertised.name) {
            actions.insert(advertised.name)
        }
        return actions
    }

    static func perform<Agent: ResourceAgent>(_ agent: Agent.Type, context: AgentContext) throws -> ExitCode {
        let parameters: Agent.Parameters
        do {
            parameters = try Agent.Parameters.load(from: context.environment)
        } catch {
            guard context.action == "stop" else {
                for problem in error.problems { context.log.error("\(problem)") }
                throw AlreadyLogged(failure: OCFError.notConfigured(summary(of: error)))
            }
            try Agent.stop(unparsableConfiguration: error, context: context)
            return .success
        }
        let instance = try Agent(parameters: parameters, context: context)
        switch context.action {
        case "validate-all":
            try instance.validate()
            return .success
        case "monitor":
            let result = try instance.monitor()
            if case .degraded(let reason) = result { context.log.warning(reason) }
            if case .degradedPromoted(let reason) = result { context.log.warning(reason) }
            if case .failedPromoted(let reason) = result {
                context.log.error(reason)
                context.log.exitReason(reason)
            }
            return result.exitCode
        case "start":
            // Read-only, so before the lock: a refused start leaves no trace, not even a lock file.
            try instance.validate()
        default:
            break
        }
        // Changing actions of one resource never overlap, even when run by hand meanwhile.
        try context.state.create()
        let lock = try FileLock(path: context.state.file(agent: Agent.name, instance: context.instance, suffix: ".lock").path,
                                deadline: context.deadline)
        defer { withExtendedLifetime(lock) {} }
        switch context.action {
        case "start": try instance.start()
        case "stop": try instance.stop()
        case "reload": try instance.reload()
        case "promote": try instance.promote()
        case "demote": try instance.demote()
        case "notify": try instance.notify()
        default: throw OCFError.unimplemented("action '\(context.action)' is not implemented")
        }
        return .success
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
        let names = ["start", "stop", "monitor", "status", "validate-all"]
            + Agent.actions.map(\.name).filter { ["reload", "promote", "demote", "notify"].contains($0) }
            + ["meta-data", "usage"]
        return "usage: \(Agent.name) {\(names.joined(separator: "|"))}\n\n"
            + "\(Agent.name): \(Agent.shortDescription).\n"
            + "Parameters come from OCF_RESKEY_<name>; run '\(Agent.name) meta-data' for the list.\n"
    }
}
