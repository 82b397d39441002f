import Glibc
import Netlink
import OCF

/// Runs an agent executable the way Pacemaker does: one action in argv[1], parameters as
/// `OCF_RESKEY_*`, a clean environment, optionally inside a network namespace.
public struct AgentRunner: Sendable {
    public let executable: String
    /// The network namespace the agent runs in; this process's when `nil`.
    public var namespace: NetworkNamespace?
    public var instance: String
    /// `HA_RSCTMP` for the agent.
    public var stateDirectory: String
    /// Extra environment (e.g. `OCF_CHECK_LEVEL`, `HA_debug`).
    public var environment: [String: String] = [:]

    public init(agent name: String, namespace: NetworkNamespace? = nil, instance: String = "test",
                stateDirectory: String) {
        self.executable = AgentRunner.path(of: name)
        self.namespace = namespace
        self.instance = instance
        self.stateDirectory = stateDirectory
    }

    /// What an action returned.
    public struct Result: Sendable, CustomStringConvertible {
        public let status: Int32
        public let output: String
        public let errorOutput: String
        public var exitCode: ExitCode? { ExitCode(rawValue: status) }
        /// The last `ocf-exit-reason:` line, as Pacemaker reads it.
        public var exitReason: String? {
            errorOutput.split(separator: "\n").last { $0.hasPrefix("ocf-exit-reason:") }
                .map { String($0.dropFirst("ocf-exit-reason:".count)) }
        }
        public var description: String { "exit \(status)\n--- stdout\n\(output)--- stderr\n\(errorOutput)" }
    }

    /// Runs one action.
    /// - Parameters:
    ///   - interval: the recurring interval in ms for monitors; 0 makes it a probe.
    public func run(_ action: String, _ parameters: [String: String], interval: Int = 10_000,
                    timeout: Duration = .seconds(20)) throws -> Result {
        var variables = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf",
                         "OCF_RESOURCE_INSTANCE": instance, "HA_RSCTMP": stateDirectory,
                         "OCF_RESKEY_CRM_meta_timeout": String(Int(timeout.components.seconds) * 1000)]
        if action == "monitor" && interval > 0 { variables["OCF_RESKEY_CRM_meta_interval"] = String(interval) }
        for (name, value) in parameters { variables["OCF_RESKEY_" + name] = value }
        variables.merge(environment) { $1 }
        let command = Command(executable, [action], environment: variables)
        let deadline = ContinuousClock.now + timeout + .seconds(10)
        let result = try namespace.map { try command.run(in: $0, deadline: deadline) } ?? command.run(deadline: deadline)
        return Result(status: result.status, output: result.output, errorOutput: result.errorOutput)
    }

    /// Where the built agents are: `$TANDEM_AGENT_DIR` (the Makefile points it at the
    /// release build), else next to the running test executable.
    public static func path(of agent: String) -> String {
        if let directory = getenv("TANDEM_AGENT_DIR").map({ String(cString: $0) }), !directory.isEmpty {
            return directory + "/" + agent
        }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let executable = count > 0 ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        var directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        // `swift test` runs <bin>/<Package>PackageTests.xctest; agents are in <bin>.
        if directory.last?.hasSuffix(".xctest") == true { directory = directory.dropLast() }
        return directory.joined(separator: "/") + "/" + agent
    }
}
