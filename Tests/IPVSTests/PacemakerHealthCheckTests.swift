import Addresses
import Glibc
import Labs
import Netlink
import OCF
import OCFTesting
import Testing

/// The health checker under a real Pacemaker (a one-node lab cluster inside the IPVS guest,
/// the daemon in the node's /usr/libexec/tandem): grouped after its ipvs resource, it publishes
/// the number of healthy real servers as a node attribute for placement rules, follows a real
/// server's failure and return, and removes the attribute when it stops.
@Suite(.serialized, .enabled(if: IPVSFacility.available && PacemakerLabFacility.available))
struct PacemakerHealthCheckTests {
    @Test func theNodeAttributeCountsHealthyServers() throws {
        let lab = try PacemakerLab(nodes: 1, name: "healthcheck-attribute")
        defer { lab.down() }
        let node = try lab.namespace("node1")
        let address = IPAddress("198.18.0.1")!
        var servers: [TCPResponder?] = try [9001, 9002].map { port in
            try TCPResponder(in: node, address: address, port: UInt16(port), name: "rs-\(port)")
        }
        let configure = try lab.exec("node1", ["crm", "configure", "load", "update", "-"], input: """
            primitive web-vip ocf:tandem:vip params ip=198.18.0.50 cidr_netmask=24 nic=eth0 op monitor interval=10s
            primitive web ocf:tandem:ipvs params service=tcp:198.18.0.50:80 scheduler=rr \\
                realservers="198.18.0.1:9001 masq, 198.18.0.1:9002 masq" op monitor interval=10s timeout=60s
            primitive web-check ocf:tandem:healthcheck params services=tcp:198.18.0.50:80 check=tcp interval=500ms \\
                timeout=1s rise=2 fall=2 attribute=web_healthy op monitor interval=5s timeout=30s
            group director web-vip web web-check
            """)
        #expect(configure.status == 0, "\(configure.output)\(configure.errorOutput)")
        #expect(try lab.exec("node1", ["crm_resource", "--wait", "--timeout=180"], timeout: .seconds(200)).status == 0)
        #expect(try waitUntil(deadline: .now + .seconds(60)) { try attribute(lab) == "2" }, "\(shown(lab))")

        let identity = IPVSService.Identity.address(.tcp, IPAddress("198.18.0.50")!, port: 80)
        // A real server goes: quiesced in the kernel, one healthy server left.
        servers[1] = nil
        #expect(try waitUntil(deadline: .now + .seconds(30)) { try attribute(lab) == "1" }, "\(shown(lab))")
        let weights = try IPVSSocket(in: node).destinations(of: identity).map { ($0.port, $0.weight) }
        #expect(weights.contains { $0 == (9002, 0) } && weights.contains { $0 == (9001, 1) }, "\(weights)")

        // It comes back.
        servers[1] = try TCPResponder(in: node, address: address, port: 9002, name: "rs-9002")
        #expect(try waitUntil(deadline: .now + .seconds(30)) { try attribute(lab) == "2" }, "\(shown(lab))")

        // attrd frozen: the verdict still reaches the kernel at once and the checker's monitor
        // stays 0 (attributes are published off the checks' way); once attrd answers again the
        // attribute catches up (retried until it succeeds).
        let attrd = try lab.exec("node1", ["pidof", "pacemaker-attrd"]).output.split(whereSeparator: { $0 == " " || $0 == "\n" }).first.map(String.init) ?? ""
        try #require(!attrd.isEmpty)
        #expect(try lab.exec("node1", ["kill", "-STOP", attrd]).status == 0)
        servers[1] = nil
        let quiesced = try waitUntil(deadline: .now + .seconds(30)) {
            try IPVSSocket(in: node).destinations(of: identity).contains { $0.port == 9002 && $0.weight == 0 }
        }
        let monitor = try lab.exec("node1", ["crm_resource", "--force-check", "-r", "web-check"], timeout: .seconds(60))
        #expect(try lab.exec("node1", ["kill", "-CONT", attrd]).status == 0)
        let caughtUp = try waitUntil(deadline: .now + .seconds(60)) { try attribute(lab) == "1" }
        #expect(quiesced && monitor.status == 0 && caughtUp, "\(monitor.output)\(monitor.errorOutput) \(shown(lab))")
        FaultTable.record("healthcheck", "pacemaker-attrd frozen (SIGSTOP), a real server dies meanwhile",
                          expected: "the server quiesced at once; monitor 0; the attribute 1 once attrd answers again",
                          observed: "quiesced: \(quiesced); monitor \(monitor.status); attribute \(caughtUp ? "1 after SIGCONT" : shown(lab))",
                          holds: quiesced && monitor.status == 0 && caughtUp)
        servers[1] = try TCPResponder(in: node, address: address, port: 9002, name: "rs-9002")
        #expect(try waitUntil(deadline: .now + .seconds(30)) { try attribute(lab) == "2" }, "\(shown(lab))")

        // Stopped by Pacemaker: the attribute goes with it.
        #expect(try lab.exec("node1", ["crm", "resource", "stop", "web-check"]).status == 0)
        #expect(try lab.exec("node1", ["crm_resource", "--wait", "--timeout=120"], timeout: .seconds(150)).status == 0)
        #expect(try waitUntil(deadline: .now + .seconds(30)) { try attribute(lab) == nil }, "\(shown(lab))")
        withExtendedLifetime(servers) {}
    }

    /// node1's `web_healthy` as pacemaker-attrd holds it; `nil` when it has none.
    func attribute(_ lab: PacemakerLab) throws -> String? {
        let query = try lab.exec("node1", ["attrd_updater", "--query", "--name", "web_healthy", "--node", "node1"])
        // name="web_healthy" host="node1" value="2"
        let parts = query.output.split(separator: "\"", omittingEmptySubsequences: false)
        guard query.status == 0, let key = parts.firstIndex(where: { $0.hasSuffix("value=") }), key + 1 < parts.count,
              !parts[key + 1].isEmpty else { return nil }
        return String(parts[key + 1])
    }

    func shown(_ lab: PacemakerLab) -> String { ((try? attribute(lab)) ?? nil) ?? "none" }
}
