import OCF

/// What a fence agent was asked: the action, the target and the other options, read from
/// stdin (`key=value` lines, what pacemaker-fenced sends with no arguments) or from the
/// command line (`-o ACTION -n PLUG --uri=…`, for people).
public struct FenceRequest: Sendable, Equatable {
    /// The action as given (`reboot` when none is): checked by the caller, so an unknown one
    /// is reported with the others' problems.
    public var action: String = "reboot"
    /// `plug`, else `port`, else `nodename`: the domain to act on.
    public var target: String?
    /// Every other option, by name (`-` in names read as `_`); the last value wins.
    public var options: [String: String] = [:]
    /// Lines that were not `key=value` (stdin) and unknown command-line options: reported,
    /// never fatal on stdin (fence-agents warns and goes on), fatal on the command line.
    public var unreadable: [String] = []
    public var wantsHelp = false
    public var wantsVersion = false

    public init() {}

    /// The keys a fencer sends besides the agent's parameters: the target's names.
    static let targetKeys = ["plug", "port", "nodename"]
    /// Keys the fencer may send that an agent need not declare.
    static let fencerKeys: Set = ["nodeid"]

    /// Reads pacemaker-fenced's stdin: one `key=value` per line, in any order. Blank lines and
    /// `#` comments are skipped, surrounding quotes removed.
    public static func standardInput(_ text: String) -> FenceRequest {
        var request = FenceRequest()
        var targets: [String: String] = [:]
        for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.trimmingSpaces
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            guard let equals = line.firstIndex(of: "=") else {
                request.unreadable.append(String(line))
                continue
            }
            let key = normalised(String(line[..<equals]).trimmingSpaces)
            var value = String(line[line.index(after: equals)...]).trimmingSpaces
            if value.count >= 2, value.first == "\"", value.last == "\"" { value = String(value.dropFirst().dropLast()) }
            if key == "action" {
                request.action = value
            } else if targetKeys.contains(key) {
                targets[key] = value
            } else if !fencerKeys.contains(key) {
                request.options[key] = value
            }
        }
        request.target = targetKeys.lazy.compactMap { targets[$0] }.first { !$0.isEmpty }
        return request
    }

    /// Reads the command line. `booleans` are the options that take no value (`--missing-as-off`),
    /// `values` the agent's other options. Unknown options are recorded in `unreadable`.
    public static func commandLine(_ arguments: [String], booleans: Set<String>, values: Set<String>) -> FenceRequest {
        var request = FenceRequest()
        var targets: [String: String] = [:]
        var remaining = arguments[...]
        func value(for option: String, inline: String?) -> String? {
            if let inline { return inline }
            guard let next = remaining.popFirst() else {
                request.unreadable.append("\(option) needs a value")
                return nil
            }
            return next
        }
        while let argument = remaining.popFirst() {
            if argument == "-h" || argument == "--help" {
                request.wantsHelp = true
            } else if argument == "-V" || argument == "--version" {
                request.wantsVersion = true
            } else if argument.hasPrefix("--") {
                let body = argument.dropFirst(2)
                let name = normalised(String(body.prefix { $0 != "=" }))
                let inline = body.firstIndex(of: "=").map { String(body[body.index(after: $0)...]) }
                if !booleans.contains(name) && !values.contains(name) && name != "action" && !targetKeys.contains(name) {
                    request.unreadable.append(argument)
                } else if booleans.contains(name) {
                    request.options[name] = inline ?? "1"
                } else if let text = value(for: argument, inline: inline) {
                    switch name {
                    case "action": request.action = text
                    case _ where targetKeys.contains(name): targets[name] = text
                    default: request.options[name] = text
                    }
                }
            } else if argument.hasPrefix("-o") || argument.hasPrefix("-n") {
                let inline = argument.count > 2 ? String(argument.dropFirst(2)) : nil
                guard let text = value(for: String(argument.prefix(2)), inline: inline) else { continue }
                if argument.hasPrefix("-o") { request.action = text } else { targets["plug"] = text }
            } else {
                request.unreadable.append(argument)
            }
        }
        request.target = targetKeys.lazy.compactMap { targets[$0] }.first { !$0.isEmpty }
        return request
    }

    /// The options as the environment OCF parameter sets load from (`OCF_RESKEY_<name>`), with
    /// the process's `HA_*` settings and the target as the log's instance name.
    public func environment(inheriting process: Environment) -> Environment {
        var variables = process.variables.filter { $0.key.hasPrefix("HA_") || $0.key.hasPrefix("TANDEM_") }
        for (name, value) in options { variables[Environment.parameterPrefix + name] = value }
        if let target { variables["OCF_RESOURCE_INSTANCE"] = target }
        return Environment(variables)
    }

    static func normalised(_ key: String) -> String {
        String(key.map { $0 == "-" ? "_" : $0 })
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
