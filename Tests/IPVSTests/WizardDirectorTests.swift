import Addresses
import Glibc
import Labs
import Netlink
import OCF
import OCFTesting
import Testing

/// The "LVS director (Tandem)" wizard (`docs/wizards/tandem-lvs-director`, installed in the lab
/// node's /usr/share/crmsh/scripts) applied for real with `crm script run`, in a one-node lab
/// inside the IPVS guest: the group (VIP, IPVS service, health check) runs, the kernel holds the
/// service as the wizard's parameters say, the health check quiesces a dead real server, and the
/// optional connection sync runs its master beside the group. (Listing, verify, dry runs and
/// refused input: `WizardTests`, on the host.)
@Suite(.serialized, .enabled(if: IPVSFacility.available && PacemakerLabFacility.available))
struct WizardDirectorTests {
    @Test func directorWizardRunsTheGroupTheCheckAndTheSyncMaster() throws {
        let slow = PacemakerLab.slowness
        let lab = try PacemakerLab(nodes: 1, name: "wizard-director")
        defer { lab.down() }
        let node = try lab.namespace("node1")
        let address = IPAddress("198.18.0.1")!
        var servers: [TCPResponder?] = try [9001, 9002].map { port in
            try TCPResponder(in: node, address: address, port: UInt16(port), name: "rs-\(port)")
        }
        let run = try lab.exec("node1", ["crm", "script", "run", "tandem-lvs-director", "id=director", "vip=198.18.0.50",
                                         "service=tcp:198.18.0.50:80", "realservers=198.18.0.1:9001 masq, 198.18.0.1:9002 masq",
                                         "check=tcp", "virtual-ip:cidr_netmask=24", "virtual-ip:nic=eth0", "ipvs:scheduler=rr",
                                         "healthcheck:interval=500ms", "healthcheck:timeout=1s", "healthcheck:rise=2", "healthcheck:fall=2",
                                         "sync:interface=eth0", "sync:syncid=7"],
                               timeout: .seconds(120 * slow))
        #expect(run.status == 0, "\(run.output)\(run.errorOutput)")
        #expect(try lab.exec("node1", ["crm_resource", "--wait", "--timeout=\(180 * slow)"], timeout: .seconds(200 * slow)).status == 0,
                "\(lab.status())")

        // The group and the sync master run; the kernel has what the wizard was given.
        let status = lab.status()
        #expect(status.contains("Resource Group: director:") && status.contains("Promoted: [ node1 ]"), "\(status)")
        let addresses = try lab.exec("node1", ["ip", "-o", "-4", "addr", "show", "dev", "eth0"]).output
        #expect(addresses.contains(" 198.18.0.50/24 "), "\(addresses)")
        let identity = IPVSService.Identity.address(.tcp, IPAddress("198.18.0.50")!, port: 80)
        let ipvs = try IPVSSocket(in: node)
        #expect(try ipvs.service(identity)?.scheduler == "rr")
        func weights() throws -> [UInt16: Int32] {
            Dictionary(try IPVSSocket(in: node).destinations(of: identity).map { ($0.port, $0.weight) }) { $1 }
        }
        #expect(try waitUntil(deadline: .now + .seconds(30 * slow)) { try weights() == [9001: 1, 9002: 1] }, "\(String(describing: try? weights()))")
        let daemons = try ipvs.daemons()
        #expect(daemons.contains { $0.state == .master && $0.interface == "eth0" && $0.syncID == 7 }, "\(daemons)")

        // The wizard's health check at work: a dead real server is quiesced.
        servers[1] = nil
        #expect(try waitUntil(deadline: .now + .seconds(30 * slow)) { try weights() == [9001: 1, 9002: 0] }, "\(String(describing: try? weights()))")

        // tandem status on the node shows what Pacemaker runs there, by resource name.
        var view = ""
        let shown = try waitUntil(deadline: .now + .seconds(10 * slow)) {
            view = try lab.exec("node1", [AgentRunner.path(of: "tandem"), "status"]).output
            return view.contains("198.18.0.1:9002  nat  1       0    ")
        }
        print("tandem status on node1:\n\(view)")
        #expect(shown, "\(view)")
        #expect(view.contains("  director-vip  198.18.0.50/24  eth0       held   GARP on eth0"), "\(view)")
        #expect(view.contains("IPVS service tcp:198.18.0.50:80 (director-service, rr)"), "\(view)")
        #expect(view.contains("  checked by director-check: tcp, daemon running, "), "\(view)")
        #expect(view.split(separator: "\n").contains { $0.hasPrefix("  198.18.0.1:9002") && $0.contains(" down ") }, "\(view)")
        #expect(view.contains("  director-sync  eth0       7       master"), "\(view)")
        withExtendedLifetime(servers) {}
    }
}
