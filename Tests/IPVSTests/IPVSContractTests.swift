import Addresses
import Glibc
import LVS
import Labs
import Netlink
import OCF
import OCFTesting
import Testing
@testable import ipvs
@testable import ipvs_sync

@Suite(.serialized, .enabled(if: IPVSFacility.available))
struct IPVSContractTests {
    static let state = "/tmp/tandem-ipvs-contract-\(getpid())"

    /// Connection synchronisation between two directors: a connection opened through the
    /// master shows up in the backup's connection table.
    @Test func syncDaemonsReplicateConnections() throws {
        let lab = try LVSLab()
        let vip = IPAddress("203.0.113.10")!
        try lab.addVIP(vip)
        let server = try TCPResponder(in: lab.realServers[0], address: LVSLab.realServerAddresses[0], port: 8080, name: "rs1")
        let parameters = ["interface": "sync0", "syncid": "7"]
        let master = AgentRunner(agent: "ipvs-sync", namespace: lab.director, instance: "sync", stateDirectory: Self.state + "-m")
        let backup = AgentRunner(agent: "ipvs-sync", namespace: lab.backupDirector, instance: "sync", stateDirectory: Self.state + "-b")
        for agent in [master, backup] {
            #expect(try agent.run("monitor", parameters, interval: 0).exitCode == .notRunning)
            #expect(try agent.run("start", parameters).exitCode == .success)
            #expect(try agent.run("monitor", parameters).exitCode == .success, "started unpromoted: the backup daemon")
        }
        #expect(try master.run("promote", parameters).exitCode == .success)
        #expect(try master.run("promote", parameters).exitCode == .success, "promote again")
        #expect(try master.run("monitor", parameters).exitCode == .runningPromoted)
        let daemons = try IPVSSocket(in: lab.director).daemons()
        #expect(daemons.map(\.state) == [.master] && daemons.first?.syncID == 7)

        let ipvs = AgentRunner(agent: "ipvs", namespace: lab.director, instance: "web", stateDirectory: Self.state + "-m")
        let service = ["service": "tcp:203.0.113.10:80", "realservers": "192.168.100.2:8080 masq"]
        #expect(try ipvs.run("start", service).exitCode == .success)
        // A connection syncs after its third packet; send a few lines through it.
        let connection = try #require(try TCPConnection.open(from: lab.client, to: vip, port: 80, deadline: .now + .seconds(30)))
        #expect(connection.readLine(deadline: .now + .seconds(20)) == "rs1")
        for line in 1...5 {
            try connection.send("ping \(line)\n")
            #expect(connection.readLine(deadline: .now + .seconds(20)) == "ping \(line)")
        }
        // The backup's table is per namespace and filled asynchronously (buffers flush every 2 s).
        let synced = try waitUntil(deadline: .now + .seconds(30)) {
            try lab.connectionTable(of: lab.backupDirector).contains(LVSLab.connectionTableForm(IPv4Address("203.0.113.10")!))
        }
        let backupTable = try lab.connectionTable(of: lab.backupDirector)
        #expect(synced, "backup table:\n\(backupTable)")
        connection.close()

        #expect(try master.run("demote", parameters).exitCode == .success)
        #expect(try master.run("monitor", parameters).exitCode == .success)
        for agent in [master, backup] {
            #expect(try agent.run("stop", parameters).exitCode == .success)
            #expect(try agent.run("stop", parameters).exitCode == .success)
            #expect(try agent.run("monitor", parameters).exitCode == .notRunning)
        }
        #expect(try ipvs.run("stop", service).exitCode == .success)
        withExtendedLifetime(server) {}
    }

