import Addresses
import Glibc
import HealthCheck
import LVS
import Netlink
@testable import NodeStatus
import OCF
import OCFTesting
import Testing

/// `tandem status` over records written the agents' way and a fake kernel: what it reads from
/// each file and what it shows. (The IPVS guest's tests run it against the real agents.)
@Suite struct StatusTests {
    let directory: String
    let kernel = FakeKernel()
    let service = try! ServiceSpec(parsing: "tcp:192.0.2.10:80")
    let rs1 = IPVSDestination(address: IPAddress("192.0.2.11")!, port: 80, forwarding: .directRouting, weight: 3)
    let rs2 = IPVSDestination(address: IPAddress("192.0.2.12")!, port: 80, forwarding: .directRouting, weight: 1)

    init() throws {
        var template = Array("/tmp/tandem-status-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw StateError(operation: "mkdtemp", path: "/tmp", errno: errno) }
        directory = String(cString: template)
    }

    /// A director's node: one VIP, one checked service with a server the checker quiesced, a master sync daemon.
    func writeDirectorState() throws {
        let eth0 = kernel.addLink("eth0")
        kernel.addAddress("192.0.2.10/24", on: "eth0")
        try StateFile(path: directory + "/vip-web-vip").write([
            ("address", "192.0.2.10"), ("ifindex", String(eth0.index)), ("interface", "eth0"), ("prefix", "24"),
            ("realserver_interface", ""), ("announcer", "")])
        try StateFile(path: directory + "/ipvs-web").write([("service", "tcp:192.0.2.10:80"), ("netns", "")])
        let store = HealthOverrides.Store(service: service, namespace: nil, directory: directory)
        try store.publishDesired([rs1, rs2])
        var quiesced = rs2
        quiesced.weight = 0
        _ = kernel.ipvsByHand([.addService(IPVSService(identity: service.identity, scheduler: "wlc")),
                               .addDestination(service.identity, rs1), .addDestination(service.identity, quiesced),
                               .startDaemon(IPVSSyncDaemon(state: .master, interface: "eth0", syncID: 7))])
        let configuration = DaemonConfiguration(parameters: ["services": "tcp:192.0.2.10:80", "check": "http"],
                                                stateDirectory: directory, instance: "web-check", generation: 1)
        try configuration.save(to: StateFile(path: directory + "/healthcheck-web-check.conf"))
        var daemon = DaemonStatus(daemon: ProcessIdentity(pid: getpid())!.description, heartbeat: DaemonStatus.now() - 1500,
                                  generation: 1, rounds: 12)
        daemon.targets["192.0.2.11:80"] = TargetReport(health: .up, inMaintenance: false, latencyMicroseconds: 1234, reason: "")
        daemon.targets["192.0.2.12:80"] = TargetReport(health: .down, inMaintenance: false, latencyMicroseconds: 2_000_000,
                                                       reason: "HTTP 503 \"Service Unavailable\"")
        try daemon.save(to: StateFile(path: directory + "/healthcheck-web-check.status"))
        try StateFile(path: directory + "/ipvs-sync-sync").write([
            ("netns", ""), ("interface", "eth0"), ("syncid", "7"), ("maxlen", "0"), ("group", ""), ("port", "0"), ("ttl", "1")])
    }

    @Test func director() throws {
        try writeDirectorState()
        let status = StatusCollector.collect(stateDirectory: directory, kernel: kernel)
        #expect(status.problems == [])
        #expect(status.addresses == [AddressStatus(resource: "web-vip", address: "192.0.2.10/24", interface: "eth0", held: true,
                                                   announcedOn: "eth0", arpRestrictedOn: nil, announcing: false)])
        let web = try #require(status.services.first)
        #expect(web.resource == "web" && web.service == "tcp:192.0.2.10:80" && web.inKernel && web.scheduler == "wlc")
        #expect(web.checker?.resource == "web-check" && web.checker?.check == "http" && web.checker?.running == true)
        #expect(web.checker?.firstRoundDone == true && (web.checker?.heartbeatAge ?? 0) >= 1500)
        #expect(web.realServers == [
            RealServerStatus(address: "192.0.2.11:80", forwarding: "dr", configuredWeight: 3, currentWeight: 3, activeConnections: 0,
                             inactiveConnections: 0, health: "up", reason: "", latencyMicroseconds: 1234),
            RealServerStatus(address: "192.0.2.12:80", forwarding: "dr", configuredWeight: 1, currentWeight: 0, activeConnections: 0,
                             inactiveConnections: 0, health: "down", reason: "HTTP 503 \"Service Unavailable\"", latencyMicroseconds: 2_000_000),
        ])
        #expect(status.syncDaemons == [SyncDaemonStatus(resource: "sync", netns: nil, interface: "eth0", syncID: 7, role: "master")])

        let text = StatusReport.text(status)
        #expect(text.contains("web-vip   192.0.2.10/24  eth0       held   GARP on eth0"), "\(text)")
        #expect(text.contains("IPVS service tcp:192.0.2.10:80 (web, wlc)"), "\(text)")
        #expect(text.contains("checked by web-check: http, daemon running, status written 1."), "\(text)")
        #expect(text.contains("192.0.2.12:80  dr   1       0    0       0         down    2000 ms  HTTP 503"), "\(text)")
        #expect(text.contains("192.0.2.11:80  dr   3       3    0       0         up      1.2 ms"), "\(text)")
        #expect(text.contains("sync      eth0       7       master"), "\(text)")

        let json = StatusReport.json(status)
        #expect(json.contains(#""reason": "HTTP 503 \"Service Unavailable\"""#), "\(json)")
        #expect(json.contains(#""configured_weight": 1,"#) && json.contains(#""current_weight": 0,"#), "\(json)")
        #expect(json.contains(#""role": "master""#) && json.contains(#""problems": []"#), "\(json)")
    }

    /// What went away shows: an address the kernel lost, a service deleted by hand, a dead
    /// checker, a stopped sync daemon, a damaged record.
    @Test func whatIsMissingShows() throws {
        try writeDirectorState()
        kernel.byHand { $0.namespaces[nil]?.addresses = [] }
        _ = kernel.ipvsByHand([.deleteService(service.identity), .stopDaemon(.master)])
        var daemon = try #require(try DaemonStatus.load(from: StateFile(path: directory + "/healthcheck-web-check.status")))
        daemon.daemon = "999999@1"
        try daemon.save(to: StateFile(path: directory + "/healthcheck-web-check.status"))
        try StateFile(path: directory + "/vip-broken").write([("address", "not an address")])
        let status = StatusCollector.collect(stateDirectory: directory, kernel: kernel)
        #expect(status.addresses.map(\.held) == [false])
        #expect(status.problems == ["\(directory)/vip-broken: not a record this version reads"])
        let web = try #require(status.services.first)
        #expect(!web.inKernel && web.checker?.running == false)
        #expect(web.realServers.map(\.currentWeight) == [nil, nil])
        #expect(status.syncDaemons.map(\.role) == ["stopped"])
        let text = StatusReport.text(status)
        #expect(text.contains("MISSING") && text.contains("NOT IN THE KERNEL") && text.contains("DAEMON NOT RUNNING"), "\(text)")
        #expect(text.contains("absent"), "\(text)")
    }

    /// An LVS-DR real server's address is on lo and never announced; no state directory at all
    /// means nothing runs (no error).
    @Test func realServerAndEmptyNode() throws {
        let lo = kernel.addLink("lo")
        kernel.addAddress("192.0.2.10/32", on: "lo")
        try StateFile(path: directory + "/vip-rs").write([
            ("address", "192.0.2.10"), ("ifindex", String(lo.index)), ("interface", "lo"), ("prefix", "32"),
            ("realserver_interface", "eth1"), ("announcer", "")])
        let status = StatusCollector.collect(stateDirectory: directory, kernel: kernel)
        #expect(status.addresses.first?.announcedOn == nil && status.addresses.first?.arpRestrictedOn == "eth1")
        #expect(StatusReport.text(status).contains("no: LVS-DR real server, ARP restricted on eth1"))

        let none = StatusCollector.collect(stateDirectory: directory + "/absent", kernel: kernel)
        #expect(none.problems == [])
        #expect(StatusReport.text(none).hasPrefix("No Tandem resource runs on this node"))
    }
}
