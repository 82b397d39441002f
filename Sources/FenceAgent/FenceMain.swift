import Glibc
import OCF
import POSIX

/// Runs a fence agent the way pacemaker-fenced and people call it, and decides its exit code:
/// 0 success, 1 failure (with one reason line on stderr), 2 for `status` of a target that is off.
public enum FenceMain {
    public struct Outcome: Sendable, Equatable {
        public let exitCode: Int32
        public let output: String
        public init(exitCode: Int32, output: String) {
            self.exitCode = exitCode
            self.output = output
        }
    }

    /// The process entry point. With no arguments the request is read from stdin (what the
    /// fencer does); with arguments, from the command line.
    public static func main<Agent: FenceAgent>(_ agent: Agent.Type) -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let request = arguments.isEmpty
            ? FenceRequest.standardInput(readStandardInput())
            : FenceRequest.commandLine(arguments, booleans: optionNames(agent, boolean: true), values: optionNames(agent, boolean: false))
        let outcome = run(agent, request: request, fromCommandLine: !arguments.isEmpty, process: .current())
        Log.writeStandardOutput(outcome.output)
        exit(outcome.exitCode)
    }

    /// Runs one request in-process (tests call this).
    public static func run<Agent: FenceAgent>(_ agent: Agent.Type, request: FenceRequest, fromCommandLine: Bool,
                                              process: Environment, log: Log? = nil) -> Outcome {
        let environment = request.environment(inheriting: process)
        let log = log ?? Log(agent: Agent.name, environment: environment)
        if request.wantsHelp { return Outcome(exitCode: 0, output: FenceMetadata.help(agent)) }
        if request.wantsVersion { return Outcome(exitCode: 0, output: "\(Agent.name) \(tandemVersion)\n") }
        guard let action = FenceAction(argument: request.action),
              action == .metadata || action == .manpage || action == .validateAll || Agent.actions.contains(action) else {
            return fail("unrecognised action '\(request.action)' (actions: \(actionNames(agent)))", log: log)
        }
        switch action {
        case .metadata: return Outcome(exitCode: 0, output: FenceMetadata.xml(agent))
        case .manpage: return Outcome(exitCode: 0, output: FenceMetadata.manPage(agent))
        default: break
        }
        for line in request.unreadable {
            // A person's typo must not run an action; the fencer's stdin is read leniently.
            if fromCommandLine { return fail("unknown option \(line) (see --help)", log: log) }
            log.warning("ignored a line that is not key=value: \(line)")
        }
        let parameters: Agent.Parameters
        do {
            parameters = try Agent.Parameters.load(from: environment)
        } catch {
            return fail(error.description, log: log)
        }
        for name in Agent.Parameters.unknownNames(in: environment) {
            log.warning("\(name) is not a parameter of \(Agent.name); ignored")
        }
        let instance = Agent(parameters: parameters, context: FenceContext(action: action, log: log, environment: environment))
        do throws(FenceFailure) {
            if action.needsTarget && request.target == nil {
                throw FenceFailure("plug is required for \(action.rawValue) (the domain's name or UUID; pcmk_host_map maps node names to it)")
            }
            try instance.validate(target: request.target)
            if action == .validateAll { return Outcome(exitCode: 0, output: "") }
            let result = try instance.perform(action, target: request.target)
            return Outcome(exitCode: result.exitCode, output: result.output)
        } catch {
            return fail(error.reason, log: log)
        }
    }

    static func fail(_ reason: String, log: Log) -> Outcome {
        log.error(reason)
        return Outcome(exitCode: 1, output: "")
    }

    static func actionNames<Agent: FenceAgent>(_ agent: Agent.Type) -> String {
        (Agent.actions + [.metadata, .manpage, .validateAll]).map(\.rawValue).joined(separator: ", ")
    }

    static func optionNames<Agent: FenceAgent>(_ agent: Agent.Type, boolean: Bool) -> Set<String> {
        Set(Agent.Parameters.declarations.filter { ($0.contentType == .boolean) == boolean }.map(\.name))
    }

    /// Standard input to its end; empty when it cannot be read.
    static func readStandardInput() -> String {
        String(decoding: (try? FileDescriptor.standardInput.readToEnd()) ?? [], as: UTF8.self)
    }
}
