import Addresses
import Glibc
import LVS
import Labs
import Netlink
import OCF
import OCFTesting
import Testing
@testable import ipvs

/// Where these tests can run: a kernel with IPVS. `make test` runs them inside the qemu guest
/// with Debian's kernel (this host's kernel has none) and sets TANDEM_IPVS_TESTS=1 there: then a
/// missing IPVS is a failure. Anywhere else they are skipped.
enum IPVSFacility {
    static let required = (getenv("TANDEM_IPVS_TESTS").map { String(cString: $0) } ?? "") == "1"
    static let available: Bool = {
        guard geteuid() == 0, let namespace = try? NetworkNamespace.create() else { return false }
        return (try? IPVSSocket(in: namespace)) != nil
    }()
}

@Suite struct IPVSFacilityTests {
    @Test func ipvsIsHereWhenRequired() {
        if IPVSFacility.required && !IPVSFacility.available {
            Issue.record("TANDEM_IPVS_TESTS=1 but this kernel offers no IPVS (or this is not root)")
        }
    }
}

@Suite(.serialized, .enabled(if: IPVSFacility.available))
struct IPVSServiceTests {
    static let state = "/tmp/tandem-ipvs-\(getpid())"
    let vip = IPAddress("203.0.113.10")!

    func ipvs(_ lab: LVSLab, instance: String = "web") -> AgentRunner {
        AgentRunner(agent: "ipvs", namespace: lab.director, instance: instance, stateDirectory: Self.state)
    }

    /// Real servers answering on `port` with their names ("rs1", "rs2").
    func responders(_ lab: LVSLab, on address: IPAddress? = nil, port: UInt16) throws -> [TCPResponder] {
        try lab.realServers.enumerated().map { index, namespace in
            try TCPResponder(in: namespace, address: address ?? LVSLab.realServerAddresses[index], port: port, name: "rs\(index + 1)")
        }
    }

    func greetings(_ lab: LVSLab, _ count: Int, address: IPAddress? = nil, port: UInt16 = 80) throws -> [String] {
        try (0..<count).map { _ in
            try TCPConnection.greeting(from: lab.client, to: address ?? vip, port: port, deadline: .now + .seconds(30)) ?? "(no answer)"
        }
    }

    func table(_ lab: LVSLab) throws -> IPVSSocket { try IPVSSocket(in: lab.director) }

    @Test func natSchedulesQuiescesAndStops() throws {
        let lab = try LVSLab()
        try lab.addVIP(vip)
        let servers = try responders(lab, port: 8080)
        let agent = ipvs(lab)
        var parameters = ["service": "tcp:203.0.113.10:80", "scheduler": "rr",
                          "realservers": "192.168.100.2:8080 masq, 192.168.100.3:8080 masq"]
        #expect(try agent.run("monitor", parameters, interval: 0).exitCode == .notRunning)
        let start = try agent.run("start", parameters)
        #expect(start.exitCode == .success, "\(start)")
        #expect(try agent.run("start", parameters).exitCode == .success, "start again")
        #expect(try agent.run("monitor", parameters).exitCode == .success)

        // Round robin over two real servers: strict alternation.
        let answers = try greetings(lab, 6)
        #expect(answers.filter { $0 == "rs1" }.count == 3 && answers.filter { $0 == "rs2" }.count == 3, "\(answers)")
        #expect(zip(answers, answers.dropFirst()).allSatisfy { $0 != $1 }, "\(answers)")

        // Weight 0 (applied by reload-agent): no new connections for rs1.
        parameters["realservers"] = "192.168.100.2:8080 masq 0, 192.168.100.3:8080 masq"
        #expect(try agent.run("reload-agent", parameters).exitCode == .success)
        #expect(try greetings(lab, 4) == ["rs2", "rs2", "rs2", "rs2"])

        #expect(try agent.run("stop", parameters).exitCode == .success)
        #expect(try agent.run("stop", parameters).exitCode == .success, "stop again")
        #expect(try agent.run("monitor", parameters).exitCode == .notRunning)
        #expect(try table(lab).services().isEmpty)
        withExtendedLifetime(servers) {}
    }

