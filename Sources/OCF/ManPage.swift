/// A man page in roff (the `man` macros), written section by section. Every piece of text goes
/// through `escaped`, so descriptions written for meta-data cannot turn into roff requests.
public struct ManPage {
    public private(set) var text: String

    /// - Parameters:
    ///   - name: the page's name, e.g. `ocf_tandem_vip`.
    ///   - section: 7 for the agents (as resource-agents' `ocf_heartbeat_IPaddr2(7)`), 8 for commands.
    ///   - manual: the manual's title in the page footer.
    public init(name: String, section: Int, manual: String) {
        // No hyphenation, ragged right: parameter names and values stay whole, searchable.
        text = ".TH \(ManPage.quoted(name.uppercased())) \(section) \"\" \"Tandem \(tandemVersion)\" \(ManPage.quoted(manual))\n.nh\n.ad l\n"
    }

    /// `.SH`: a section heading, e.g. `NAME`, `OPTIONS`.
    public mutating func section(_ title: String) {
        text += ".SH \(ManPage.quoted(title))\n"
    }

    /// Running text; blank lines start new paragraphs.
    public mutating func paragraph(_ body: String) {
        var first = true
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.allSatisfy(\.isWhitespace) {
                if !first { text += ".PP\n" }
                continue
            }
            text += ManPage.escaped(String(line)) + "\n"
            first = false
        }
        text += ".PP\n"
    }

    /// `.TP`: a tagged paragraph, the tag in bold (an option, a parameter, an action).
    public mutating func item(_ tag: String, _ body: String) {
        text += ".TP\n.B \(ManPage.escaped(tag))\n"
        for line in body.split(separator: "\n") where !line.allSatisfy(\.isWhitespace) {
            text += ManPage.escaped(String(line)) + "\n"
        }
    }

    /// Text shown as typed (examples, synopses), in a no-fill block.
    public mutating func example(_ lines: [String]) {
        text += ".PP\n.nf\n.RS 4\n"
        for line in lines { text += ManPage.escaped(line) + "\n" }
        text += ".RE\n.fi\n.PP\n"
    }

    /// Text safe in roff: backslashes as `\e`, hyphens as `\-` (real minus signs, so options
    /// can be searched and copied), and a line that starts with `.` or `'` protected by `\&`.
    public static func escaped(_ line: String) -> String {
        var result = ""
        for character in line {
            switch character {
            case "\\": result += "\\e"
            case "-": result += "\\-"
            default: result.append(character)
            }
        }
        if result.hasPrefix(".") || result.hasPrefix("'") { result = "\\&" + result }
        return result
    }

    /// A macro argument in double quotes; a quote inside is `\(dq`. (A loop, not
    /// `replacing(_:with:)`: that would link the regex library into every agent, 1.4 MB.)
    static func quoted(_ text: String) -> String {
        var result = "\""
        for character in escaped(text) { result += character == "\"" ? "\\(dq" : String(character) }
        return result + "\""
    }
}

extension Metadata {
    /// The agent's man page, `ocf_<provider>_<agent>(7)` as resource-agents names its own:
    /// everything meta-data says, for people.
    public static func manPage<Agent: ResourceAgent>(_ agent: Agent.Type, provider: String = "tandem") -> String {
        var page = ManPage(name: "ocf_\(provider)_\(Agent.name)", section: 7, manual: "OCF resource agents")
        page.section("NAME")
        page.paragraph("ocf_\(provider)_\(Agent.name) - \(Agent.shortDescription)")
        page.section("SYNOPSIS")
        let required = Agent.Parameters.declarations.filter(\.isRequired).map { "\($0.name)=..." }
        page.example(["crm configure primitive ID ocf:\(provider):\(Agent.name)"
                        + (required.isEmpty ? "" : " params " + required.joined(separator: " "))
                        + " [op monitor interval=...]",
                      "\(Agent.name) {" + actionNames(agent).joined(separator: "|") + "}"])
        page.section("DESCRIPTION")
        page.paragraph(Agent.longDescription)
        page.section("PARAMETERS")
        page.paragraph("Parameters come from OCF_RESKEY_<name>. Required parameters have no default; "
                       + "reloadable ones change without a restart (reload-agent).")
        for parameter in Agent.Parameters.declarations {
            var traits = [parameter.contentType.rawValue]
            if parameter.isRequired { traits.append("required") }
            if let value = parameter.defaultValue { traits.append("default: \(value)") }
            if parameter.isUnique { traits.append("unique") }
            if parameter.isReloadable { traits.append("reloadable") }
            if parameter.isSecret { traits.append("secret") }
            var body = parameter.shortDescription + ". " + parameter.longDescription
            if let values = parameter.valueDescription { body += "\n" + values }
            page.item("\(parameter.name) (\(traits.joined(separator: ", ")))", body)
        }
        page.section("ACTIONS")
        page.paragraph("Advised timeouts and intervals, as meta-data advertises them.")
        for advertised in Agent.actions {
            var traits = ["timeout \(advertised.timeout)s"]
            if let interval = advertised.interval { traits.append("interval \(interval)s") }
            if let depth = advertised.depth { traits.append("OCF_CHECK_LEVEL \(depth)") }
            if let role = advertised.role { traits.append("role \(role.rawValue)") }
            page.item("\(advertised.action.rawValue) (\(traits.joined(separator: ", ")))", description(of: advertised.action))
        }
        page.section("EXIT STATUS")
        page.paragraph("As OCF 1.1 defines them: 0 success, 1 generic error, 2 invalid argument, 3 unimplemented, "
                       + "4 insufficient privileges, 5 not installed, 6 not configured, 7 not running, "
                       + "8 running promoted, 9 failed promoted. A failing action writes one ocf-exit-reason: line, "
                       + "which crm_mon shows.")
        page.section("ENVIRONMENT")
        page.item("HA_RSCTMP", "The state directory (default /run/resource-agents): one file per resource.")
        page.item("HA_LOGFACILITY", "A syslog facility (daemon, local0...local7, ...) for the agent's lines; none or empty: no syslog.")
        page.item("HA_LOGFILE, HA_DEBUGLOG", "Files the agent's lines are appended to, as Pacemaker's PCMK_logfile sets them.")
        page.item("HA_debug", "1: debug lines too.")
        page.item("OCF_TRACE_RA, OCF_TRACE_FILE", "Trace the action (crmsh's trace_ra): what was read, asked and answered.")
        page.section("SEE ALSO")
        page.paragraph("crm(8), crm_resource(8), tandem(8)")
        return page.text
    }

    static func actionNames<Agent: ResourceAgent>(_ agent: Agent.Type) -> [String] {
        Agent.actions.map(\.action.rawValue).reduce(into: []) { names, name in
            if !names.contains(name) { names.append(name) }
        }
    }

    static func description(of action: Action) -> String {
        switch action {
        case .start: "Start the resource; succeeds when it runs already."
        case .stop: "Stop the resource; succeeds only when nothing is left, also when it was stopped."
        case .monitor: "Check the resource: 0 running, 7 cleanly stopped, 1 failed. A probe changes nothing."
        case .validateAll: "Check every parameter without changing anything."
        case .metaData: "The OCF 1.1 meta-data (XML)."
        case .reloadAgent: "Apply changed reloadable parameters to the running resource."
        case .promote: "Promote the running instance."
        case .demote: "Demote the promoted instance."
        case .notify: "Take note of the clone's other instances' actions."
        case .usage: "The usage."
        case .manPage: "This man page."
        }
    }
}
