import Addresses
import Glibc
import Labs
import MySQLClient
import MySQLReplication
import Netlink
import OCF
import OCFTesting
import Testing

/// The fault table on this host, for real: vip in namespaces, mysql-mm against a real MariaDB
/// pair, fence_libvirt against a real libvirtd. Each cell provokes the fault, runs what
/// Pacemaker would run and records what must happen and what did (`FaultTable`): no false
/// success, no spurious stop failure, a clear exit reason, nothing left behind. The IPVS agents'
/// cells run in the IPVS guest (IPVSTests), and so do the clock steps (the guest's clock is its
/// own to step). Cells whose fault is produced by another test record there.
@Suite(.serialized, .enabled(if: Facilities.ready))
struct FaultTableTests {
    static let state = "/tmp/tandem-faults-\(getpid())"

    // MARK: vip

    func vipLab() throws -> VethLab {
        try VethLab(localAddresses: ["198.18.0.1/24"], peerAddresses: ["198.18.0.2/24"])
    }

    func addresses(_ lab: VethLab) throws -> [IPAddress] { try lab.localAddresses().map(\.address) }

    /// The announcer SIGKILLed: the address is what the resource is, so monitor stays 0; stop
    /// removes the address and finds no announcer to end.
    @Test func vipAnnouncerKilled() throws {
        let lab = try vipLab()
        let agent = AgentRunner(agent: "vip", namespace: lab.local, instance: "killed", stateDirectory: Self.state)
        let parameters = ["ip": "198.18.0.60", "arp_count": "60", "arp_interval_ms": "1000"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let record = try #require(try StateFile(path: "\(Self.state)/vip-killed").read())
        let announcer = try #require(ProcessIdentity(record["announcer"] ?? ""))
        kill(announcer.pid, SIGKILL)
        let monitor = try agent.run("monitor", parameters)
        let stop = try agent.run("stop", parameters)
        let left = try addresses(lab).contains(IPAddress("198.18.0.60")!)
        let holds = monitor.exitCode == .success && stop.exitCode == .success && !left
        FaultTable.record("vip", "announcer killed (SIGKILL)", expected: "monitor 0 (the address is up); stop 0, address gone",
                          observed: "\(FaultTable.outcome("monitor", monitor)); \(FaultTable.outcome("stop", stop)); address \(left ? "left" : "gone")",
                          holds: holds)
        #expect(holds, "\(monitor)\n\(stop)")
    }

    /// The state directory full (ENOSPC) or read-only (EROFS) under a running address: monitor
    /// goes on, a new start fails before it changes anything (its record comes first) with the
    /// reason, and stop removes the address (a record it cannot remove is said, not fatal).
    @Test(arguments: ["full", "read-only"]) func vipStateDirectory(_ fault: String) throws {
        let lab = try vipLab()
        let directory = try FaultyDirectory("\(Self.state)-vip-\(fault == "full" ? "full" : "ro")")
        let running = AgentRunner(agent: "vip", namespace: lab.local, instance: "running", stateDirectory: directory.path)
        let other = AgentRunner(agent: "vip", namespace: lab.local, instance: "other", stateDirectory: directory.path)
        let first = ["ip": "198.18.0.61", "arp_count": "1"], second = ["ip": "198.18.0.62", "arp_count": "1"]
        #expect(try running.run("start", first).exitCode == .success)
        if fault == "full" { try directory.fill() } else { try directory.makeReadOnly() }
        defer { try? directory.repair() }
        let monitor = try running.run("monitor", first)
        let start = try other.run("start", second)
        let untouched = try !addresses(lab).contains(IPAddress("198.18.0.62")!)
        let stop = try running.run("stop", first)
        let gone = try !addresses(lab).contains(IPAddress("198.18.0.61")!)
        let reason = start.exitReason ?? ""
        let clear = reason.contains(fault == "full" ? "No space left" : "Read-only file system")
        let holds = monitor.exitCode == .success && start.exitCode == .genericError && clear && untouched && stop.exitCode == .success && gone
        FaultTable.record("vip", "state directory \(fault)",
                          expected: "monitor 0; a new start 1 naming the error, nothing changed; stop 0, address gone",
                          observed: "\(FaultTable.outcome("monitor", monitor)); \(FaultTable.outcome("start", start))\(untouched ? ", nothing changed" : ", CHANGED"); \(FaultTable.outcome("stop", stop)), address \(gone ? "gone" : "LEFT")",
                          holds: holds)
        #expect(holds, "\(monitor)\n\(start)\n\(stop)")
    }

    /// A low descriptor limit: 16 is plenty for every action; with 5 (stdio and two more) a
    /// start fails naming EMFILE before it changes anything, and stop still works.
    @Test func vipDescriptorLimit() throws {
        let lab = try vipLab()
        let agent = AgentRunner(agent: "vip", namespace: lab.local, instance: "fds", stateDirectory: Self.state)
        let parameters = ["ip": "198.18.0.63", "arp_count": "2", "arp_interval_ms": "100"]
        let start = try agent.run("start", parameters, descriptorLimit: 16)
        let monitor = try agent.run("monitor", parameters, descriptorLimit: 16)
        let stop = try agent.run("stop", parameters, descriptorLimit: 16)
        let starved = try agent.run("start", parameters, descriptorLimit: 5)
        let untouched = try !addresses(lab).contains(IPAddress("198.18.0.63")!)
        let cleanup = try agent.run("stop", parameters)
        let holds = start.exitCode == .success && monitor.exitCode == .success && stop.exitCode == .success
            && starved.exitCode != .success && (starved.exitReason ?? "").contains("Too many open files") && untouched
            && cleanup.exitCode == .success
        FaultTable.record("vip", "descriptor limit 16, then 5",
                          expected: "start, monitor, stop 0 with 16; with 5 start fails naming EMFILE, nothing changed",
                          observed: "start \(start.status), monitor \(monitor.status), stop \(stop.status); \(FaultTable.outcome("start", starved))\(untouched ? ", nothing changed" : ", CHANGED")",
                          holds: holds)
        #expect(holds, "\(start)\n\(starved)")
    }

    /// The interface deleted under a running address (the veth gone): monitor fails (started
    /// here and gone is not a clean stop), a probe says stopped, stop succeeds and forgets it.
    @Test func vipInterfaceGone() throws {
        let lab = try vipLab()
        let agent = AgentRunner(agent: "vip", namespace: lab.local, instance: "gone", stateDirectory: Self.state)
        let parameters = ["ip": "198.18.0.64", "arp_count": "1"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let deleted = try Command("/sbin/ip", ["link", "del", "lab0"]).run(in: lab.local, deadline: .now + .seconds(10))
        try #require(deleted.status == 0, "\(deleted.errorOutput)")
        let monitor = try agent.run("monitor", parameters)
        let probe = try agent.run("monitor", parameters, interval: 0)
        let stop = try agent.run("stop", parameters)
        let forgotten = (try? StateFile(path: "\(Self.state)/vip-gone").read()) == .some(nil)
        let holds = monitor.exitCode == .genericError && probe.exitCode == .notRunning && stop.exitCode == .success && forgotten
        FaultTable.record("vip", "interface deleted under it", expected: "monitor 1 naming it; probe 7; stop 0, record gone",
                          observed: "\(FaultTable.outcome("monitor", monitor)); probe \(probe.status); stop \(stop.status)\(forgotten ? ", record gone" : ", RECORD LEFT")",
                          holds: holds)
        #expect(holds, "\(monitor)\n\(probe)\n\(stop)")
    }

    // MARK: mysql-mm

    /// A pair with db1 promoted, the agents' attributes on stand-ins for attrd.
    func mysqlPair(_ name: String) throws -> (MariaDBPair, [RecordedAttributes]) {
        let pair = try MariaDBPair(name: name)
        let attributes = try (1...2).map { try RecordedAttributes(directory: "\(pair.directory)/attributes\($0)", node: "db\($0)") }
        for index in 0...1 {
            let start = try pair.agent(index, environment: attributes[index].environment).run("start", pair.parameters(index))
            try #require(start.status == 0, "\(start)")
        }
        let promote = try pair.agent(0, environment: attributes[0].environment).run("promote", pair.parameters(0))
        try #require(promote.status == 0, "\(promote)")
        return (pair, attributes)
    }

    /// attrd frozen (every attrd_updater hangs) or gone (every call refused): the writer's
    /// monitor still answers 8 within a few seconds (attributes are warnings, each call inside a
    /// budget), stop still makes the server read-only and succeeds, and a promote, which cannot
    /// learn the peer's final position, refuses with the reason.
    @Test(arguments: [RecordedAttributes.Behaviour.frozen, .gone]) func mysqlAttrd(_ behaviour: RecordedAttributes.Behaviour) throws {
        let (pair, attributes) = try mysqlPair("attrd-\(behaviour.rawValue)")
        for recorder in attributes { recorder.behaviour = behaviour }
        let writer = pair.agent(0, environment: attributes[0].environment)
        let replica = pair.agent(1, environment: attributes[1].environment)
        // What was published last is kept for a minute: without it, this monitor publishes again.
        unlink(writer.stateDirectory + "/mysql-mm-mm-published")
        let began = ContinuousClock.now
        let monitor = try writer.run("monitor", pair.parameters(0), timeout: .seconds(30))
        let took = began.duration(to: .now)
        _ = try writer.run("demote", pair.parameters(0), timeout: .seconds(30))
        let promote = try replica.run("promote", pair.parameters(1), timeout: .seconds(30))
        let stop = try writer.run("stop", pair.parameters(0), timeout: .seconds(30))
        let holds = monitor.status == 8 && took < .seconds(15) && promote.status == 1
            && (promote.exitReason ?? "").contains("final position") && stop.status == 0 && pair.readOnly(0) == true
            && pair.readOnly(1) == true
        let what = behaviour == .frozen ? "attrd frozen (attrd_updater hangs)" : "attrd gone (attrd_updater refused)"
        FaultTable.record("mysql-mm", what,
                          expected: "monitor 8 within seconds, attributes warned; promote 1 (the peer's final position unknown); stop 0, read-only",
                          observed: "monitor \(monitor.status) in \(Int(took / .milliseconds(1))) ms; \(FaultTable.outcome("promote", promote)); stop \(stop.status), read_only \(pair.readOnly(0) == true ? "ON" : "OFF")",
                          holds: holds)
        #expect(holds, "\(monitor)\n\(promote)\n\(stop)")
    }

    /// The state directory full or read-only under the running writer: monitor goes on (the
    /// lag mark and publish cache are best effort), a start elsewhere fails naming the error
    /// before it changes anything, stop makes the server read-only and succeeds.
    @Test(arguments: ["full", "read-only"]) func mysqlStateDirectory(_ fault: String) throws {
        let pair = try MariaDBPair(name: "state-\(fault == "full" ? "full" : "ro")")
        let directory = try FaultyDirectory("\(Self.state)-mm-\(fault == "full" ? "full" : "ro")")
        var writer = pair.agent(0)
        writer.stateDirectory = directory.path
        var replica = pair.agent(1)
        replica.stateDirectory = directory.path
        replica.instance = "mm2"
        #expect(try writer.run("start", pair.parameters(0)).status == 0)
        #expect(try writer.run("promote", pair.parameters(0)).status == 0)
        if fault == "full" { try directory.fill() } else { try directory.makeReadOnly() }
        defer { try? directory.repair() }
        let monitor = try writer.run("monitor", pair.parameters(0))
        let start = try replica.run("start", pair.parameters(1))
        let stop = try writer.run("stop", pair.parameters(0))
        let clear = (start.exitReason ?? "").contains(fault == "full" ? "No space left" : "Read-only file system")
        let holds = monitor.status == 8 && start.status == 1 && clear && stop.status == 0 && pair.readOnly(0) == true
        FaultTable.record("mysql-mm", "state directory \(fault)",
                          expected: "monitor 8; a start 1 naming the error; stop 0, read-only",
                          observed: "monitor \(monitor.status); \(FaultTable.outcome("start", start)); stop \(stop.status), read_only \(pair.readOnly(0) == true ? "ON" : "OFF")",
                          holds: holds)
        #expect(holds, "\(monitor)\n\(start)\n\(stop)")
    }

    /// A low descriptor limit (16): libmariadb needs a socket or two; every action as usual.
    @Test func mysqlDescriptorLimit() throws {
        let pair = try MariaDBPair(name: "fds")
        let agent = pair.agent(0)
        let start = try agent.run("start", pair.parameters(0), descriptorLimit: 16)
        let promote = try agent.run("promote", pair.parameters(0), descriptorLimit: 16)
        let monitor = try agent.run("monitor", pair.parameters(0), descriptorLimit: 16)
        let demote = try agent.run("demote", pair.parameters(0), descriptorLimit: 16)
        let stop = try agent.run("stop", pair.parameters(0), descriptorLimit: 16)
        let holds = start.status == 0 && promote.status == 0 && monitor.status == 8 && demote.status == 0 && stop.status == 0
        FaultTable.record("mysql-mm", "descriptor limit 16", expected: "start, promote, monitor 8, demote, stop as usual",
                          observed: "start \(start.status), promote \(promote.status), monitor \(monitor.status), demote \(demote.status), stop \(stop.status)",
                          holds: holds)
        #expect(holds, "\(start)\n\(monitor)\n\(stop)")
    }
}
