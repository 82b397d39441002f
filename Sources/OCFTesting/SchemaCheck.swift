import Glibc
import OCF

/// Validates meta-data the ways it must pass: ocf-tester's OCF 1.0 DTD, resource-agents'
/// `metadata.rng` and the OCF 1.1 RelaxNG schema (each with `xmllint`), and crmsh's parse
/// (lxml `etree.fromstring` of a Python string, which refuses an encoding declaration).
///
/// resource-agents' `metadata.rng` has never had OCF 1.1's `reloadable` attribute (unchanged
/// since 2022, the same upstream today), and a RelaxNG validator stops looking inside an element
/// at its first invalid attribute. So that schema checks the document without the
/// `reloadable="1"` attributes — everything else must pass it — and the OCF 1.1 schema checks
/// the attributes themselves.
public enum SchemaCheck {
    public static let dtdDirectory = "/usr/share/resource-agents"
    public static let resourceAgentsSchema = "/usr/share/resource-agents/metadata.rng"

    /// The OCF 1.1 schema, kept in the repository (Tests/Schemas).
    public static var ocf11Schema: String { repositoryRoot + "/Tests/Schemas/ra-api-1.1.rng" }

    /// One line per failed check; empty when all pass.
    public static func problems(in xml: String) throws -> [String] {
        var problems: [String] = []
        let checks: [(String, [String], String)] = [
            ("ra-api-1.dtd (as ocf-tester validates)", ["--noout", "--valid", "-"], xml),
            ("metadata.rng (all but the reloadable attributes it predates)",
             ["--noout", "--relaxng", resourceAgentsSchema, "-"], withoutReloadable(xml)),
            ("OCF 1.1 ra-api.rng", ["--noout", "--relaxng", ocf11Schema, "-"], xml),
        ]
        for (name, arguments, document) in checks {
            // The DTD is found relative to the working directory, as ocf-tester runs it.
            let result = try Command("/usr/bin/env", ["--chdir=\(dtdDirectory)", "xmllint"] + arguments, input: Array(document.utf8))
                .run(deadline: .now + .seconds(30))
            if result.status != 0 { problems.append("\(name): \(result.errorOutput)") }
        }
        let crmsh = try Command("/usr/bin/python3", ["-c", "import sys; from lxml import etree; etree.fromstring(sys.stdin.read())"],
                                input: Array(xml.utf8)).run(deadline: .now + .seconds(30))
        if crmsh.status != 0 { problems.append("crmsh (lxml from a string): \(crmsh.errorOutput)") }
        return problems
    }

    /// The document with every ` reloadable="1"` attribute taken out.
    static func withoutReloadable(_ xml: String) -> String {
        let attribute = Array(#" reloadable="1""#.utf8)
        var bytes = Array(xml.utf8)[...]
        var result: [UInt8] = []
        while !bytes.isEmpty {
            if bytes.starts(with: attribute) {
                bytes = bytes.dropFirst(attribute.count)
            } else {
                result.append(bytes.removeFirst())
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}
