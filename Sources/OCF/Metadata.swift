/// Renders an agent's meta-data: OCF 1.1 (`<version>1.1</version>`, `reloadable` parameters,
/// `reload-agent`), in a form that ocf-tester's OCF 1.0 DTD, resource-agents' `metadata.rng`
/// and the OCF 1.1 schema accept as far as each can: one English `longdesc` and `shortdesc`,
/// `string`/`integer`/`boolean` types, capitalised roles.
///
/// ocf-tester validates against `ra-api-1.dtd`, which predates `reloadable` and `reload-agent`.
/// The DOCTYPE declares both in its internal subset, which a validating parser reads before
/// the external DTD (the first declaration of an attribute binds), so the document is valid;
/// parsers that do not validate (Pacemaker, crmsh's lxml) ignore the subset. resource-agents'
/// `metadata.rng` has no `reloadable` attribute in any version: that is the one thing in Tandem's
/// meta-data it refuses.
public enum Metadata {
    public static func render<Agent: ResourceAgent>(_ agent: Agent.Type) -> String {
        render(name: Agent.name, version: Agent.version, shortDescription: Agent.shortDescription,
               longDescription: Agent.longDescription, parameters: Agent.Parameters.declarations, actions: Agent.actions)
    }

    /// The OCF 1.1 declarations ocf-tester's DTD lacks: the `reloadable` attribute, and the
    /// DTD's list of action names with `reload-agent` added.
    static let ocf11Declarations = [
        #"<!ATTLIST parameter reloadable (0|1) "0">"#,
        "<!ATTLIST action name (start|stop|recover|monitor|restart|migrate_to|migrate_from|promote|demote|notify|status|"
            + "reload|reload-agent|meta-data|usage|methods|validate-all) #REQUIRED>",
    ]

    public static func render(name: String, version: String, shortDescription: String, longDescription: String,
                              parameters: [ParameterDeclaration], actions: [ActionAdvertisement]) -> String {
        var xml = XMLWriter()
        let usesOCF11 = parameters.contains(where: \.isReloadable) || actions.contains { $0.action == .reloadAgent }
        xml.doctype("resource-agent", systemID: "ra-api-1.dtd", internalSubset: usesOCF11 ? ocf11Declarations : [])
        xml.element("resource-agent", [("name", name), ("version", version)]) { xml in
            xml.element("version", text: "1.1")
            xml.element("longdesc", [("lang", "en")], text: longDescription)
            xml.element("shortdesc", [("lang", "en")], text: shortDescription)
            xml.element("parameters") { xml in
                for parameter in parameters { write(parameter, to: &xml) }
            }
            xml.element("actions") { xml in
                for action in actions { write(action, to: &xml) }
            }
        }
        return xml.document
    }

    static func write(_ parameter: ParameterDeclaration, to xml: inout XMLWriter) {
        var attributes = [("name", parameter.name), ("unique", parameter.isUnique ? "1" : "0"),
                          ("required", parameter.isRequired ? "1" : "0")]
        if parameter.isReloadable { attributes.append(("reloadable", "1")) }
        xml.element("parameter", attributes) { xml in
            var long = parameter.longDescription
            if let values = parameter.valueDescription { long += "\n" + values }
            xml.element("longdesc", [("lang", "en")], text: long)
            xml.element("shortdesc", [("lang", "en")], text: parameter.shortDescription)
            if let value = parameter.defaultValue {
                xml.element("content", [("type", parameter.contentType.rawValue), ("default", value)])
            } else {
                xml.element("content", [("type", parameter.contentType.rawValue)])
            }
        }
    }

    static func write(_ action: ActionAdvertisement, to xml: inout XMLWriter) {
        var attributes = [("name", action.action.rawValue), ("timeout", "\(action.timeout)s")]
        if let interval = action.interval { attributes.append(("interval", "\(interval)s")) }
        if let depth = action.depth { attributes.append(("depth", "\(depth)")) }
        if let role = action.role { attributes.append(("role", role.rawValue)) }
        xml.element("action", attributes)
    }
}
