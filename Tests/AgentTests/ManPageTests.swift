import Glibc
import HealthCheck
import OCF
import OCFTesting
import Testing
@testable import fence_libvirt
@testable import ipvs
@testable import ipvs_sync
@testable import mysql_mm
@testable import vip

/// The man pages the build writes (`<agent> manpage`, `fence_libvirt -o manpage`, `tandem
/// manpage`): each renders with man(1) without a warning, and shows every declared parameter
/// with its default.
@Suite struct ManPageTests {
    static let agents: [(String, [ParameterDeclaration])] = [
        ("vip", VIPParameters.declarations), ("ipvs", IPVSParameters.declarations),
        ("ipvs-sync", SyncParameters.declarations), ("healthcheck", HealthCheckParameters.declarations),
        ("mysql-mm", MasterMasterParameters.declarations),
    ]

    /// The page as man(1) renders it for a wide terminal (no line breaks inside an entry's
    /// heading), and what groff warned about.
    static func render(_ page: String, name: String) throws -> (text: String, warnings: String) {
        let path = "/tmp/tandem-manpage-\(getpid())-\(name)"
        try writeFile(path, page)
        defer { unlink(path) }
        let result = try Command("/usr/bin/man", ["--warnings", "-l", path],
                                 environment: ["MANWIDTH": "250", "LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin", "MAN_KEEP_FORMATTING": ""])
            .run(deadline: .now + .seconds(30))
        #expect(result.status == 0, "\(result.errorOutput)")
        return (result.output, result.errorOutput)
    }

    @Test(arguments: agents.map(\.0))
    func agentPage(_ agent: String) throws {
        let result = try Command(AgentRunner.path(of: agent), ["manpage"], environment: [:]).run(deadline: .now + .seconds(10))
        #expect(result.status == 0)
        #expect(result.output.hasPrefix(".TH \"OCF_TANDEM_\(agent.uppercased().replacing("-", with: "\\-"))\" 7 "))
        let (text, warnings) = try ManPageTests.render(result.output, name: agent)
        #expect(warnings == "", "\(agent): \(warnings)")
        #expect(text.contains("ocf_tandem_\(agent) - "), "\(text)")
        let declarations = try #require(ManPageTests.agents.first { $0.0 == agent }?.1)
        let lines = text.split(separator: "\n")
        let parameters = lines.drop { $0 != "PARAMETERS" }.prefix { $0 != "ACTIONS" }
        for parameter in declarations {
            // Entry headings are indented 7 columns, their text 14.
            let heading = parameters.first { $0.hasPrefix("       " + parameter.name + " (") }
            #expect(heading != nil, "\(agent): no entry for \(parameter.name)")
            if let value = parameter.defaultValue {
                #expect(heading?.contains("default: \(value)") == true, "\(agent): \(parameter.name)'s default \(value): \(heading ?? "")")
            }
            if parameter.isRequired { #expect(heading?.contains("required") == true, "\(agent): \(parameter.name)") }
        }
    }

    @Test func fenceAgentPage() throws {
        let result = try Command(AgentRunner.path(of: "fence_libvirt"), ["-o", "manpage"], environment: [:]).run(deadline: .now + .seconds(10))
        #expect(result.status == 0)
        let (text, warnings) = try ManPageTests.render(result.output, name: "fence_libvirt")
        #expect(warnings == "", "\(warnings)")
        let lines = text.split(separator: "\n").map { String($0.drop(while: { $0 == " " })) }
        for parameter in FenceParameters.declarations {
            let option = "--" + parameter.name.replacing("_", with: "-")
            let entry = lines.firstIndex { $0.hasPrefix(option) }
            #expect(entry != nil, "no entry for \(option)")
            if let entry, let value = parameter.defaultValue {
                // The description follows the option's line and may wrap.
                let body = lines[(entry + 1)...].prefix { !$0.hasPrefix("--") && !$0.isEmpty }.joined(separator: " ")
                #expect(body.contains("(Default: \(value))"), "\(option): \(body)")
            }
        }
    }

    @Test func tandemPage() throws {
        let result = try Command(AgentRunner.path(of: "tandem"), ["manpage"], environment: [:]).run(deadline: .now + .seconds(10))
        let (text, warnings) = try ManPageTests.render(result.output, name: "tandem")
        #expect(warnings == "", "\(warnings)")
        #expect(text.contains("tandem status [--json] [--state-dir DIR]"), "\(text)")
    }

    /// roff requests in a description cannot take effect: a line that starts with a dot or a
    /// quote is protected, backslashes are printed.
    @Test func descriptionsCannotInjectRoff() {
        var page = ManPage(name: "x", section: 7, manual: "m")
        page.paragraph(".so /etc/shadow\n'bp\nC:\\path -o")
        #expect(page.text.contains("\\&.so /etc/shadow\n\\&'bp\nC:\\epath \\-o\n"))
    }
}
