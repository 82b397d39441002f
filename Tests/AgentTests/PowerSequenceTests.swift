import FenceAgent
import OCF
import OCFTesting
import PowerFencing
import Testing
@testable import fence_libvirt

/// fence_libvirt's decisions, in-process on fake hypervisors: every action in every state a
/// domain can be in (on, off, missing, defined on two hypervisors, transient, a refused
/// destroy or start), what it answers and what it leaves powered. The same actions run against
/// a real libvirtd in FenceLibvirtTests.
@Suite struct PowerSequenceTests {
    /// A state of the world: the hypervisors and their domains, made afresh for every cell.
    struct World: Sendable, CustomStringConvertible {
        let description: String
        let missingAsOff: Bool
        let make: @Sendable () -> [FakeHypervisor]

        init(_ description: String, missingAsOff: Bool = false, _ make: @escaping @Sendable () -> [FakeHypervisor]) {
            self.description = description
            self.missingAsOff = missingAsOff
            self.make = make
        }
    }

    static let worlds: [World] = [
        World("on") { [FakeHypervisor("hv1", domains: [FakeDomain("n1", active: true)])] },
        World("off") { [FakeHypervisor("hv1", domains: [FakeDomain("n1", active: false)])] },
        World("missing") { [FakeHypervisor("hv1", domains: [FakeDomain("other", active: true)])] },
        World("missing, missing_as_off", missingAsOff: true) { [FakeHypervisor("hv1", domains: [FakeDomain("other", active: true)])] },
        World("defined on two, running on the second") {
            [FakeHypervisor("hv1", domains: [FakeDomain("n1", active: false)]), FakeHypervisor("hv2", domains: [FakeDomain("n1", active: true)])]
        },
        World("transient, on") {
            let domain = FakeDomain("n1", active: true)
            domain.transient = true
            return [FakeHypervisor("hv1", domains: [domain])]
        },
        World("destroy refused, on") {
            let domain = FakeDomain("n1", active: true)
            domain.destroyRefusal = PowerError(.other, "internal error: the monitor is busy")
            return [FakeHypervisor("hv1", domains: [domain])]
        },
        World("start refused, off") {
            let domain = FakeDomain("n1", active: false)
            domain.createRefusal = PowerError(.other, "internal error: no memory")
            return [FakeHypervisor("hv1", domains: [domain])]
        },
    ]

    static let actions: [FenceAction] = [.status, .off, .on, .reboot, .monitor, .list, .listStatus]

    /// What each action answers in each world: the exit code and stdout (or the failure's
    /// beginning), and whether n1 runs anywhere afterwards (`nil`: it does not exist).
    static let expected: [String: [FenceAction: (exit: Int32, output: String, running: Bool?)]] = [
        "on": [.status: (0, "Status: ON\n", true), .off: (0, "Success: Powered OFF\n", false), .on: (0, "Success: Already ON\n", true),
               .reboot: (0, "Success: Rebooted\n", true)],
        "off": [.status: (2, "Status: OFF\n", false), .off: (0, "Success: Already OFF\n", false), .on: (0, "Success: Powered ON\n", true),
                .reboot: (0, "Success: Rebooted\n", true)],
        "missing": [.status: (1, "domain n1 not found", nil), .off: (1, "domain n1 not found", nil), .on: (1, "domain n1 not found", nil),
                    .reboot: (1, "domain n1 not found", nil)],
        "missing, missing_as_off": [.status: (2, "Status: OFF\n", nil), .off: (0, "Success: Already OFF\n", nil),
                                    .on: (1, "domain n1 not found", nil), .reboot: (0, "Success: Rebooted (off; not started)\n", nil)],
        "defined on two, running on the second": [.status: (0, "Status: ON\n", true), .off: (0, "Success: Powered OFF\n", false),
                                                  .on: (0, "Success: Already ON\n", true), .reboot: (0, "Success: Rebooted\n", true)],
        "transient, on": [.status: (0, "Status: ON\n", true), .off: (0, "Success: Powered OFF\n", nil), .on: (0, "Success: Already ON\n", true),
                          .reboot: (0, "Success: Rebooted (off; not started)\n", nil)],
        "destroy refused, on": [.status: (0, "Status: ON\n", true), .off: (1, "powering off n1 failed", true),
                                .on: (0, "Success: Already ON\n", true), .reboot: (1, "powering off n1 failed", true)],
        "start refused, off": [.status: (2, "Status: OFF\n", false), .off: (0, "Success: Already OFF\n", false),
                               .on: (1, "powering on n1 failed", false), .reboot: (0, "Success: Rebooted (off; not started)\n", false)],
    ]

    static func run(_ action: FenceAction, in world: World, reset: Bool = false) -> (Result<FenceResult, FenceFailure>, [FakeHypervisor]) {
        let hypervisors = world.make()
        let log = Log(agent: "fence_libvirt", environment: Environment([:]), sink: .memory)
        let settings = PowerSettings(connectTimeout: .seconds(10), powerTimeout: .seconds(10), missingAsOff: world.missingAsOff,
                                     rebootByReset: reset)
        let sequence = PowerSequence(settings: settings, hypervisors: hypervisors.map(\.name), log: log) { name in
            hypervisors.first { $0.name == name }!
        }
        do throws(FenceFailure) {
            return (.success(try sequence.perform(action, target: [.list, .listStatus, .monitor].contains(action) ? nil : "n1")), hypervisors)
        } catch {
            return (.failure(error), hypervisors)
        }
    }

    /// Whether n1 runs on some hypervisor; `nil` when none defines it.
    static func running(_ hypervisors: [FakeHypervisor]) -> Bool? {
        let copies = hypervisors.flatMap(\.domainList).filter { $0.name == "n1" && !$0.isGone }
        return copies.isEmpty ? nil : copies.contains(where: \.active)
    }

