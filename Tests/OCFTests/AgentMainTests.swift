import OCF
import OCFTesting
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
        #expect(outcome.output.contains("usage: fixture {start|stop|monitor|status|validate-all|reload-agent|meta-data|usage}"))
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
        #expect(runFixture(["reload-agent"], ["name": "life"]).outcome.exitCode == .success)
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

    /// A recurring monitor runs under the instance lock (it may repair); a probe never waits
    /// for it and creates nothing.
    @Test func recurringMonitorsTakeTheInstanceLockProbesDoNot() throws {
        let directory = "/tmp/tandem-ocftests-lock-\(getProcessID())"
        let state = StateDirectory(path: directory)
        try state.create()
        let held = try FileLock(path: state.file(agent: "fixture", instance: "fx", suffix: ".lock").path, deadline: .now + .seconds(1))
        let extra = ["HA_RSCTMP": directory, "OCF_RESKEY_CRM_meta_timeout": "1000"]
        let recurring = runFixture(["monitor"], ["name": "lk"], extra: extra.merging(["OCF_RESKEY_CRM_meta_interval": "10000"]) { $1 })
        #expect(recurring.outcome.exitCode == .genericError, "the lock is held elsewhere")
        let probe = runFixture(["monitor"], ["name": "lk"], extra: extra)
        #expect(probe.outcome.exitCode == .notRunning)
        withExtendedLifetime(held) {}
    }

    @Test func reloadAgentIsDispatchedWhenAdvertised() {
        #expect(runFixture(["reload-agent"], ["name": "r"]).outcome.exitCode == .success)
        #expect(runFixture(["reload"], ["name": "r"]).outcome.exitCode == .unimplemented, "the OCF 1.0 reload is not an action")
    }

    /// `crm resource trace` sets trace_ra=1 (and trace_dir) on the operation: the action's
    /// steps land where crmsh says they are, secrets masked.
    @Test func traceGoesWhereCrmshLooks() throws {
        let directory = "/tmp/tandem-ocftests-trace-\(getProcessID())"
        let (outcome, _) = runFixture(["start"], ["name": "traced", "password": "hunter2", "trace_ra": "1", "trace_dir": directory])
        #expect(outcome.exitCode == .success)
        let files = listDirectory(directory + "/fixture")
        #expect(files.count == 1 && files.first?.hasPrefix("fx.start.") == true, "\(files)")
        let text = try #require(readFile(directory + "/fixture/" + (files.first ?? "")))
        #expect(text.contains("fixture \(tandemVersion) start of fx"))
        #expect(text.contains("read OCF_RESKEY_name=traced"))
        #expect(text.contains("read OCF_RESKEY_password=(secret)") && !text.contains("hunter2"))
        #expect(text.contains("defaults: count=3 enabled=true color=green"))
        #expect(text.hasSuffix("exit 0 (OCF_SUCCESS)\n"), "\(text)")
    }

    /// ocf-tester -X and crm_resource -VV: OCF_TRACE_RA with OCF_TRACE_FILE, and debug lines
    /// reach the trace even when the log leaves them out.
    @Test func traceFileFromTheEnvironment() throws {
        let file = "/tmp/tandem-ocftests-trace-\(getProcessID()).txt"
        let (outcome, log) = runFixture(["monitor"], ["name": "broken"], extra: ["OCF_TRACE_RA": "1", "OCF_TRACE_FILE": file,
                                                                                "OCF_RESKEY_CRM_meta_interval": "10000"])
        #expect(outcome.exitCode == .genericError)
        let text = try #require(readFile(file))
        #expect(text.contains("ERROR: broken on purpose") && text.contains("exit reason: broken on purpose"))
        #expect(text.contains("exit 1 (OCF_ERR_GENERIC)"))
        #expect(!log.lines.contains { $0.contains("tracing") })
    }

    @Test func exitReasonsAreOneLine() {
        let (_, log) = runFixture(["start"], ["name": "a\nb", "count": "x\ny"])
        let reasons = log.lines.filter { $0.hasPrefix("ocf-exit-reason:") }
        #expect(reasons.count == 1)
        #expect(!(reasons.first ?? "").contains("\n"))
        #expect(log.lines.allSatisfy { !$0.contains("\n") })
    }
}
