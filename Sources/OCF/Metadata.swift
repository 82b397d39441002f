/// Renders an agent's meta-data in the compatibility profile: valid against ocf-tester's
/// OCF 1.0 DTD, resource-agents' `metadata.rng` and the OCF 1.1 schema at once (DOCTYPE,
/// `<version>` 1.1, or 1.0 for agents whose reload applies parameters; one English `longdesc`
/// and `shortdesc`; `string`/`integer`/`boolean` types; actions from the DTD's list).
public enum Metadata {
    public static func render<Agent: ResourceAgent>(_ agent: Agent.Type) -> String {
        render(name: Agent.name, version: Agent.version, ocfVersion: Agent.ocfVersion, shortDescription: Agent.shortDescription,
                   longDescription: Agent.longDescription, parameters: Agent.Parameters.declarations,
                   actions: Agent.actions)
    }

    public static func render(name: String, version: String, ocfVersion: String = "1.1", shortDescription: String,
                              longDescription: String,
                              parameters: [ParameterDeclaration], actions: [ActionAdvertisement]) -> String {
        var xml = XMLWriter()
        xml.doctype("resource-agent", systemID: "ra-api-1.dtd")
        xml.element("resource-agent", [("name", name), ("version", version)]) { xml in
            xml.element("version", text: ocfVersion)
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
        let attributes = [("name", parameter.name), ("unique", parameter.isUnique ? "1" : "0"),
                          ("required", parameter.isRequired ? "1" : "0")]
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
        var attributes = [("name", action.name), ("timeout", "\(action.timeout)s")]
        if let interval = action.interval { attributes.append(("interval", "\(interval)s")) }
        if let depth = action.depth { attributes.append(("depth", "\(depth)")) }
        if let role = action.role { attributes.append(("role", role)) }
        xml.element("action", attributes)
    }
}