    @Test func directRoutingWithRealServerVIPs() throws {
        let lab = try LVSLab(mode: .directRouting)
        try lab.addVIP(vip)
        // Each real server holds the VIP on lo, set up by Tandem's own vip agent.
        for (index, server) in lab.realServers.enumerated() {
            let realServer = AgentRunner(agent: "vip", namespace: server, instance: "rs-vip-\(index)", stateDirectory: Self.state + "-rs\(index)")
            let result = try realServer.run("start", ["ip": "203.0.113.10", "lvs_dr_realserver": "true", "nic": "lan"])
            #expect(result.exitCode == .success, "\(result)")
        }
        let servers = try responders(lab, on: vip, port: 80)
        let agent = ipvs(lab, instance: "dr")
        let parameters = ["service": "tcp:203.0.113.10:80", "scheduler": "rr", "realservers": "192.168.100.2 gate, 192.168.100.3 gate"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let answers = try greetings(lab, 4)
        #expect(Set(answers) == ["rs1", "rs2"], "\(answers)")
        let destinations = try table(lab).destinations(of: .address(.tcp, vip, port: 80))
        #expect(destinations.allSatisfy { $0.forwarding == .directRouting && $0.port == 80 })
        #expect(try agent.run("stop", parameters).exitCode == .success)
        withExtendedLifetime(servers) {}
    }

    @Test func driftIsRepairedReportedOrFailed() throws {
        let lab = try LVSLab()
        try lab.addVIP(vip)
        var agent = ipvs(lab, instance: "drift")
        var parameters = ["service": "tcp:203.0.113.10:80", "realservers": "192.168.100.2:8080 masq, 192.168.100.3:8080 masq 2"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let identity = IPVSService.Identity.address(.tcp, vip, port: 80)

        // Behind the agent's back, with ipvsadm: a real server deleted, a weight changed.
        func tamper() throws {
            let deleted = try Command("ipvsadm", ["-d", "-t", "203.0.113.10:80", "-r", "192.168.100.2:8080"]).run(in: lab.director, deadline: .now + .seconds(60))
            #expect(deleted.status == 0, "\(deleted.errorOutput)")
            let edited = try Command("ipvsadm", ["-e", "-t", "203.0.113.10:80", "-r", "192.168.100.3:8080", "-m", "-w", "9"]).run(in: lab.director, deadline: .now + .seconds(60))
            #expect(edited.status == 0, "\(edited.errorOutput)")
        }
        try tamper()
        let repaired = try agent.run("monitor", parameters)
        #expect(repaired.exitCode == .success)
        #expect(repaired.errorOutput.contains("192.168.100.2:8080 is missing"), "\(repaired.errorOutput)")
        let destinations = try table(lab).destinations(of: identity)
        #expect(destinations.count == 2 && destinations.first { $0.address == LVSLab.realServerAddresses[1] }?.weight == 2)

        try tamper()
        parameters["on_drift"] = "report"
        let reported = try agent.run("monitor", parameters)
        #expect(reported.exitCode == .degraded, "\(reported)")
        #expect(try table(lab).destinations(of: identity).count == 1, "report changes nothing")
        parameters["on_drift"] = "fail"
        let failed = try agent.run("monitor", parameters)
        #expect(failed.exitCode == .genericError && failed.exitReason?.contains("drift") == true)

        // A probe of a deleted service says stopped; a recurring monitor says failed.
        _ = try table(lab).apply([.deleteService(identity)])
        #expect(try agent.run("monitor", parameters).exitCode == .genericError)
        #expect(try agent.run("monitor", parameters, interval: 0).exitCode == .notRunning)
        agent.environment = [:]
        #expect(try agent.run("stop", parameters).exitCode == .success)
    }

    @Test func healthCheckerOverridesAreNotRepaired() throws {
        let lab = try LVSLab()
        let agent = ipvs(lab, instance: "health")
        let parameters = ["service": "tcp:203.0.113.10:80", "realservers": "192.168.100.2:8080 masq, 192.168.100.3:8080 masq"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let spec = try ServiceSpec(parsing: "tcp:203.0.113.10:80")
        let identity = spec.identity
        // The health checker quiesces rs1 and removes rs2: under the contract's lock, the file
        // first, then the kernel.
        let store = HealthOverrides.Store(service: spec, namespace: nil, directory: Self.state)
        try store.withLock(deadline: .now + .seconds(10)) {
            try store.save(HealthOverrides([
                IPVSDestination.Key(address: LVSLab.realServerAddresses[0], port: 8080): .weight(0),
                IPVSDestination.Key(address: LVSLab.realServerAddresses[1], port: 8080): .removed,
            ]))
            _ = try table(lab).apply([
                .updateDestination(identity, IPVSDestination(address: LVSLab.realServerAddresses[0], port: 8080, forwarding: .masquerade, weight: 0)),
                .deleteDestination(identity, IPVSDestination.Key(address: LVSLab.realServerAddresses[1], port: 8080)),
            ])
        }
        defer { try? store.save(HealthOverrides()) }
        let monitor = try agent.run("monitor", parameters)
        #expect(monitor.exitCode == .success && !monitor.errorOutput.contains("drift"), "\(monitor)")
        let destinations = try table(lab).destinations(of: identity)
        #expect(destinations.count == 1 && destinations[0].weight == 0, "the health checker's choices stand")
        #expect(try agent.run("stop", parameters).exitCode == .success)
    }

    /// The override contract with a real concurrent writer: a health checker process changes a
    /// weight 300 times (file, then kernel, under the lock) while recurring monitors with
    /// on_drift=repair run beside it. No monitor sees drift or reverts a weight; the checker's
    /// last weight stands.
    @Test func healthCheckerWritingMeanwhileIsNeverReverted() throws {
        let lab = try LVSLab()
        let agent = ipvs(lab, instance: "health-writer")
        let parameters = ["service": "tcp:203.0.113.10:80", "realservers": "192.168.100.2:8080 masq 3"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let writer = try Command(AgentRunner.path(of: "tandem-testtool"),
                                 ["health-writer", "tcp:203.0.113.10:80", "192.168.100.2:8080 masq", Self.state, "300"])
            .start(in: lab.director)
        var monitors: [AgentRunner.Result] = []
        var finished: Command.Result?
        while finished == nil {
            monitors.append(try agent.run("monitor", parameters))
            if monitors.count % 5 == 0 || monitors.count > 400 {
                finished = writer.waitIfExited()
            }
        }
        let written = try #require(finished)
        #expect(written.status == 0, "\(written.errorOutput)")
        #expect(monitors.count >= 5)
        #expect(monitors.allSatisfy { $0.exitCode == .success })
        #expect(monitors.allSatisfy { !$0.errorOutput.contains("drift") }, "\(monitors.first { $0.errorOutput.contains("drift") }?.errorOutput ?? "")")
        let weight = try table(lab).destinations(of: .address(.tcp, vip, port: 80)).first?.weight
        #expect(weight.map(String.init) == written.output.split(separator: "\n").last.map(String.init), "the checker's last weight stands")
        try HealthOverrides.Store(service: ServiceSpec(parsing: "tcp:203.0.113.10:80"), namespace: nil, directory: Self.state)
            .save(HealthOverrides())
        #expect(try agent.run("stop", parameters).exitCode == .success)
    }

    @Test func reloadKeepsEstablishedConnections() throws {
        let lab = try LVSLab()
        try lab.addVIP(vip)
        let servers = try responders(lab, port: 8080)
        let agent = ipvs(lab, instance: "reload")
        var parameters = ["service": "tcp:203.0.113.10:80", "scheduler": "rr", "realservers": "192.168.100.2:8080 masq"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let connection = try #require(try TCPConnection.open(from: lab.client, to: vip, port: 80, deadline: .now + .seconds(30)))
        #expect(connection.readLine(deadline: .now + .seconds(20)) == "rs1")

        parameters["realservers"] = "192.168.100.2:8080 masq 5 uthresh=1000, 192.168.100.3:8080 masq 3"
        parameters["scheduler"] = "wrr"
        #expect(try agent.run("reload-agent", parameters).exitCode == .success)
        let service = try #require(try table(lab).service(.address(.tcp, vip, port: 80)))
        #expect(service.scheduler == "wrr")
        #expect(try table(lab).destinations(of: service.identity).map(\.weight).sorted() == [3, 5])

        // The connection opened before the reload still carries data both ways.
        try connection.send("still here\n")
        #expect(connection.readLine(deadline: .now + .seconds(20)) == "still here")
        #expect(try agent.run("stop", parameters).exitCode == .success)
        withExtendedLifetime(servers) {}
    }

    @Test func stopDrainsThenDeletes() throws {
        let lab = try LVSLab()
        try lab.addVIP(vip)
        let servers = try responders(lab, port: 8080)
        let agent = ipvs(lab, instance: "drain")
        let parameters = ["service": "tcp:203.0.113.10:80", "realservers": "192.168.100.2:8080 masq", "drain_timeout": "60"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let connection = try #require(try TCPConnection.open(from: lab.client, to: vip, port: 80, deadline: .now + .seconds(30)))
        #expect(connection.readLine(deadline: .now + .seconds(20)) == "rs1")

        var environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_RESOURCE_INSTANCE": "drain", "HA_RSCTMP": Self.state,
                           "OCF_RESKEY_CRM_meta_timeout": "90000"]
        for (name, value) in parameters { environment["OCF_RESKEY_" + name] = value }
        let stop = try Command(agent.executable, ["stop"], environment: environment).start(in: lab.director)
        let identity = IPVSService.Identity.address(.tcp, vip, port: 80)
        // Draining: weight 0 while the connection lasts, and the service is still there.
        let quiesced = try waitUntil(deadline: .now + .seconds(30)) {
            try table(lab).destinations(of: identity).first?.weight == 0
        }
        #expect(quiesced)
        #expect(ProcessIdentity(pid: stop.pid)?.isRunning == true, "stop waits while a connection is open")
        #expect(try table(lab).service(identity) != nil)
        connection.close()
        let result = stop.wait(deadline: .now + .seconds(60))
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(result.errorOutput.contains("drained"), "\(result.errorOutput)")
        #expect(try table(lab).service(identity) == nil)
        withExtendedLifetime(servers) {}
    }

    @Test func startIsAllOrNothing() throws {
        let lab = try LVSLab()
        // The kernel refuses a mixed-family real server while a sync daemon runs: the second
        // real server fails after the service and the first were created.
        let daemon = IPVSSyncDaemon(state: .master, interface: "sync0", syncID: 9)
        #expect(try table(lab).apply([.startDaemon(daemon)]).allSatisfy { $0 == nil })
        let agent = ipvs(lab, instance: "partial")
        let result = try agent.run("start", ["service": "tcp:203.0.113.10:80",
                                             "realservers": "192.168.100.2 gate, [2001:db8::2] ipip"])
        #expect(result.exitCode == .genericError, "\(result)")
        #expect(result.exitReason?.contains("add [2001:db8::2]:80") == true, "\(result)")
        #expect(try table(lab).services().isEmpty, "what the failed start created is gone")
        _ = try table(lab).apply([.stopDaemon(.master)])
        #expect(try agent.run("stop", ["service": "tcp:203.0.113.10:80"]).exitCode == .success)
    }

    @Test func namespaceParameterTargetsAnotherTable() throws {
        let lab = try LVSLab()
        // The agent runs in the client namespace but manages the director's table.
        let agent = AgentRunner(agent: "ipvs", namespace: lab.client, instance: "netns", stateDirectory: Self.state)
        let parameters = ["service": "udp:203.0.113.10:53", "realservers": "192.168.100.2 gate", "netns": lab.director.path,
                          "one_packet": "true"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let service = try #require(try table(lab).service(.address(.udp, vip, port: 53)))
        #expect(service.flags.contains(.onePacket))
        #expect(try IPVSSocket(in: lab.client).services().isEmpty)
        #expect(try agent.run("monitor", parameters).exitCode == .success)
        #expect(try agent.run("stop", parameters).exitCode == .success)
        #expect(try table(lab).services().isEmpty)
    }

    @Test func everyServiceKind() throws {
        let lab = try LVSLab()
        let agent = ipvs(lab, instance: "kinds")
        let cases: [[String: String]] = [
            ["service": "sctp:203.0.113.10:3868", "scheduler": "sh", "sched_flags": "sh-fallback,sh-port",
             "realservers": "192.168.100.2 gate"],
            ["service": "fwmark:42", "scheduler": "mh", "sched_flags": "mh-port", "persistent": "600", "netmask": "255.255.255.0",
             "realservers": "192.168.100.2 gate, 192.168.100.3:8080 masq 3"],
            ["service": "udp:203.0.113.10:5060", "persistent": "300", "pe": "sip", "realservers": "192.168.100.2 gate"],
            ["service": "tcp:[2001:db8:1::10]:443", "scheduler": "wrr", "persistent": "60", "netmask": "64",
             "realservers": "[2001:db8:1::2] gate 4, 192.168.100.2 ipip:gue:6080"],
        ]
        for parameters in cases {
            let start = try agent.run("start", parameters)
            #expect(start.exitCode == .success, "\(parameters): \(start)")
            // Read back, the kernel's table is exactly what was asked: monitor finds no drift.
            let monitor = try agent.run("monitor", parameters)
            #expect(monitor.exitCode == .success && !monitor.errorOutput.contains("drift"), "\(parameters): \(monitor)")
            #expect(try agent.run("stop", parameters).exitCode == .success)
        }
        #expect(try table(lab).services().isEmpty)
    }
}

extension IPVSServiceTests {
    @Test func aDifferentServiceIsAdoptedAndCorrected() throws {
        let lab = try LVSLab()
        // Someone made the service by hand, not quite as configured.
        for arguments in [["-A", "-t", "203.0.113.10:80", "-s", "rr", "-p", "60"],
                          ["-a", "-t", "203.0.113.10:80", "-r", "192.168.100.2:80", "-g", "-w", "7"],
                          ["-a", "-t", "203.0.113.10:80", "-r", "192.168.100.9:80", "-g"]] {
            let result = try Command("ipvsadm", arguments).run(in: lab.director, deadline: .now + .seconds(60))
            #expect(result.status == 0, "\(result.errorOutput)")
        }
        let agent = ipvs(lab, instance: "adopt")
        let parameters = ["service": "tcp:203.0.113.10:80", "scheduler": "wlc", "realservers": "192.168.100.2 gate, 192.168.100.3 gate 2"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let identity = IPVSService.Identity.address(.tcp, vip, port: 80)
        let service = try #require(try table(lab).service(identity))
        #expect(service.scheduler == "wlc" && !service.flags.contains(.persistent))
        let destinations = try table(lab).destinations(of: identity).sorted { $0.key.description < $1.key.description }
        #expect(destinations.map(\.key.description) == ["192.168.100.2:80", "192.168.100.3:80"])
        #expect(destinations.map(\.weight) == [1, 2])
        #expect(try agent.run("stop", parameters).exitCode == .success)
    }

    @Test func connectionTimeouts() throws {
        let lab = try LVSLab()
        let table = try table(lab)
        #expect(try table.timeouts() == IPVSTimeouts(tcp: 900, tcpFin: 120, udp: 300), "the kernel's defaults")
        #expect(try table.apply([.setTimeouts(IPVSTimeouts(tcp: 3600, tcpFin: 0, udp: 60))]).allSatisfy { $0 == nil })
        #expect(try table.timeouts() == IPVSTimeouts(tcp: 3600, tcpFin: 120, udp: 60), "0 leaves one unchanged")
    }
}
