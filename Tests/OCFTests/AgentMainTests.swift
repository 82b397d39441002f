import OCF
import Testing

@Suite(.serialized) struct AgentMainTests {
    @Test func unknownActionIsUnimplemented() {
        let (outcome, log) = runFixture(["frobnicate"], ["name": "a"])
        #expect(outcome.exitCode == .unimplemented)
        #expect(log.lines.last?.hasPrefix("ocf-exit-reason:") == true)
        #expect(runFixture([], ["name": "a"]).outcome.exitCode == .unimplemented)
        #expect(runFixture(["promote"], ["name": "a"]).outcome.exitCode == .unimplemented, "not advertised")
    }

    @Test func usageSucceeds() {
        let (outcome, _) = runFixture(["usage"])
        #expect(outcome.exitCode == .success)
        #expect(outcome.output.contains("usage: fixture {start|stop|monitor|status|validate-all|reload|meta-data|usage}"))
        #expect(runFixture(["help"]).outcome.exitCode == .success)
    }

    @Test func metadataNeedsNoParameters() {
        let (outcome, _) = runFixture(["meta-data"])
        #expect(outcome.exitCode == .success)
        #expect(outcome.output.hasPrefix("<?xml"))
        #expect(outcome.output.contains(#"<parameter name="name" unique="1" required="1">"#))
        #expect(outcome.output.contains("The &lt;name&gt; &amp; more."), "text is escaped")
    }

    @Test func lifecycle() {
        FixtureAgent.running = []
        #expect(runFixture(["monitor"], ["name": "life"]).outcome.exitCode == .notRunning)
        #expect(runFixture(["start"], ["name": "life"]).outcome.exitCode == .success)
        #expect(runFixture(["start"], ["name": "life"]).outcome.exitCode == .success)
        #expect(runFixture(["monitor"], ["name": "life"]).outcome.exitCode == .success)
        #expect(runFixture(["status"], ["name": "life"]).outcome.exitCode == .success, "status is monitor")
        #expect(runFixture(["reload"], ["name": "life"]).outcome.exitCode == .success)
        #expect(runFixture(["stop"], ["name": "life"]).outcome.exitCode == .success)
        #expect(runFixture(["stop"], ["name": "life"]).outcome.exitCode == .success)
        #expect(runFixture(["monitor"], ["name": "life"]).outcome.exitCode == .notRunning)
    }

    @Test func invalidConfigurationIsNotConfigured() {
        let (outcome, log) = runFixture(["start"], ["count": "0"])
        #expect(outcome.exitCode == .notConfigured)
        #expect(log.lines.contains("ERROR: fixture(fx): name: is required"))
        #expect(log.lines.contains("ERROR: fixture(fx): count: must be between 1 and 10"))
        #expect(log.lines.last == "ocf-exit-reason:name: is required (and 1 more problem)")
        #expect(log.lines.filter { $0.hasPrefix("ocf-exit-reason:") }.count == 1)
        #expect(runFixture(["validate-all"], ["name": "x", "count": "zero"]).outcome.exitCode == .notConfigured)
        #expect(runFixture(["monitor"], ["name": "x", "enabled": "perhaps"]).outcome.exitCode == .notConfigured)
    }

    @Test func stopSucceedsWithABrokenConfiguration() {
        FixtureAgent.stopsWithoutConfiguration = 0
        #expect(runFixture(["stop"], ["count": "eleven"]).outcome.exitCode == .success)
        #expect(FixtureAgent.stopsWithoutConfiguration == 1)
    }

    @Test func hostProblemsComeFromValidate() {
        #expect(runFixture(["validate-all"], ["name": "elsewhere"]).outcome.exitCode == .invalidArguments)
        #expect(runFixture(["start"], ["name": "elsewhere"]).outcome.exitCode == .invalidArguments)
    }

    @Test func monitorOutcomes() {
        let (broken, log) = runFixture(["monitor"], ["name": "broken"])
        #expect(broken.exitCode == .genericError)
        #expect(log.lines.last == "ocf-exit-reason:broken on purpose")
        #expect(runFixture(["monitor"], ["name": "tired"]).outcome.exitCode == .degraded)
    }

    @Test func probesAndDeadlines() throws {
        _ = runFixture(["monitor"], ["name": "p"])
        #expect(FixtureAgent.lastContext?.isProbe == true, "no interval: a probe")
        _ = runFixture(["monitor"], ["name": "p"], extra: ["OCF_RESKEY_CRM_meta_interval": "0"])
        #expect(FixtureAgent.lastContext?.isProbe == true)
        _ = runFixture(["monitor"], ["name": "p"], extra: ["OCF_RESKEY_CRM_meta_interval": "10000", "OCF_CHECK_LEVEL": "10",
                                                          "OCF_RESKEY_CRM_meta_timeout": "30000"])
        let context = try #require(FixtureAgent.lastContext)
        #expect(!context.isProbe && context.checkLevel == 10)
        // 30 s less a tenth (3 s): the agent answers before Pacemaker kills it.
        let budget = context.started.duration(to: context.deadline)
        #expect(budget == .seconds(27))
        _ = runFixture(["start"], ["name": "p"], extra: ["OCF_RESKEY_CRM_meta_timeout": "120000"])
        #expect(FixtureAgent.lastContext.map { $0.started.duration(to: $0.deadline) } == .seconds(115), "margin at most 5 s")
    }

    @Test func exitReasonsAreOneLine() {
        let (_, log) = runFixture(["start"], ["name": "a\nb", "count": "x\ny"])
        let reasons = log.lines.filter { $0.hasPrefix("ocf-exit-reason:") }
        #expect(reasons.count == 1)
        #expect(!(reasons.first ?? "").contains("\n"))
        #expect(log.lines.allSatisfy { !$0.contains("\n") })
    }
}
