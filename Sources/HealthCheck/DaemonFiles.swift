import Glibc
import OCF

/// The files the agent and its checker daemon share in the state directory, per resource instance:
/// - `healthcheck-<instance>.conf`: the parameters, written by the agent (start, reload-agent);
/// - `healthcheck-<instance>.status`: the daemon's heartbeat and verdicts, rewritten at least
///   every two seconds; monitor and `tandem status` read it.
public struct DaemonFiles: Sendable {
    public let configuration: StateFile
    public let status: StateFile

    public init(directory: String, instance: String) {
        let base = directory + "/healthcheck-" + DaemonFiles.escape(instance)
        configuration = StateFile(path: base + ".conf")
        status = StateFile(path: base + ".status")
    }

    static func escape(_ text: String) -> String {
        String(text.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
    }
}

/// The daemon's configuration: the parameters as configured, the state directory, and a
/// generation the agent raises at each reload so it can tell when the daemon has applied it.
public struct DaemonConfiguration: Sendable {
    public var parameters: [String: String]
    public var stateDirectory: String
    public var instance: String
    public var generation: Int

    public init(parameters: [String: String], stateDirectory: String, instance: String, generation: Int) {
        self.parameters = parameters
        self.stateDirectory = stateDirectory
        self.instance = instance
        self.generation = generation
    }

    /// The configured values of every declared parameter, taken from the agent's environment.
    public static func parameters(from environment: Environment) -> [String: String] {
        var values: [String: String] = [:]
        for declaration in HealthCheckParameters.declarations {
            if let value = environment.parameter(declaration.name), !value.isEmpty { values[declaration.name] = value }
        }
        return values
    }

    public func save(to file: StateFile) throws {
        var lines = [("generation", String(generation)), ("state_directory", stateDirectory), ("instance", instance)]
        lines += parameters.sorted { $0.key < $1.key }.map { ("param " + $0.key, $0.value) }
        try file.write(lines)
    }

    public static func load(from file: StateFile) throws -> DaemonConfiguration? {
        guard let values = try file.read() else { return nil }
        var parameters: [String: String] = [:]
        for (key, value) in values where key.hasPrefix("param ") { parameters[String(key.dropFirst(6))] = value }
        return DaemonConfiguration(parameters: parameters, stateDirectory: values["state_directory"] ?? "",
                                   instance: values["instance"] ?? "", generation: Int(values["generation"] ?? "") ?? 0)
    }

    /// The parameters as an OCF environment, for `HealthCheckParameters.load(from:)`.
    public var environment: Environment {
        var variables: [String: String] = ["OCF_RESOURCE_INSTANCE": instance, "HA_RSCTMP": stateDirectory]
        for (name, value) in parameters { variables[Environment.parameterPrefix + name] = value }
        return Environment(variables)
    }
}

/// One real server's verdict as the status file keeps it.
public struct TargetReport: Equatable, Sendable {
    public var health: Health
    public var inMaintenance: Bool
    /// The last check's duration in microseconds.
    public var latencyMicroseconds: Int?
    public var reason: String

    public init(health: Health, inMaintenance: Bool, latencyMicroseconds: Int?, reason: String) {
        self.health = health
        self.inMaintenance = inMaintenance
        self.latencyMicroseconds = latencyMicroseconds
        self.reason = reason
    }

    public var serves: Bool { health == .up && !inMaintenance }
}

/// The daemon's status file: who it is, when it last showed life, which configuration it runs,
/// how many full rounds of checks it has applied, and each target's verdict.
public struct DaemonStatus: Equatable, Sendable {
    public var daemon: String
    /// `CLOCK_BOOTTIME` in milliseconds when written: comparable across processes, immune to
    /// changes of the wall clock.
    public var heartbeat: Int64
    public var generation: Int
    /// Rounds completed: every target checked and the result applied to the kernel.
    public var rounds: Int
    public var targets: [String: TargetReport]
    /// Healthy and configured real servers of each service.
    public var services: [String: (healthy: Int, total: Int)]
    /// A problem the daemon could not get past (it exits after writing it).
    public var fatal: String?
    /// The namespace of the services' table (empty for the daemon's own).
    public var netns = ""
    /// When the kernel last took every verdict there was to apply (CLOCK_BOOTTIME ms).
    public var synced: Int64?
    /// Since when verdicts have been waiting to reach the kernel (CLOCK_BOOTTIME ms); `nil`
    /// when none waits.
    public var pendingSince: Int64?
    /// Why the last attempt to apply them failed.
    public var syncProblem: String?