    @Test(arguments: worlds)
    func everyActionInThisState(_ world: World) {
        var cells: [String] = []
        for action in Self.actions {
            let (outcome, hypervisors) = Self.run(action, in: world)
            #expect(hypervisors.allSatisfy { $0.isClosed }, "\(world), \(action): a connection left open")
            let answer: (exit: Int32, output: String)
            switch outcome {
            case .success(let result): answer = (result.exitCode, result.output)
            case .failure(let failure): answer = (1, failure.reason)
            }
            cells.append("\(action.rawValue): \(answer.exit) \(answer.output.split(separator: "\n").first ?? "")")
            if let expected = Self.expected[world.description]?[action] {
                #expect(answer.exit == expected.exit && answer.output.hasPrefix(expected.output),
                        "\(world), \(action): \(answer.exit) \(answer.output.debugDescription), not \(expected.exit) \(expected.output.debugDescription)")
                #expect(Self.running(hypervisors) == expected.running, "\(world), \(action): n1 running \(String(describing: Self.running(hypervisors)))")
            } else {
                // monitor and the lists change nothing and answer 0.
                #expect(answer.exit == 0, "\(world), \(action): \(answer)")
                #expect(hypervisors.flatMap(\.domainList).allSatisfy { $0.powerCalls.isEmpty }, "\(world), \(action) pulled a switch")
            }
        }
        print("power sequence, \(world): " + cells.joined(separator: "; "))
    }

    @Test func aDomainOnTwoHypervisorsIsListedOnceAndOnWhereItRuns() {
        let (outcome, _) = Self.run(.listStatus, in: Self.worlds[4])
        #expect((try? outcome.get().output) == "n1,uuid-n1,ON\n")
    }

    @Test func aResetRebootResetsWhereItRunsAndStartsOneThatIsOff() {
        let (on, running) = Self.run(.reboot, in: Self.worlds[0], reset: true)
        #expect((try? on.get().output) == "Success: Rebooted (reset)\n")
        #expect(running[0].domainList[0].powerCalls == ["reset"])
        let (off, stopped) = Self.run(.reboot, in: Self.worlds[1], reset: true)
        #expect((try? off.get().output) == "Success: Rebooted (was off, started)\n")
        #expect(stopped[0].domainList[0].powerCalls == ["create"] && stopped[0].domainList[0].active)
    }

    @Test func offAsksEveryHypervisorBeforeItAnswers() {
        let (_, hypervisors) = Self.run(.off, in: Self.worlds[4])
        #expect(hypervisors.allSatisfy { $0.calls.contains("domain n1") }, "\(hypervisors.map(\.calls))")
        #expect(hypervisors[0].domainList[0].powerCalls.isEmpty && hypervisors[1].domainList[0].powerCalls == ["destroy"])
    }
}

/// fence_libvirt's parameters as the fencer sends them (key=value lines on stdin), 200 generated
/// sets through validate-all in-process: every answer is 0 or 1, never a crash, and a refusal
/// says which parameter is wrong. validate-all connects nowhere.
@Suite struct FenceParameterFuzzTests {
    static let values: [String: [String]] = [
        "uri": ["test:///default", "qemu:///system", "qemu+ssh://root@kvm1/system", "qemu:///system qemu+ssh://kvm2/system",
                "qemu+libssh2://root@kvm1/system?known_hosts=/dev/null"],
        "connect_timeout": ["1", "10", "60"], "power_timeout": ["5", "20", "120"], "power_wait": ["0", "3"], "delay": ["0", "15"],
        "reboot_method": ["onoff", "reset"], "missing_as_off": ["0", "1", "true", "false"], "known_hosts": ["/dev/null"],
        "ssh_persist": ["0", "120"],
    ]

    @Test func generatedParameterSetsGetAClearAnswer() {
        #expect(Set(Self.values.keys) == Set(FenceParameters.declarations.map(\.name)), "every declared parameter has values to mix")
        var generator = ParameterFuzzer(seed: 0xFE_4CE, base: ["uri": "test:///default"], valid: Self.values)
        var refused = 0
        var problems: [String] = []
        let names = Set(FenceParameters.declarations.map(\.name))
        for index in 0..<200 {
            let set = generator.next()
            // The fencer's lines cannot hold a newline: one in a value would be another line.
            let lines = (["action=validate-all", "port=test"] + set.map { "\($0.key)=\($0.value.replacingNewlines)" }).joined(separator: "\n") + "\n"
            let log = Log(agent: "fence_libvirt", environment: Environment([:]), sink: .memory)
            let outcome = FenceMain.run(LibvirtFencing.self, request: .standardInput(lines), fromCommandLine: false, process: Environment([:]), log: log)
            let label = "set \(index) \(ParameterFuzzer.describe(set))"
            guard outcome.exitCode != 0 else { continue }
            refused += 1
            guard outcome.exitCode == 1 else {
                problems.append("\(label): exit \(outcome.exitCode)")
                continue
            }
            let errors = log.lines.filter { $0.contains("ERROR") }
            if !errors.contains(where: { line in names.contains { line.contains($0 + ":") } }) {
                problems.append("\(label): the refusal names no parameter: \(log.lines)")
            }
        }
        print("fence_libvirt: 200 generated parameter sets, \(refused) refused by validate-all (seed 0xFE4CE)")
        #expect(refused >= 40 && refused <= 190, "a mix of accepted and refused sets: \(refused) of 200 refused")
        for problem in problems.prefix(20) { Issue.record("\(problem)") }
    }
}

extension String {
    fileprivate var replacingNewlines: String { String(map { $0 == "\n" || $0 == "\r" ? " " : $0 }) }
}
