import LibXML

/// Renders an agent's meta-data in the compatibility profile: valid against ocf-tester's
/// OCF 1.0 DTD, resource-agents' `metadata.rng` and the OCF 1.1 schema at once (DOCTYPE,
/// `<version>` 1.1, or 1.0 for agents whose reload applies parameters; one English `longdesc`
/// and `shortdesc`; `string`/`integer`/`boolean` types; actions from the DTD's list).
public enum Metadata {
    public static func render<Agent: ResourceAgent>(_ agent: Agent.Type) throws(XMLWriterError) -> String {
        try render(name: Agent.name, version: Agent.version, ocfVersion: Agent.ocfVersion, shortDescription: Agent.shortDescription,
                   longDescription: Agent.longDescription, parameters: Agent.Parameters.declarations,
                   actions: Agent.actions)
    }

    public static func render(name: String, version: String, ocfVersion: String = "1.1", shortDescription: String,
                              longDescription: String,
                              parameters: [ParameterDeclaration], actions: [ActionAdvertisement])
        throws(XMLWriterError) -> String
    {
        let xml = try XMLWriter()
        try xml.doctype("resource-agent", systemID: "ra-api-1.dtd")
        try xml.element("resource-agent", [("name", name), ("version", version)]) { xml throws(XMLWriterError) in
            try xml.element("version", text: ocfVersion)
            try xml.element("longdesc", [("lang", "en")], text: longDescription)
            try xml.element("shortdesc", [("lang", "en")], text: shortDescription)
            try xml.element("parameters") { xml throws(XMLWriterError) in
                for parameter in parameters { try write(parameter, to: xml) }
            }
            try xml.element("actions") { xml throws(XMLWriterError) in
                for action in actions { try write(action, to: xml) }
            }
        }
        return try xml.finish()
    }

    static func write(_ parameter: ParameterDeclaration, to xml: XMLWriter) throws(XMLWriterError) {
        let attributes = [("name", parameter.name), ("unique", parameter.isUnique ? "1" : "0"),
                          ("required", parameter.isRequired ? "1" : "0")]
        try xml.element("parameter", attributes) { xml throws(XMLWriterError) in
            var long = parameter.longDescription
            if let values = parameter.valueDescription { long += "\n" + values }
            try xml.element("longdesc", [("lang", "en")], text: long)
            try xml.element("shortdesc", [("lang", "en")], text: parameter.shortDescription)
            if let value = parameter.defaultValue {
                try xml.element("content", [("type", parameter.contentType.rawValue), ("default", value)])
            } else {
                try xml.element("content", [("type", parameter.contentType.rawValue)])
            }
        }
    }

    static func write(_ action: ActionAdvertisement, to xml: XMLWriter) throws(XMLWriterError) {
        var attributes = [("name", action.name), ("timeout", "\(action.timeout)s")]
        if let interval = action.interval { attributes.append(("interval", "\(interval)s")) }
        if let depth = action.depth { attributes.append(("depth", "\(depth)")) }
        if let role = action.role { attributes.append(("role", role)) }
        try xml.element("action", attributes)
    }
}
