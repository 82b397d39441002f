import Glibc
import POSIX

/// The agent's log, in the ocf-shellfuncs tradition.
///
/// Lines go to stderr as `LEVEL: <agent>(<instance>): message` (Pacemaker records stderr;
/// crmsh re-logs lines that start with `ERROR:`/`WARNING:`/`INFO:`), to syslog when
/// `HA_LOGFACILITY` names a facility, and, dated, to the files `HA_LOGFILE` and `HA_DEBUGLOG`
/// name (Pacemaker sets them from `PCMK_logfile`), as ocf-shellfuncs' `ha_log` does. Debug
/// lines only with `HA_debug=1`, and never in `HA_LOGFILE`. Control characters in messages are
/// replaced, so a configured value can never forge a line.
public final class Log: @unchecked Sendable {
    public enum Level: Int, Comparable, Sendable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var prefix: String {
            switch self {
            case .debug: "DEBUG"
            case .info: "INFO"
            case .warning: "WARNING"
            case .error: "ERROR"
            }
        }
        var syslogPriority: Int32 {
            switch self {
            case .debug: LOG_DEBUG
            case .info: LOG_INFO
            case .warning: LOG_WARNING
            case .error: LOG_ERR
            }
        }
    }

    /// Where lines go besides syslog and the log files: the real stderr, nowhere (a daemon
    /// whose stderr is the log file already), or memory (tests).
    public enum Sink: Sendable {
        case standardError
        case logsOnly
        case memory
    }

    public let tag: String
    let minimumLevel: Level
    let syslogFacility: Int32?
    let sink: Sink
    /// `HA_LOGFILE` and `HA_DEBUGLOG` (when it is another file), opened at the first line.
    let logFile: LogFile?
    let debugFile: LogFile?
    /// What a `.memory` log recorded, one entry per line.
    public private(set) var lines: [String] = []
    /// Where every line also goes, debug included, when the action is traced.
    public internal(set) var trace: Trace?

    /// - Parameters:
    ///   - agent: the agent name, e.g. `vip`.
    ///   - environment: supplies the instance, `HA_debug` and `HA_LOGFACILITY`.
    public init(agent: String, environment: Environment, sink: Sink = .standardError) {
        tag = "\(agent)(\(Log.clean(environment.instance)))"
        minimumLevel = environment.debug ? .debug : .info
        syslogFacility = Log.facility(named: environment["HA_LOGFACILITY"])
        self.sink = sink
        let logPath = environment["HA_LOGFILE"] ?? ""
        let debugPath = environment["HA_DEBUGLOG"] ?? ""
        logFile = logPath.isEmpty ? nil : LogFile(path: logPath)
        debugFile = debugPath.isEmpty || debugPath == logPath ? nil : LogFile(path: debugPath)
        if syslogFacility != nil { openlog(nil, LOG_PID, 0) }
    }

    public func debug(_ message: @autoclosure () -> String) { write(.debug, message) }
    public func info(_ message: @autoclosure () -> String) { write(.info, message) }
    public func warning(_ message: @autoclosure () -> String) { write(.warning, message) }
    public func error(_ message: @autoclosure () -> String) { write(.error, message) }

    private func write(_ level: Level, _ message: () -> String) {
        guard level >= minimumLevel || trace != nil else { return }
        let text = Log.clean(message())
        trace?.write("\(level.prefix): \(text)")
        guard level >= minimumLevel else { return }
        emit("\(level.prefix): \(tag): \(text)")
        if logFile != nil || debugFile != nil {
            let line = "\(LogFile.now()) \(tag)[\(getpid())]: \(level.prefix): \(text)\n"
            if level > .debug { logFile?.append(line) }
            debugFile?.append(line)
        }
        if let facility = syslogFacility {
            "\(tag): \(text)".withCString { line in
                withVaList([line]) { vsyslog(facility | level.syslogPriority, "%s", $0) }
            }
        }
    }

    /// Writes text as it is (usage), where log lines go.
    func raw(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
            emit(String(line))
        }
    }

    /// Writes the `ocf-exit-reason:` line Pacemaker shows in crm_mon (one line, ≤ 128 bytes
    /// of reason as Pacemaker keeps them).
    func exitReason(_ reason: String) {
        var text = Log.clean(reason)
        if text.utf8.count > 128 { text = String(decoding: text.utf8.prefix(125), as: UTF8.self) + "..." }
        trace?.write("exit reason: " + text)
        emit("ocf-exit-reason:" + text)
    }

    private func emit(_ line: String) {
        switch sink {
        case .standardError: Log.writeStandardError(line + "\n")
        case .logsOnly: break
        case .memory: lines.append(line)
        }
    }

    /// Writes all of `text`; an error (a closed pipe: nobody reads any more) drops it.
    public static func writeStandardError(_ text: String) { try? FileDescriptor.standardError.writeAll(text) }

    public static func writeStandardOutput(_ text: String) { try? FileDescriptor.standardOutput.writeAll(text) }

    /// One line, printable: control characters become `?`.
    static func clean(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }

    /// `HA_LOGFACILITY` names as syslog facilities; `none`, empty or unknown disables syslog.
    static func facility(named name: String?) -> Int32? {
        switch name {
        case "daemon": LOG_DAEMON
        case "user": LOG_USER
        case "local0": LOG_LOCAL0
        case "local1": LOG_LOCAL1
        case "local2": LOG_LOCAL2
        case "local3": LOG_LOCAL3
        case "local4": LOG_LOCAL4
        case "local5": LOG_LOCAL5
        case "local6": LOG_LOCAL6
        case "local7": LOG_LOCAL7
        case "authpriv": LOG_AUTHPRIV
        default: nil
        }
    }
}

/// A log file lines are appended to, each with one write(2) (O_APPEND keeps the lines of
/// agents writing at once whole). Opened at the first line: most monitors log nothing.
final class LogFile: @unchecked Sendable {
    let path: String
    private var descriptor: Int32 = -1
    private var failed = false

    init(path: String) { self.path = path }

    deinit { if descriptor >= 0 { close(descriptor) } }

    func append(_ line: String) {
        if descriptor < 0 && !failed {
            descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            // An unwritable log file is no reason to fail an action: stderr still has the line.
            failed = descriptor < 0
        }
        if descriptor >= 0 { try? FileDescriptor(descriptor).writeAll(line) }
    }

    /// The local time as syslog and Pacemaker's detail log write it: `Nov 30 11:42:07`.
    static func now() -> String { localTime(format: "%b %d %H:%M:%S") }
}

/// The local time now, as strftime(3) formats it.
func localTime(format: String) -> String {
    var seconds = time(nil)
    var parts = tm()
    localtime_r(&seconds, &parts)
    var buffer = [CChar](repeating: 0, count: 64)
    let count = strftime(&buffer, buffer.count, format, &parts)
    return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