    /// The longest a heartbeat may be old (ms): the daemon writes it every two seconds whatever
    /// the check interval, and nothing it does blocks its loop for long.
    public static let heartbeatLimit: Int64 = 10_000
    /// The longest verdicts may wait for the kernel (ms) before monitor fails.
    public static let pendingLimit: Int64 = 10_000

    public init(daemon: String, heartbeat: Int64, generation: Int, rounds: Int,
                targets: [String: TargetReport] = [:], services: [String: (healthy: Int, total: Int)] = [:], fatal: String? = nil) {
        self.daemon = daemon
        self.heartbeat = heartbeat
        self.generation = generation
        self.rounds = rounds
        self.targets = targets
        self.services = services
        self.fatal = fatal
    }

    public static func == (a: DaemonStatus, b: DaemonStatus) -> Bool {
        a.daemon == b.daemon && a.heartbeat == b.heartbeat && a.generation == b.generation && a.rounds == b.rounds
            && a.targets == b.targets && a.fatal == b.fatal && a.netns == b.netns && a.synced == b.synced
            && a.pendingSince == b.pendingSince && a.syncProblem == b.syncProblem
            && a.services.mapValues { "\($0.healthy)/\($0.total)" } == b.services.mapValues { "\($0.healthy)/\($0.total)" }
    }

    /// Milliseconds on `CLOCK_BOOTTIME`.
    public static func now() -> Int64 { bootTimeMilliseconds() }

    public func save(to file: StateFile) throws {
        var lines = [("daemon", daemon), ("heartbeat", String(heartbeat)), ("generation", String(generation)),
                     ("rounds", String(rounds))]
        if let fatal { lines.append(("fatal", fatal)) }
        lines.append(("netns", netns))
        if let synced { lines.append(("synced", String(synced))) }
        if let pendingSince { lines.append(("pending_since", String(pendingSince))) }
        if let syncProblem { lines.append(("sync_problem", syncProblem)) }
        for (service, counts) in services.sorted(by: { $0.key < $1.key }) {
            lines.append(("service " + service, "\(counts.healthy)/\(counts.total)"))
        }
        for (target, report) in targets.sorted(by: { $0.key < $1.key }) {
            let latency = report.latencyMicroseconds.map(String.init) ?? "-"
            lines.append(("target " + target, "\(report.health.rawValue) \(report.inMaintenance ? "maintenance" : "-") \(latency) \(report.reason)"))
        }
        try file.write(lines)
    }

    public static func load(from file: StateFile) throws -> DaemonStatus? {
        guard let values = try file.read() else { return nil }
        var status = DaemonStatus(daemon: values["daemon"] ?? "", heartbeat: Int64(values["heartbeat"] ?? "") ?? 0,
                                  generation: Int(values["generation"] ?? "") ?? 0, rounds: Int(values["rounds"] ?? "") ?? 0,
                                  fatal: values["fatal"])
        status.netns = values["netns"] ?? ""
        status.synced = values["synced"].flatMap { Int64($0) }
        status.pendingSince = values["pending_since"].flatMap { Int64($0) }
        status.syncProblem = values["sync_problem"]
        for (key, value) in values {
            if key.hasPrefix("target ") {
                let words = value.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard words.count >= 3, let health = Health(rawValue: String(words[0])) else { continue }
                status.targets[String(key.dropFirst(7))] = TargetReport(
                    health: health, inMaintenance: words[1] == "maintenance", latencyMicroseconds: Int(words[2]),
                    reason: words.count > 3 ? String(words[3]) : "")
            } else if key.hasPrefix("service ") {
                let counts = value.split(separator: "/")
                guard counts.count == 2, let healthy = Int(counts[0]), let total = Int(counts[1]) else { continue }
                status.services[String(key.dropFirst(8))] = (healthy, total)
            }
        }
        return status
    }
}
