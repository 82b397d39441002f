import Glibc
import POSIX

/// The step-by-step account of one action that `crm resource trace RSC` asks for: what the
/// agent read, each kernel request and its answer, every log line (debug included) and the
/// decision, with the time since the action began.
///
/// crmsh turns tracing on with an operation attribute, `trace_ra=1` (and `trace_dir`), which
/// reaches the agent as `OCF_RESKEY_trace_ra`; ocf-tester `-X` and `crm_resource -VV` set
/// `OCF_TRACE_RA`. The file is where ocf-shellfuncs puts shell traces, so `crm resource trace`
/// finds it: `$HA_VARLIB/trace_ra/<type>/<instance>.<action>.<date>` (HA_VARLIB defaults to
/// `/var/lib/heartbeat`), with `trace_dir` in place of `$HA_VARLIB/trace_ra` when given; or
/// exactly `trace_file` / `OCF_TRACE_FILE` (an absolute path, or a descriptor 3 to 9).
public final class Trace: @unchecked Sendable {
    /// Where the trace goes.
    public let path: String
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let started: ContinuousClock.Instant

    /// The parameters that control tracing; they belong to the framework, not to any agent.
    public static let parameterNames: Set = ["trace_ra", "trace_file", "trace_dir"]

    /// Opens the trace when the environment asks for one.
    /// - Returns: the trace, or `nil` with the reason tracing was asked for and is impossible
    ///   (`problem`), or `nil` without a problem when it was not asked for.
    static func open(environment: Environment, agent: String, action: Action,
                     started: ContinuousClock.Instant) -> (trace: Trace?, problem: String?) {
        let asked = [environment.parameter("trace_ra"), environment["OCF_TRACE_RA"]].contains { value in
            value.map { (try? Bool(ocfValue: $0)) == true } ?? false
        }
        guard asked else { return (nil, nil) }
        let file = [environment.parameter("trace_file"), environment["OCF_TRACE_FILE"]].compactMap { $0 }.first { !$0.isEmpty }
        if let file, file.count == 1, let number = Int32(file), (3...9).contains(number) {
            guard fcntl(number, F_GETFD) >= 0 else { return (nil, "trace descriptor \(number) is not open") }
            return (Trace(path: "descriptor \(number)", descriptor: number, owns: false, started: started), nil)
        }
        let path: String
        if let file, file.hasPrefix("/") {
            path = file
        } else {
            let base = environment.parameter("trace_dir").flatMap { $0.hasPrefix("/") ? $0 : nil }
                ?? ((environment["HA_VARLIB"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/lib/heartbeat") + "/trace_ra")
            let type = environment["OCF_RESOURCE_TYPE"].flatMap { $0.isEmpty ? nil : $0 } ?? agent
            let directory = base + "/" + type.replacingSlashes
            guard makeDirectories(directory) else {
                return (nil, "cannot create the trace directory \(directory): \(Errno.current)")
            }
            path = directory + "/" + environment.instance.replacingSlashes + "." + action.rawValue + "." + timestamp()
        }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return (nil, "cannot open the trace file \(path): \(Errno.current)") }
        return (Trace(path: path, descriptor: fd, owns: true, started: started), nil)
    }

    private init(path: String, descriptor: Int32, owns: Bool, started: ContinuousClock.Instant) {
        self.path = path
        self.descriptor = descriptor
        self.ownsDescriptor = owns
        self.started = started
    }

    deinit { if ownsDescriptor { close(descriptor) } }

    /// Writes one line, stamped with the milliseconds since the action began.
    public func write(_ text: String) {
        let elapsed = started.duration(to: .now)
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        let stamp = "+\(microseconds / 1000).\(String(microseconds % 1000 + 1000).dropFirst()) ms "
        try? FileDescriptor(descriptor).writeAll(stamp + Log.clean(text) + "\n")
    }

    /// `mkdir -p`, mode 0755.
    static func makeDirectories(_ path: String) -> Bool {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return false }
        }
        return true
    }

    /// Local time as `date +%F.%T` writes it, e.g. `2026-11-29.18:37:52`.
    static func timestamp() -> String { localTime(format: "%F.%T") }
}
