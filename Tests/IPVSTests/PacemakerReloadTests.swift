import Addresses
import Glibc
import Labs
import Netlink
import OCF
import OCFTesting
import Testing

/// OCF 1.1 reload under a real Pacemaker (a one-node lab cluster inside the IPVS guest):
/// changing `realservers` of a running ipvs resource runs reload-agent — no stop, no start —
/// and a connection opened through the virtual service before the change keeps working.
@Suite(.serialized, .enabled(if: IPVSFacility.available && PacemakerLabFacility.available))
struct PacemakerReloadTests {
    @Test func changingRealServersRunsReloadAgent() throws {
        let lab = try PacemakerLab(nodes: 1, name: "reload-agent")
        defer { lab.down() }
        let node = try lab.namespace("node1")
        let client = try lab.namespace("client")
        // Real servers on the director itself (NAT to a local address): the lab's LAN is flat.
        let servers = try [9001, 9002].map { port in
            try TCPResponder(in: node, address: IPAddress("198.18.0.1")!, port: UInt16(port), name: "rs-\(port)")
        }

        let configure = try lab.exec("node1", ["crm", "configure", "load", "update", "-"], input: """
            primitive web-vip ocf:tandem:vip params ip=198.18.0.50 cidr_netmask=24 nic=eth0 op monitor interval=10s
            primitive web ocf:tandem:ipvs params service=tcp:198.18.0.50:80 scheduler=rr realservers="198.18.0.1:9001 masq" \\
                op monitor interval=10s timeout=60s
            group director web-vip web
            """)
        #expect(configure.status == 0, "\(configure.output)\(configure.errorOutput)")
        #expect(try lab.exec("node1", ["crm_resource", "--wait", "--timeout=180"], timeout: .seconds(200)).status == 0)
        #expect(try pacemakerLog(lab).contains("Result of start operation for web on node1: ok"))

        let connection = try #require(try TCPConnection.open(from: client, to: IPAddress("198.18.0.50")!, port: 80,
                                                            deadline: .now + .seconds(60)))
        #expect(connection.readLine(deadline: .now + .seconds(30)) == "rs-9001")

        let logged = try pacemakerLog(lab).utf8.count
        let change = try lab.exec("node1", ["crm_resource", "--resource", "web", "--set-parameter", "realservers",
                                            "--parameter-value", "198.18.0.1:9001 masq, 198.18.0.1:9002 masq"])
        #expect(change.status == 0, "\(change.output)\(change.errorOutput)")
        #expect(try lab.exec("node1", ["crm_resource", "--wait", "--timeout=180"], timeout: .seconds(200)).status == 0)

        // What the controller did since the change: reload-agent, neither stop nor start.
        let since = String(decoding: try pacemakerLog(lab).utf8.dropFirst(logged), as: UTF8.self)
        #expect(since.contains("Initiating reload-agent operation web_reload-agent_0"), "\(since)")
        #expect(since.contains("Result of reload-agent operation for web on node1: ok"))
        #expect(!since.contains("operation web_stop_0") && !since.contains("operation web_start_0"), "no restart:\n\(since)")
        let destinations = try IPVSSocket(in: node).destinations(of: .address(.tcp, IPAddress("198.18.0.50")!, port: 80))
        #expect(Set(destinations.map(\.port)) == [9001, 9002], "\(destinations)")

        // The connection opened before the change still carries data both ways.
        try connection.send("still here\n")
        #expect(connection.readLine(deadline: .now + .seconds(30)) == "still here")
        connection.close()
        withExtendedLifetime(servers) {}
    }

    /// node1's Pacemaker log (in the lab directory, where the node's /var/log is mounted from).
    func pacemakerLog(_ lab: PacemakerLab) throws -> String {
        try #require(readFile(lab.directory + "/node1/log/pacemaker/pacemaker.log"))
    }
}

/// Whether a Pacemaker lab can run here: the lab script and Pacemaker's daemons.
enum PacemakerLabFacility {
    static let available = access("/usr/sbin/pacemakerd", X_OK) == 0 && access("/usr/sbin/corosync", X_OK) == 0
}
