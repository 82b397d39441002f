import OCF

/// The descriptions of a fence agent, from its parameter declarations: fence-agents metadata
/// (valid for fence-agents' `metadata.rng`), a man page and `--help`.
public enum FenceMetadata {
    /// One option as the three renderings show it.
    struct Option {
        let name: String
        let getopt: String
        let type: String
        let defaultValue: String?
        let description: String
        var extra: [(String, String)] = []
    }

    /// The options every fence agent with targets has, then the agent's own.
    static func options<Agent: FenceAgent>(_ agent: Agent.Type) -> [Option] {
        var options = [
            Option(name: "action", getopt: "-o, --action=[action]", type: "string", defaultValue: "reboot",
                   description: "Fencing action: \(FenceMain.actionNames(agent))."),
            Option(name: "plug", getopt: "-n, --plug=[id]", type: "string", defaultValue: nil,
                   description: "The target: a domain's name or UUID. pacemaker-fenced sends it from pcmk_host_map, else the node name.",
                   extra: [("obsoletes", "port")]),
            Option(name: "port", getopt: "--port=[id]", type: "string", defaultValue: nil,
                   description: "Old name of plug.", extra: [("deprecated", "1")]),
        ]
        for declaration in Agent.Parameters.declarations {
            let flag = "--" + String(declaration.name.map { $0 == "_" ? "-" : $0 })
            let getopt = declaration.contentType == .boolean ? flag : "\(flag)=[\(placeholder(declaration))]"
            var description = declaration.longDescription
            if let values = declaration.valueDescription { description += " " + values }
            options.append(Option(name: declaration.name, getopt: getopt, type: declaration.contentType.rawValue,
                                  defaultValue: declaration.defaultValue, description: description))
        }
        return options
    }

    static func placeholder(_ declaration: ParameterDeclaration) -> String {
        if declaration.contentType == .integer { return declaration.name.hasSuffix("timeout") || declaration.name.hasSuffix("wait") || declaration.name == "delay" ? "seconds" : "number" }
        return declaration.name
    }

    /// `<resource-agent>` as fence-agents writes it; `stonith_admin --metadata` shows it.
    public static func xml<Agent: FenceAgent>(_ agent: Agent.Type) -> String {
        var xml = XMLWriter()
        xml.element("resource-agent", [("name", Agent.name), ("shortdesc", Agent.shortDescription)]) { xml in
            xml.element("longdesc", text: Agent.longDescription)
            xml.element("vendor-url", text: Agent.vendorURL)
            xml.element("parameters") { xml in
                for option in options(agent) {
                    var attributes = [("name", option.name), ("unique", "0"), ("required", "0")]
                    attributes += option.extra
                    xml.element("parameter", attributes) { xml in
                        xml.element("getopt", [("mixed", option.getopt)])
                        if let value = option.defaultValue {
                            xml.element("content", [("type", option.type), ("default", value)])
                        } else {
                            xml.element("content", [("type", option.type)])
                        }
                        xml.element("shortdesc", [("lang", "en")], text: option.description)
                    }
                }
            }
            xml.element("actions") { xml in
                for action in Agent.actions + [.metadata, .manpage, .validateAll] {
                    // `on` is not needed before a node joins (no unfencing).
                    xml.element("action", action == .on ? [("name", "on"), ("automatic", "0")] : [("name", action.rawValue)])
                }
            }
        }
        return xml.document
    }

    /// `--help`.
    public static func help<Agent: FenceAgent>(_ agent: Agent.Type) -> String {
        var text = "Usage: \(Agent.name) [options]\n       \(Agent.name) < key=value lines (what pacemaker-fenced sends)\n\n"
        text += Agent.shortDescription + ".\n\nOptions:\n"
        for option in options(agent) {
            text += "  " + option.getopt.padding(to: 34) + " " + option.description
            if let value = option.defaultValue { text += " (default: \(value))" }
            text += "\n"
        }
        text += "  " + "-h, --help".padding(to: 34) + " This text.\n"
        text += "  " + "-V, --version".padding(to: 34) + " The version.\n"
        text += "\nExit status: 0 success, 1 failure; status: 0 on, 2 off, 1 unknown.\n"
        return text
    }

    /// `-o manpage`: a man page (section 8) in roff.
    public static func manPage<Agent: FenceAgent>(_ agent: Agent.Type) -> String {
        var page = ManPage(name: Agent.name, section: 8, manual: "Cluster fencing")
        page.section("NAME")
        page.paragraph("\(Agent.name) - \(Agent.shortDescription)")
        page.section("SYNOPSIS")
        page.example(["\(Agent.name) [OPTION]...", "\(Agent.name) < name=value lines"])
        page.section("DESCRIPTION")
        page.paragraph(Agent.longDescription)
        page.paragraph("Run by pacemaker-fenced without arguments, it reads name=value lines on standard input; "
                       + "the names are the long options without the leading dashes.")
        page.section("OPTIONS")
        for option in options(agent) {
            var body = option.description
            if let value = option.defaultValue { body += " (Default: \(value))" }
            page.item(option.getopt, body)
        }
        page.item("-h, --help", "Show the options.")
        page.item("-V, --version", "Show the version.")
        page.section("ACTIONS")
        for action in Agent.actions + [.metadata, .manpage, .validateAll] {
            page.item(action.rawValue, actionDescription(action))
        }
        page.section("EXIT STATUS")
        page.paragraph("0 on success, 1 on failure; for status 0 when the target is on, 2 when it is off, 1 when unknown.")
        page.section("SEE ALSO")
        page.paragraph("stonith_admin(8), pacemaker-fenced(7), tandem(8)")
        return page.text
    }

    static func actionDescription(_ action: FenceAction) -> String {
        switch action {
        case .on: "Power the target on and verify that it runs."
        case .off: "Power the target off and verify that it is off."
        case .reboot: "Power the target off, verify it, and power it on again."
        case .status: "The target's power state."
        case .list: "The targets this device can fence."
        case .listStatus: "The targets and their power state."
        case .monitor: "Check that the device answers."
        case .metadata: "The agent's metadata (XML)."
        case .manpage: "This man page."
        case .validateAll: "Check the options without connecting."
        }
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
