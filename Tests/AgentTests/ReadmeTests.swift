import OCF
import OCFTesting
import Testing
@testable import ipvs
@testable import ipvs_sync
@testable import vip
@testable import mysql_mm
@testable import fence_libvirt
import HealthCheck

/// The README's parameter tables say what the agents declare: same names, same defaults.
@Suite struct ReadmeTests {
    static let readme = readFile(repositoryRoot + "/README.md") ?? ""

    /// The `| \`name\` | default | … |` rows of one agent's section.
    static func rows(of section: String) -> [(name: String, defaultCell: String)] {
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0 == "## " + section }) else { return [] }
        return lines[(start + 1)...].prefix { !$0.hasPrefix("## ") }.compactMap { line in
            // Cells split on "|", but not on an escaped "\|" inside a cell.
            let cells = line.replacingEscapedPipes.split(separator: "|").map { $0.trimmingSpaces }
            guard line.hasPrefix("| `"), cells.count >= 2 else { return nil }
            return (String(cells[0].filter { $0 != "`" }), String(cells[1]))
        }
    }

    static let agents: [(section: String, declarations: [ParameterDeclaration])] = [
        ("ocf:tandem:vip", VIPParameters.declarations),
        ("ocf:tandem:ipvs", IPVSParameters.declarations),
        ("ocf:tandem:ipvs-sync", SyncParameters.declarations),
        ("ocf:tandem:healthcheck", HealthCheckParameters.declarations),
        ("ocf:tandem:mysql-mm", MasterMasterParameters.declarations),
        ("fence_libvirt", FenceParameters.declarations),
    ]

    @Test(arguments: 0..<agents.count)
    func parameterTableMatchesDeclarations(_ index: Int) {
        let (section, declarations) = Self.agents[index]
        let rows = Self.rows(of: section)
        #expect(rows.map(\.name) == declarations.map(\.name), "README rows in declaration order")
        for declaration in declarations {
            guard let row = rows.first(where: { $0.name == declaration.name }) else { continue }
            if declaration.isRequired {
                #expect(row.defaultCell.hasPrefix("(required"), "\(declaration.name)")
            } else if let value = declaration.defaultValue {
                #expect(row.defaultCell == "`\(value)`", "\(declaration.name): README says \(row.defaultCell), the agent \(value)")
            }
        }
    }
}

extension ReadmeTests {
    /// The parameters a section's "Reloadable …:" sentence names (none for "Reloadable: none").
    static func reloadable(in section: String) -> [String]? {
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0 == "## " + section }) else { return nil }
        let body = lines[(start + 1)...].prefix { !$0.hasPrefix("## ") }
        guard let first = body.firstIndex(where: { $0.hasPrefix("Reloadable") }) else { return nil }
        let sentence = body[first...].prefix { !$0.isEmpty }.joined(separator: " ")
        return sentence.split(separator: "`", omittingEmptySubsequences: false).enumerated()
            .filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    @Test(arguments: 0..<agents.count)
    func reloadableSentenceMatchesDeclarations(_ index: Int) {
        let (section, declarations) = Self.agents[index]
        let named = Self.reloadable(in: section)
        #expect((named ?? []) == declarations.filter(\.isReloadable).map(\.name), "\(section): README says \(named ?? [])")
    }
}

extension Substring {
    var replacingEscapedPipes: String {
        var result = ""
        var escaped = false
        for character in self {
            if escaped {
                result.append(character == "|" ? "¦" : character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                result.append(character)
            }
        }
        return result
    }

    var trimmingSpaces: Substring {
        drop { $0 == " " }.reversed().drop { $0 == " " }.reversed().map { $0 }.reduce(into: Substring()) { $0.append($1) }
    }
}
