import OCF
import OCFTesting
import Testing

@Suite struct MetadataTests {
    /// The fixture's meta-data passes the three schemas: ocf-tester's DTD, resource-agents'
    /// RelaxNG and the OCF 1.1 RelaxNG.
    @Test func fixtureMetadataPassesAllSchemas() throws {
        let xml = Metadata.render(FixtureAgent.self)
        for problem in try SchemaCheck.problems(in: xml) { Issue.record("\(problem)") }
    }

    @Test func actionsCarryIntervalsAndDepths() throws {
        let xml = Metadata.render(FixtureAgent.self)
        #expect(xml.contains(#"<action name="monitor" timeout="30s" interval="60s" depth="10"/>"#))
        #expect(xml.contains("<version>1.1</version>"))
        #expect(xml.contains(#"<!DOCTYPE resource-agent"#))
        #expect(xml.contains(#"<content type="string" default="green"/>"#))
        #expect(xml.contains("Allowed values: red, green, blue."))
    }

    /// OCF 1.1: reloadable parameters and reload-agent, declared for ocf-tester's DTD in the
    /// DOCTYPE's internal subset.
    @Test func reloadableParametersAndReloadAgent() {
        let xml = Metadata.render(FixtureAgent.self)
        #expect(xml.contains(#"<parameter name="count" unique="0" required="0" reloadable="1">"#))
        #expect(xml.contains(#"<parameter name="name" unique="1" required="1">"#), "reloadable only where declared")
        #expect(xml.contains(#"<action name="reload-agent" timeout="20s"/>"#))
        #expect(xml.contains(#"<!ATTLIST parameter reloadable (0|1) "0">"#))
    }
}
