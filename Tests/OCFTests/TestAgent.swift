import OCF

/// A small agent for exercising the library in-process: it "runs" while a marker is set in
/// a shared box, so tests can watch every action without touching the system.
enum Fixture {
    enum Color: String, OCFEnumeration { case red, green, blue }

    struct Parameters: ParameterSet {
        @Parameter("name", .unique, short: "Name", long: "The <name> & more.")
        var name: String
        @Parameter("count", .reloadable, short: "Count", long: "How many.", valid: 1...10)
        var count: Int = 3
        @Parameter("enabled", short: "Enabled", long: "Whether it is on.")
        var enabled: Bool = true
        @Parameter("color", short: "Color", long: "Which color.")
        var color: Color = .green
        @Parameter("password", .secret, short: "Password", long: "A secret.", valid: { $0 == "bad" ? "is weak" : nil })
        var password: String? = nil

        init() {}

        func validate() throws(ParameterProblems) {
            if name == "clash" && count > 5 { throw ParameterProblems("count", "must be at most 5 for clash") }
        }
    }
}

final class FixtureAgent: ResourceAgent {
    static let name = "fixture"
    static let version = tandemVersion
    static let shortDescription = "Fixture agent"
    static let longDescription = "An agent used by the OCF library's own tests."
    static let actions = [
        ActionAdvertisement(.start, timeout: 20),
        ActionAdvertisement(.stop, timeout: 20),
        ActionAdvertisement(.monitor, timeout: 20, interval: 10),
        ActionAdvertisement(.monitor, timeout: 30, interval: 60, depth: 10),
        ActionAdvertisement(.reloadAgent, timeout: 20),
        ActionAdvertisement(.validateAll, timeout: 20),
        ActionAdvertisement(.metaData, timeout: 5),
    ]

    /// What actions saw, for assertions. Tests using it are serialized.
    nonisolated(unsafe) static var running: Set<String> = []
    nonisolated(unsafe) static var lastContext: AgentContext?
    nonisolated(unsafe) static var stopsWithoutConfiguration = 0

    let parameters: Fixture.Parameters
    let context: AgentContext

    init(parameters: Fixture.Parameters, context: AgentContext, host: Void) throws {
        self.parameters = parameters
        self.context = context
        FixtureAgent.lastContext = context
    }

    func validate() throws {
        if parameters.name == "elsewhere" { throw OCFError.invalidArguments("name: not on this node") }
    }

    func start() throws { FixtureAgent.running.insert(parameters.name) }
    func stop() throws { FixtureAgent.running.remove(parameters.name) }

    func monitor() throws -> MonitorResult {
        if parameters.name == "broken" { throw OCFError.generic("broken on purpose") }
        if parameters.name == "tired" { return .degraded("tired") }
        return FixtureAgent.running.contains(parameters.name) ? .running : .notRunning
    }

    func reloadAgent() throws {}

    static func stop(unparsableConfiguration problems: ParameterProblems, context: AgentContext, host: Void) throws {
        stopsWithoutConfiguration += 1
    }
}

/// Runs the fixture agent in-process with a memory log.
func runFixture(_ arguments: [String], _ parameters: [String: String] = [:], extra: [String: String] = [:])
    -> (outcome: AgentMain.Outcome, log: Log)
{
    var variables = ["OCF_RESOURCE_INSTANCE": "fx", "HA_RSCTMP": "/tmp/tandem-ocftests-\(getProcessID())"]
    for (key, value) in parameters { variables["OCF_RESKEY_" + key] = value }
    variables.merge(extra) { $1 }
    let environment = Environment(variables)
    let log = Log(agent: FixtureAgent.name, environment: environment, sink: .memory)
    return (AgentMain.run(FixtureAgent.self, arguments: arguments, environment: environment, log: log, host: ()), log)
}

import Glibc
func getProcessID() -> Int32 { getpid() }
