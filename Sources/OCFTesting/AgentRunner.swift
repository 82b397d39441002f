import Glibc
import Netlink
import OCF
import POSIX

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

        public init(status: Int32, output: String, errorOutput: String) {
            self.status = status
            self.output = output
            self.errorOutput = errorOutput
        }

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
        let command = command(action, parameters, interval: interval, timeout: timeout)
        let deadline = ContinuousClock.now + timeout + .seconds(10)
        let result = try namespace.map { try command.run(in: $0, deadline: deadline) } ?? command.run(deadline: deadline)
        return Result(status: result.status, output: result.output, errorOutput: result.errorOutput)
    }

    /// The command that runs one action, as Pacemaker's executor would: a clean environment.
    /// - Parameter wrapper: a program and its arguments the agent runs under (strace).
    public func command(_ action: String, _ parameters: [String: String], interval: Int = 10_000,
                        timeout: Duration = .seconds(20), wrapper: [String] = []) -> Command {
        var variables = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf",
                         "OCF_RESOURCE_INSTANCE": instance, "HA_RSCTMP": stateDirectory,
                         "OCF_RESKEY_CRM_meta_timeout": String(Int(timeout.components.seconds) * 1000)]
        if action == "monitor" && interval > 0 { variables["OCF_RESKEY_CRM_meta_interval"] = String(interval) }
        for (name, value) in parameters { variables["OCF_RESKEY_" + name] = value }
        variables.merge(environment) { $1 }
        guard let program = wrapper.first else { return Command(executable, [action], environment: variables) }
        return Command(program, Array(wrapper.dropFirst()) + [executable, action], environment: variables)
    }

    /// Runs two actions at the same time (two processes started together).
    public func concurrently(_ first: (String, [String: String], Int), _ second: (String, [String: String], Int),
                             timeout: Duration = .seconds(20)) throws -> (Result, Result) {
        let commands = [first, second].map { command($0.0, $0.1, interval: $0.2, timeout: timeout) }
        let running = try commands.map { command in try namespace.map { try command.start(in: $0) } ?? command.start() }
        let deadline = ContinuousClock.now + timeout + .seconds(10)
        let results = running.map { $0.wait(deadline: deadline) }.map {
            Result(status: $0.status, output: $0.output, errorOutput: $0.errorOutput)
        }
        return (results[0], results[1])
    }

    /// The system calls a kill point comes before: every request to the kernel (netlink),
    /// every write (sysctls, logs), rename and unlink (state files), and fork (background work).
    public static let killPointCalls = ["sendto", "sendmsg", "write", "writev", "rename", "unlink", "clone", "clone3", "fork", "vfork"]

    /// A place to kill at: on entry to the `occurrence`-th call of `call`.
    public struct KillPoint: Sendable, CustomStringConvertible {
        public let call: String
        public let occurrence: Int
        public var description: String { "before \(call) #\(occurrence)" }
    }

    /// The kill points of a start, in the order it reaches them: the start runs once under
    /// strace (it does start: the caller cleans up afterwards).
    public func killPoints(ofStart parameters: [String: String]) throws -> [KillPoint] {
        let log = "/tmp/tandem-killpoints-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(log) }
        let strace = ["/usr/bin/strace", "-qq", "-o", log, "-e", "trace=" + Self.killPointCalls.joined(separator: ","), "--"]
        let command = command("start", parameters, wrapper: strace)
        let deadline = ContinuousClock.now + .seconds(60)
        let result = try namespace.map { try command.run(in: $0, deadline: deadline) } ?? command.run(deadline: deadline)
        guard result.status == 0 else { throw LabError("the start to count kill points failed: \(result.status) \(result.errorOutput)") }
        var seen: [String: Int] = [:]
        var points: [KillPoint] = []
        for line in (readFile(log) ?? "").split(separator: "\n") {
            guard let open = line.firstIndex(of: "("), case let call = String(line[..<open]), Self.killPointCalls.contains(call) else { continue }
            seen[call, default: 0] += 1
            points.append(KillPoint(call: call, occurrence: seen[call] ?? 1))
        }
        return points
    }

    /// Runs start under strace, SIGKILLed on entry to the system call of `point`.
    /// - Returns: whether it was killed there (`false`: the start went another way and ended).
    public func startKilled(at point: KillPoint, _ parameters: [String: String]) throws -> Bool {
        let strace = ["/usr/bin/strace", "-qq", "-o", "/dev/null", "-e", "trace=\(point.call)",
                      "-e", "inject=\(point.call):signal=KILL:when=\(point.occurrence)", "--"]
        let command = command("start", parameters, wrapper: strace)
        let deadline = ContinuousClock.now + .seconds(60)
        let result = try namespace.map { try command.run(in: $0, deadline: deadline) } ?? command.run(deadline: deadline)
        return result.status == 128 + SIGKILL
    }

    /// The processes running `executable` in `namespace` (announcers, daemons an agent left).
    public static func processes(running executable: String, in namespace: NetworkNamespace?) -> [pid_t] {
        let target = namespace.map { inode(of: $0.path) } ?? inode(of: "/proc/self/ns/net")
        let executable = realpath(executable, nil).map { resolved in
            defer { free(resolved) }
            return String(cString: resolved)
        } ?? executable
        var found: [pid_t] = []
        for name in listDirectory("/proc") {
            guard let pid = pid_t(name), pid != getpid(), let path = readLink("/proc/\(pid)/exe") else { continue }
            if path == executable && inode(of: "/proc/\(pid)/ns/net") == target { found.append(pid) }
        }
        return found.sorted()
    }

    private static func inode(of path: String) -> UInt {
        var information = stat()
        return stat(path, &information) == 0 ? UInt(information.st_ino) : 0
    }

    /// Where the built agents are: `$TANDEM_AGENT_DIR` (the Makefile points it at the
    /// release build), else next to the running test executable.
    /// Where the agents (and the health checker's daemon) are: `TANDEM_AGENT_DIR`, else the
    /// build's products directory.
    public static var agentDirectory: String {
        String(path(of: "x").dropLast(2))
    }

    public static func path(of agent: String) -> String {
        if let directory = getenv("TANDEM_AGENT_DIR").map({ String(cString: $0) }), !directory.isEmpty {
            return directory + "/" + agent
        }
        let executable = readLink("/proc/self/exe") ?? ""
        var directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        // `swift test` runs <bin>/<Package>PackageTests.xctest; agents are in <bin>.
        if directory.last?.hasSuffix(".xctest") == true { directory = directory.dropLast() }
        return directory.joined(separator: "/") + "/" + agent
    }
}

extension Command {
    /// Starts the command inside a network namespace: it is spawned from this thread while the
    /// thread is switched into the namespace, and a child keeps the namespace of its creator.
    public func start(in namespace: NetworkNamespace) throws -> RunningCommand {
        try namespace.perform { try start() }
    }

    /// Runs the command inside a network namespace until it exits or `deadline` passes.
    public func run(in namespace: NetworkNamespace, deadline: ContinuousClock.Instant) throws -> Command.Result {
        try start(in: namespace).wait(deadline: deadline)
    }
}
