import Glibc
import OCF

/// Validates meta-data the ways it must pass: ocf-tester's OCF 1.0 DTD, resource-agents'
/// `metadata.rng` and the OCF 1.1 RelaxNG schema (each with `xmllint`), and crmsh's parse
/// (lxml `etree.fromstring` of a Python string, which refuses an encoding declaration).
public enum SchemaCheck {
    public static let dtdDirectory = "/usr/share/resource-agents"
    public static let resourceAgentsSchema = "/usr/share/resource-agents/metadata.rng"

    /// The OCF 1.1 schema, kept in the repository (Tests/Schemas).
    public static var ocf11Schema: String { repositoryRoot + "/Tests/Schemas/ra-api-1.1.rng" }

    /// One line per failed check; empty when all three pass.
    public static func problems(in xml: String) throws -> [String] {
        var problems: [String] = []
        let input = Array(xml.utf8)
        let checks: [(String, [String])] = [
            ("ra-api-1.dtd", ["--noout", "--valid", "-"]),
            ("metadata.rng", ["--noout", "--relaxng", resourceAgentsSchema, "-"]),
            ("OCF 1.1 ra-api.rng", ["--noout", "--relaxng", ocf11Schema, "-"]),
        ]
        for (name, arguments) in checks {
            // The DTD is found relative to the working directory, as ocf-tester runs it.
            let result = try Command("/usr/bin/env", ["--chdir=\(dtdDirectory)", "xmllint"] + arguments, input: input)
                .run(deadline: .now + .seconds(30))
            if result.status != 0 { problems.append("\(name): \(result.errorOutput)") }
        }
        let crmsh = try Command("/usr/bin/python3", ["-c", "import sys; from lxml import etree; etree.fromstring(sys.stdin.read())"],
                                input: input).run(deadline: .now + .seconds(30))
        if crmsh.status != 0 { problems.append("crmsh (lxml from a string): \(crmsh.errorOutput)") }
        return problems
    }
}