    @Test func syncDaemonRefusesMixedFamilyServices() throws {
        let lab = try LVSLab()
        let service = try ServiceSpec(parsing: "tcp:203.0.113.10:80")
        let mixed = try RealServers.parse("[2001:db8::2] ipip", for: service)
        #expect(try IPVSSocket(in: lab.director).apply([
            .addService(IPVSService(identity: service.identity, scheduler: "wlc")),
            .addDestination(service.identity, mixed[0]),
        ]).allSatisfy { $0 == nil })
        let agent = AgentRunner(agent: "ipvs-sync", namespace: lab.director, instance: "sync", stateDirectory: Self.state)
        let start = try agent.run("start", ["interface": "sync0"])
        #expect(start.exitCode == .genericError)
        #expect(start.exitReason?.contains("other address family") == true, "\(start)")
        #expect(try agent.run("stop", ["interface": "sync0"]).exitCode == .success)
    }

    @Test func ocfTesterPassesForBothAgents() throws {
        let lab = try LVSLab()
        let runs: [(String, [String])] = [
            ("ipvs", ["service=tcp:203.0.113.10:80", "realservers=192.168.100.2:8080 masq, 192.168.100.3:8080 masq"]),
            ("ipvs-sync", ["interface=sync0", "syncid=3"]),
        ]
        for (agent, options) in runs {
            let arguments = ["-n", "\(agent)-ocf-tester"] + options.flatMap { ["-o", $0] } + [AgentRunner.path(of: agent)]
            let result = try Command("/usr/sbin/ocf-tester", arguments).run(in: lab.director, deadline: .now + .seconds(600))
            #expect(result.output.contains("\(agent) passed all tests"), "\(result.output)\(result.errorOutput)")
            print("ocf-tester (\(agent)): \(result.output.split(separator: "\n").last ?? "")")
        }
    }

    /// At least 30 malformed values through validate-all and start: refused with the right code
    /// and an exit reason, and the IPVS table (services, real servers, daemons) and the state
    /// directory exactly as before.
    @Test func malformedInputChangesNothing() throws {
        let lab = try LVSLab()
        let runner = AgentRunner(agent: "ipvs", namespace: lab.director, instance: "bad", stateDirectory: Self.state + "-bad")
        struct Snapshot: Equatable {
            let services: [IPVSService]
            let destinations: [[IPVSDestination]]
            let daemons: [IPVSSyncDaemon]
            let stateFiles: [String]
        }
        let harness = MalformedInputHarness(
            base: ["service": "tcp:203.0.113.10:80", "realservers": "192.168.100.2 gate"],
            run: { action, parameters in try runner.run(action, parameters) },
            snapshot: {
                let table = try IPVSSocket(in: lab.director)
                let services = try table.services()
                return Snapshot(services: services, destinations: try services.map { try table.destinations(of: $0.identity) },
                                daemons: try table.daemons(), stateFiles: listDirectory(Self.state + "-bad"))
            })
        var cases = MalformedInputHarness<Snapshot>.typeViolations(for: IPVSParameters.declarations)
        cases += [
            MalformedValue(["service": "tcp:999.0.0.1:80"], [.notConfigured], "out-of-range address"),
            MalformedValue(["service": "http:192.0.2.1:80"], [.notConfigured], "unknown protocol"),
            MalformedValue(["service": "tcp:192.0.2.1"], [.notConfigured], "no port"),
            MalformedValue(["service": "tcp:192.0.2.1:0"], [.notConfigured], "port 0"),
            MalformedValue(["service": "tcp:2001:db8::1:80"], [.notConfigured], "IPv6 without brackets"),
            MalformedValue(["service": "fwmark:0"], [.notConfigured], "mark 0"),
            MalformedValue(["service": "tcp:0.0.0.0:80"], [.notConfigured], "unspecified address"),
            MalformedValue(["scheduler": "roundrobin"], [.notConfigured], "unknown scheduler"),
            MalformedValue(["scheduler": "RR"], [.notConfigured], "wrong case"),
            MalformedValue(["sched_flags": "sh-port"], [.notConfigured], "sh flag on wlc"),
            MalformedValue(["scheduler": "sh", "sched_flags": "sh-port,,"], [.notConfigured], "empty flag"),
            MalformedValue(["persistent": "-1"], [.notConfigured], "negative persistence"),
            MalformedValue(["persistent": "2592001"], [.notConfigured], "persistence over 30 days"),
            MalformedValue(["netmask": "255.255.255.0"], [.notConfigured], "netmask without persistence"),
            MalformedValue(["persistent": "60", "netmask": "255.0.255.0"], [.notConfigured], "non-contiguous netmask"),
            MalformedValue(["persistent": "60", "netmask": "33"], [.notConfigured], "IPv4 prefix 33"),
            MalformedValue(["service": "tcp:[2001:db8::1]:80", "realservers": "[2001:db8::2] gate", "persistent": "60",
                            "netmask": "129"], [.notConfigured], "IPv6 prefix 129"),
            MalformedValue(["one_packet": "true"], [.notConfigured], "one-packet on TCP"),
            MalformedValue(["pe": "sip"], [.notConfigured], "persistence engine without persistence"),
            MalformedValue(["pe": "http"], [.notConfigured], "unknown persistence engine"),
            MalformedValue(["realservers": "192.168.100.2:8080 gate"], [.notConfigured], "gate changing the port"),
            MalformedValue(["realservers": "192.168.100.2 route"], [.notConfigured], "unknown method"),
            MalformedValue(["realservers": "192.168.100.2 70000"], [.notConfigured], "weight over 65535"),
            MalformedValue(["realservers": "192.168.100.2,,192.168.100.3"], [.notConfigured], "empty entry"),
            MalformedValue(["realservers": "[2001:db8::2] gate"], [.notConfigured], "other family without a tunnel"),
            MalformedValue(["realservers": "192.168.100.2, 192.168.100.2:80"], [.notConfigured], "duplicate"),
            MalformedValue(["realservers": "192.168.100.2 uthresh=5 lthresh=9"], [.notConfigured], "thresholds crossed"),
            MalformedValue(["on_drift": "ignore"], [.notConfigured], "unknown drift policy"),
            MalformedValue(["drain_timeout": "86401"], [.notConfigured], "drain over a day"),
            MalformedValue(["netns": "../x"], [.notConfigured], "namespace name with a path"),
            MalformedValue(["netns": "no-such-namespace"], [.invalidArguments], "namespace missing here"),
            MalformedValue(["netns": "/proc/999999999/ns/net"], [.invalidArguments], "namespace path missing here"),
        ]
        #expect(cases.count >= 50, "docs/testing.md says over 50: \(cases.count)")
        #expect(MalformedInputHarness<Snapshot>.uncovered(by: cases, declarations: IPVSParameters.declarations).isEmpty)
        for failure in try harness.failures(cases) { Issue.record("\(failure)") }
    }

    /// The same for ipvs-sync: refused with the right code and a reason, and no daemon, service
    /// or state file changed.
    @Test func syncMalformedInputChangesNothing() throws {
        let lab = try LVSLab()
        let runner = AgentRunner(agent: "ipvs-sync", namespace: lab.director, instance: "bad", stateDirectory: Self.state + "-sync-bad")
        struct Snapshot: Equatable {
            let daemons: [IPVSSyncDaemon]
            let services: [IPVSService]
            let stateFiles: [String]
        }
        let harness = MalformedInputHarness(
            base: ["interface": "sync0", "syncid": "7"],
            run: { action, parameters in try runner.run(action, parameters) },
            snapshot: {
                let table = try IPVSSocket(in: lab.director)
                return Snapshot(daemons: try table.daemons(), services: try table.services(),
                                stateFiles: listDirectory(Self.state + "-sync-bad").filter { !$0.hasSuffix(".lock") })
            })
        var cases = MalformedInputHarness<Snapshot>.typeViolations(for: SyncParameters.declarations)
        cases += [
            MalformedValue(["interface": "sync0;reboot"], [.notConfigured], "shell metacharacters in interface"),
            MalformedValue(["interface": String(repeating: "s", count: 16)], [.notConfigured], "16-character interface"),
            MalformedValue(["interface": "nosuch0"], [.invalidArguments], "interface missing on this node"),
            MalformedValue(["interface": ""], [.notConfigured], "empty required interface"),
            MalformedValue(["syncid": "256"], [.notConfigured], "sync ID over 255"),
            MalformedValue(["syncid": "-1"], [.notConfigured], "negative sync ID"),
            MalformedValue(["syncid": "seven"], [.notConfigured], "sync ID word"),
            MalformedValue(["maxlen": "150"], [.notConfigured], "maxlen the kernel would raise to 1024"),
            MalformedValue(["maxlen": "65508"], [.notConfigured], "maxlen over 65507"),
            MalformedValue(["maxlen": "65500", "group": "ff02::81"], [.notConfigured], "maxlen over 65487 with IPv6"),
            MalformedValue(["maxlen": "-5"], [.notConfigured], "negative maxlen"),
            MalformedValue(["group": "192.0.2.1"], [.notConfigured], "unicast group"),
            MalformedValue(["group": "2001:db8::1"], [.notConfigured], "IPv6 unicast group"),
            MalformedValue(["group": "224.0.0.256"], [.notConfigured], "out-of-range group"),
            MalformedValue(["group": "224.0.0.81/24"], [.notConfigured], "prefix in group"),
            MalformedValue(["port": "65536"], [.notConfigured], "port over 65535"),
            MalformedValue(["port": "-1"], [.notConfigured], "negative port"),
            MalformedValue(["port": "http"], [.notConfigured], "service name as port"),
            MalformedValue(["ttl": "0"], [.notConfigured], "TTL 0"),
            MalformedValue(["ttl": "256"], [.notConfigured], "TTL over 255"),
            MalformedValue(["netns": "../x"], [.notConfigured], "namespace name with a path"),
            MalformedValue(["netns": "a b"], [.notConfigured], "space in namespace name"),
            MalformedValue(["netns": "no-such-namespace"], [.invalidArguments], "namespace missing here"),
            MalformedValue(["netns": "/proc/999999999/ns/net"], [.invalidArguments], "namespace path missing here"),
            MalformedValue(["netns": "/etc/hostname"], [.invalidArguments], "a file that is not a namespace"),
        ]
        #expect(cases.count >= 40, "docs/testing.md says over 40: \(cases.count)")
        #expect(MalformedInputHarness<Snapshot>.uncovered(by: cases, declarations: SyncParameters.declarations).isEmpty)
        for failure in try harness.failures(cases) { Issue.record("\(failure)") }
    }
}
