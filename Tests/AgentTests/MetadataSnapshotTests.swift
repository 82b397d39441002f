import Glibc
import OCF
import OCFTesting
import Testing

/// Every agent's meta-data is checked in (Tests/AgentTests/Snapshots/<agent>.xml): a change
/// shows up in review. `make record-metadata` (RECORD_SNAPSHOTS=1) writes them anew.
@Suite struct MetadataSnapshotTests {
    static let agents = ["vip", "ipvs", "ipvs-sync"]

    @Test(arguments: agents)
    func matchesGoldenCopy(_ agent: String) throws {
        let result = try Command(AgentRunner.path(of: agent), ["meta-data"], environment: [:]).run(deadline: .now + .seconds(10))
        #expect(result.status == 0, "\(result.errorOutput)")
        let golden = Snapshot(name: agent + ".xml")
        if Snapshot.recording {
            try golden.write(result.output)
            return
        }
        let expected = try #require(golden.read(), "no golden copy \(golden.path): run make record-metadata")
        #expect(result.output == expected, "meta-data of \(agent) differs from \(golden.path); if intended, run make record-metadata")
    }

    @Test(arguments: agents)
    func passesAllThreeSchemas(_ agent: String) throws {
        let result = try Command(AgentRunner.path(of: agent), ["meta-data"], environment: [:]).run(deadline: .now + .seconds(10))
        for problem in try SchemaCheck.problems(in: result.output) { Issue.record("\(agent): \(problem)") }
    }

    /// Pacemaker runs meta-data with whatever environment; OCF_OUTPUT_FORMAT must not change it.
    @Test(arguments: agents)
    func ignoresOutputFormat(_ agent: String) throws {
        let plain = try Command(AgentRunner.path(of: agent), ["meta-data"], environment: [:]).run(deadline: .now + .seconds(10))
        let text = try Command(AgentRunner.path(of: agent), ["meta-data"], environment: ["OCF_OUTPUT_FORMAT": "text"])
            .run(deadline: .now + .seconds(10))
        #expect(plain.output == text.output)
    }
}

/// A golden file next to this source.
struct Snapshot {
    let path: String
    static var recording: Bool { getenv("RECORD_SNAPSHOTS").map { String(cString: $0) == "1" } ?? false }

    init(name: String) {
        let directory = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        path = directory + "/Snapshots/" + name
    }

    func read() -> String? { readFile(path) }
    func write(_ text: String) throws { try writeFile(path, text) }
}
