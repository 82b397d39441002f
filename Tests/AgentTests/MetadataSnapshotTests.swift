import Glibc
import OCF
import OCFTesting
import Testing
@testable import ipvs
@testable import ipvs_sync
@testable import vip
@testable import healthcheck
@testable import mysql_mm
import HealthCheck

/// Every agent's meta-data is checked in (Tests/AgentTests/Snapshots/<agent>.xml): a change
/// shows up in review. `make record-metadata` (RECORD_SNAPSHOTS=1) writes them anew.
@Suite struct MetadataSnapshotTests {
    static let agents = ["vip", "ipvs", "ipvs-sync", "healthcheck", "mysql-mm"]

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

/// OCF 1.1 reload: Pacemaker runs reload-agent instead of a restart when only `reloadable`
/// parameters changed, so an agent with such parameters must answer reload-agent, and the
/// identity of a resource (its unique parameters) is never reloadable.
@Suite struct DeclarationTests {
    static let agents: [(String, [ParameterDeclaration], [ActionAdvertisement])] = [
        ("vip", VIPParameters.declarations, VirtualIP.actions),
        ("ipvs", IPVSParameters.declarations, IPVSServiceAgent.actions),
        ("ipvs-sync", SyncParameters.declarations, SyncDaemonAgent.actions),
        ("healthcheck", HealthCheckParameters.declarations, HealthCheckAgent.actions),
        ("mysql-mm", MasterMasterParameters.declarations, MasterMasterAgent.actions),
    ]

    @Test func reloadAgentExactlyWhereParametersAreReloadable() {
        for (agent, declarations, actions) in Self.agents {
            let reloadable = declarations.contains(where: \.isReloadable)
            #expect(reloadable == actions.contains { $0.action == .reloadAgent }, "\(agent)")
            for declaration in declarations where declaration.isUnique {
                #expect(!declaration.isReloadable, "\(agent): \(declaration.name) is the resource's identity")
            }
        }
    }

    @Test func parameterNamesAreUniquePerAgent() {
        for (agent, declarations, _) in Self.agents {
            let names = declarations.map(\.name)
            #expect(Set(names).count == names.count, "\(agent): \(names)")
            #expect(Set(names).isDisjoint(with: Trace.parameterNames), "\(agent): the tracing parameters belong to crmsh")
        }
    }
}
