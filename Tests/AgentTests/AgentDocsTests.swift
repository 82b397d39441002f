import Glibc
import OCF
import OCFTesting
import Testing
@testable import ipvs
@testable import ipvs_sync
@testable import vip
@testable import mysql_mm
@testable import fence_libvirt
import HealthCheck

/// The agents' pages (docs/agents/<agent>.md) say what the agents declare: the parameter tables
/// have the same names and defaults, the "Reloadable" sentences the same parameters. And every
/// relative link of the documentation points at a file that exists.
@Suite struct AgentDocsTests {
    /// The page that holds each agent's section, under docs/agents/.
    static let pages: [String: String] = [
        "ocf:tandem:vip": "vip.md",
        "ocf:tandem:ipvs": "ipvs.md",
        "ocf:tandem:ipvs-sync": "ipvs-sync.md",
        "ocf:tandem:healthcheck": "healthcheck.md",
        "ocf:tandem:mysql-mm": "mysql-mm.md",
        "fence_libvirt": "fence_libvirt.md",
    ]

    /// The text of the page that holds an agent's section (empty when there is none).
    static func page(of section: String) -> String {
        guard let name = pages[section] else { return "" }
        return readFile(repositoryRoot + "/docs/agents/" + name) ?? ""
    }

    /// The `| \`name\` | default | … |` rows of one agent's section.
    static func rows(of section: String) -> [(name: String, defaultCell: String)] {
        let lines = page(of: section).split(separator: "\n", omittingEmptySubsequences: false)
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
        #expect(rows.map(\.name) == declarations.map(\.name), "\(section): the page's rows in declaration order")
        for declaration in declarations {
            guard let row = rows.first(where: { $0.name == declaration.name }) else { continue }
            if declaration.isRequired {
                #expect(row.defaultCell.hasPrefix("(required"), "\(declaration.name)")
            } else if let value = declaration.defaultValue {
                #expect(row.defaultCell == "`\(value)`", "\(declaration.name): the page says \(row.defaultCell), the agent \(value)")
            }
        }
    }
}

extension AgentDocsTests {
    /// The parameters a section's "Reloadable …:" sentence names (none for "Reloadable: none").
    static func reloadable(in section: String) -> [String]? {
        let lines = page(of: section).split(separator: "\n", omittingEmptySubsequences: false)
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
        #expect((named ?? []) == declarations.filter(\.isReloadable).map(\.name), "\(section): the page says \(named ?? [])")
    }
}

extension AgentDocsTests {
    /// README.md, crm-examples/README.md and every markdown file under docs/, relative to the
    /// repository.
    static var documents: [String] {
        ["README.md", "crm-examples/README.md"] + markdownFiles(under: "docs")
    }

    /// The markdown files under a directory of the repository, at any depth.
    static func markdownFiles(under directory: String) -> [String] {
        listDirectory(repositoryRoot + "/" + directory).flatMap { name -> [String] in
            let path = directory + "/" + name
            if name.hasSuffix(".md") { return [path] }
            // A file that is no directory lists as empty.
            return markdownFiles(under: path)
        }
    }

    /// The targets of the relative links `](path)` and `](path#anchor)` of a markdown text, without
    /// the anchor; web addresses and links within the page are left out, and so are fenced code
    /// blocks.
    static func relativeLinks(in text: String) -> [String] {
        var links: [String] = []
        var fenced = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                fenced.toggle()
                continue
            }
            if fenced { continue }
            let characters = Array(line)
            var index = 0
            while index + 1 < characters.count {
                guard characters[index] == "]", characters[index + 1] == "(" else {
                    index += 1
                    continue
                }
                var end = index + 2
                while end < characters.count, characters[end] != ")", characters[end] != " " { end += 1 }
                let target = String(characters[(index + 2)..<end])
                index = end
                if target.hasPrefix("#") || target.hasPrefix("http://") || target.hasPrefix("https://") { continue }
                let path = String(target.prefix { $0 != "#" })
                if !path.isEmpty { links.append(path) }
            }
        }
        return links
    }

    @Test func relativeLinksPointAtFiles() {
        let documents = Self.documents
        #expect(documents.contains("docs/agents/vip.md"), "the documents found: \(documents)")
        for document in documents {
            guard let text = readFile(repositoryRoot + "/" + document) else {
                Issue.record("\(document) cannot be read")
                continue
            }
            let directory = document.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            for link in Self.relativeLinks(in: text) {
                let path = link.hasPrefix("/") ? repositoryRoot + link
                    : repositoryRoot + "/" + (directory.isEmpty ? "" : directory + "/") + link
                #expect(access(path, F_OK) == 0, "\(document): the link \(link) points at nothing")
            }
        }
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
