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
}
