import Addresses
import Glibc
import Labs
import Netlink
import OCF
import OCFTesting
import Testing
@testable import vip

/// The OCF contract as the ecosystem's own tools check it, and bad input refused without any
/// change to the system.
@Suite(.serialized, .enabled(if: Facilities.ready))
struct VIPContractTests {
    static let state = "/tmp/tandem-contract-\(getpid())"

    @Test func ocfTesterPasses() throws {
        let lab = try VethLab(localAddresses: ["198.18.0.1/24", "2001:db8::1/64"])
        for ip in ["198.18.0.50", "2001:db8::50"] {
            let result = try lab.run(in: lab.local, "/usr/sbin/ocf-tester",
                                     ["-n", "vip-ocf-tester", "-o", "ip=\(ip)", AgentRunner.path(of: "vip")], timeout: .seconds(120))
            // ocf-tester's exit status is unreliable; its verdict line is not.
            #expect(result.output.contains("vip passed all tests"), "\(result.output)\(result.errorOutput)")
            print("ocf-tester (ip=\(ip)): \(result.output.split(separator: "\n").last ?? "")")
        }
    }

    /// At least 30 malformed values through validate-all and start: each refused with the
    /// right code and an exit reason, and the namespace's addresses, the ARP sysctls and the
    /// state directory exactly as before.
    @Test func malformedInputChangesNothing() throws {
        let lab = try VethLab(localAddresses: ["198.18.0.1/24", "2001:db8::1/64"])
        let runner = AgentRunner(agent: "vip", namespace: lab.local, instance: "bad", stateDirectory: Self.state)
        let namespace = lab.local
        struct Snapshot: Equatable {
            let addresses: [InterfaceAddress]
            let sysctls: [Int?]
            let stateFiles: [String]
        }
        let harness = MalformedInputHarness(
            base: ["ip": "198.18.0.50"],
            run: { action, parameters in try runner.run(action, parameters) },
            snapshot: {
                Snapshot(addresses: try lab.localAddresses(),
                         sysctls: try namespace.perform {
                             ["all/arp_ignore", "all/arp_announce", "lab0/arp_ignore", "lab0/arp_announce"]
                                 .map { try? Sysctl("net/ipv4/conf/" + $0).read() }
                         },
                         stateFiles: listDirectory(Self.state))
            })

        let declarations = try parameterDeclarations(of: "vip")
        var cases = MalformedInputHarness<Snapshot>.typeViolations(for: declarations)
        cases += [
            MalformedValue(["ip": "999.1.1.1"], [.notConfigured], "out-of-range IPv4"),
            MalformedValue(["ip": "2001:db8::g"], [.notConfigured], "garbage IPv6"),
            MalformedValue(["ip": "198.18.0.50/24"], [.notConfigured], "prefix inside ip"),
            MalformedValue(["ip": "$(reboot)"], [.notConfigured], "command substitution"),
            MalformedValue(["ip": "0.0.0.0"], [.notConfigured], "unspecified"),
            MalformedValue(["ip": "224.0.0.9"], [.notConfigured], "multicast"),
            MalformedValue(["ip": "198.18.0.0", "cidr_netmask": "24"], [.notConfigured], "network address"),
            MalformedValue(["cidr_netmask": "33"], [.notConfigured], "IPv4 prefix 33"),
            MalformedValue(["ip": "2001:db8::50", "cidr_netmask": "129"], [.notConfigured], "IPv6 prefix 129"),
            MalformedValue(["cidr_netmask": "-1"], [.notConfigured], "negative prefix"),
            MalformedValue(["nic": "lab0;reboot"], [.notConfigured], "shell metacharacters in nic"),
            MalformedValue(["nic": String(repeating: "e", count: 100)], [.notConfigured], "100-character nic"),
            MalformedValue(["nic": "nosuch0"], [.invalidArguments], "nic missing on this node"),
            MalformedValue(["ip": "10.99.0.5"], [.invalidArguments], "no connected route here"),
            MalformedValue(["ip": "10.99.0.5", "nic": "lab0"], [.invalidArguments], "no prefix to take from a route"),
            MalformedValue(["ip": ""], [.notConfigured], "empty required ip"),
            MalformedValue(["ip": "2001:db8::50", "broadcast": "198.18.0.255"], [.notConfigured], "IPv6 with broadcast"),
            MalformedValue(["ip": "2001:db8::50", "iflabel": "web"], [.notConfigured], "IPv6 with label"),
            MalformedValue(["nodad": "true"], [.notConfigured], "nodad with IPv4"),
            MalformedValue(["iflabel": "a:b"], [.notConfigured], "colon in label"),
            MalformedValue(["nic": "lab0", "iflabel": "verylonglabel"], [.notConfigured], "label over 15 characters"),
            MalformedValue(["lvs_dr_realserver": "true", "cidr_netmask": "24"], [.notConfigured], "real server with a subnet prefix"),
            MalformedValue(["lvs_dr_realserver": "true", "arp_refresh_on_monitor": "true"], [.notConfigured], "real server announcing"),
            MalformedValue(["nic": "lo"], [.notConfigured], "VIP on lo without real-server mode"),
            MalformedValue(["arp_count": "-1"], [.notConfigured], "negative count"),
            MalformedValue(["arp_interval_ms": "0"], [.notConfigured], "zero interval"),
            MalformedValue(["preferred_lft": "soon"], [.notConfigured], "lifetime word"),
            MalformedValue(["arp_mode": "REQUEST"], [.notConfigured], "wrong case"),
            MalformedValue(["broadcast": "198.18.0.255", "cidr_netmask": "31"], [.notConfigured], "broadcast on a /31"),
        ]
        #expect(cases.count >= 60, "docs/testing.md says over 60: \(cases.count)")
        #expect(MalformedInputHarness<Snapshot>.uncovered(by: cases, declarations: declarations).isEmpty)
        for failure in try harness.failures(cases) { Issue.record("\(failure)") }
    }

    /// crm_resource and crmsh see the agent through Pacemaker's provider directory, in a
    /// one-node lab cluster (the provider is mounted only inside the node).
    @Test func pacemakerToolsDriveTheAgent() throws {
        let lab = try PacemakerLab(nodes: 1)
        defer { lab.down() }
        let crmResource = ["crm_resource", "--class", "ocf", "--provider", "tandem", "--agent", "vip"]

        let valid = try lab.exec("node1", ["crm_resource", "--validate", "--class", "ocf", "--provider", "tandem",
                                           "--agent", "vip", "--option", "ip=198.18.0.50"])
        #expect(valid.status == 0, "\(valid.output)\(valid.errorOutput)")
        let invalid = try lab.exec("node1", ["crm_resource", "--validate", "--class", "ocf", "--provider", "tandem",
                                             "--agent", "vip", "--option", "ip=198.18.0.50", "--option", "cidr_netmask=33"])
        #expect(invalid.status == 6)
        #expect(invalid.output.contains("cidr_netmask: 33 is out of range"), "\(invalid.output)")

        let node = try lab.namespace("node1")
        func holds() throws -> Bool { try RouteSocket(in: node).addresses().contains { $0.address == IPAddress("198.18.0.60") } }
        let option = ["--option", "ip=198.18.0.60"]
        #expect(try lab.exec("node1", ["crm_resource", "--force-check"] + crmResource.dropFirst() + option).status == 7)
        #expect(try lab.exec("node1", ["crm_resource", "--force-start"] + crmResource.dropFirst() + option).status == 0)
        #expect(try holds())
        #expect(try lab.exec("node1", ["crm_resource", "--force-check"] + crmResource.dropFirst() + option).status == 0)
        #expect(try lab.exec("node1", ["crm_resource", "--force-stop"] + crmResource.dropFirst() + option).status == 0)
        #expect(try !holds())

        let info = try lab.exec("node1", ["crm", "ra", "info", "ocf:tandem:vip"])
        #expect(info.status == 0 && info.output.contains("ip* (string)"), "\(info.output)\(info.errorOutput)")

        // Every crm example loads against the agents' meta-data and passes crm_verify.
        for example in listDirectory(repositoryRoot + "/crm-examples") where example.hasSuffix(".crm") {
            let cib = "/tmp/example-\(example).xml"
            let empty = try lab.exec("node1", ["cibadmin", "--empty"])
            #expect(empty.status == 0)
            try writeFile(cib, empty.output)  // the nodes share the host's /tmp
            // Fencing stays on, as the examples advise: a fence device stands in for the real ones
            // (crm_verify refuses a configuration with fencing on and no device).
            let fence = try lab.exec("node1", ["env", "CIB_file=" + cib, "crm", "-D", "plain", "configure", "primitive",
                                               "lab-fence", "stonith:fence_watchdog", "params", "pcmk_host_list=node1"])
            #expect(fence.status == 0, "\(fence.output)\(fence.errorOutput)")
            let load = try lab.exec("node1", ["env", "CIB_file=" + cib, "crm", "-D", "plain", "configure", "load", "update",
                                              repositoryRoot + "/crm-examples/" + example])
            #expect(load.status == 0, "\(example): \(load.output)\(load.errorOutput)")
            // What the example configures is in the CIB: its Tandem resources, or its properties.
            let text = readFile(repositoryRoot + "/crm-examples/" + example) ?? ""
            let xpath = text.contains("ocf:tandem:") ? "//primitive[@provider='tandem']" : "//nvpair[@name='priority-fencing-delay']"
            let loaded = try lab.exec("node1", ["env", "CIB_file=" + cib, "cibadmin", "--query", "--xpath", xpath])
            #expect(loaded.status == 0, "\(example): nothing of it (\(xpath)) in the CIB")
            let verify = try lab.exec("node1", ["crm_verify", "-x", cib])
            #expect(verify.status == 0, "\(example): \(verify.output)\(verify.errorOutput)")
        }

        // Node attributes through attrd_updater, as agents set them for placement rules.
        let tool = AgentRunner.path(of: "tandem-testtool")
        let xpath = "//node_state[@uname='node1']//nvpair[@name='tandem_test' and @value='42']"
        #expect(try lab.exec("node1", [tool, "attribute-update", "tandem_test", "42"]).status == 0)
        #expect(try lab.waitUntil(node: "node1", ["cibadmin", "--query", "--xpath", xpath], succeeds: true))
        #expect(try lab.exec("node1", [tool, "attribute-delete", "tandem_test"]).status == 0)
        #expect(try lab.waitUntil(node: "node1", ["cibadmin", "--query", "--xpath", xpath], succeeds: false))
    }
}

/// The parameter declarations of an agent: what its meta-data lists.
func parameterDeclarations(of agent: String) throws -> [ParameterDeclaration] {
    switch agent {
    case "vip": return VIPParameters.declarations
    default: throw LabError("no declarations for \(agent)")
    }
}

/// On a node whose kernel has no IPVS (this build host's), the IPVS agents say so: installed
/// software is missing here (hard, node-local), a probe finds nothing running, stop succeeds.
@Suite(.serialized, .enabled(if: Facilities.ready && !IPVSAvailability.here))
struct WithoutIPVSTests {
    @Test(arguments: [("ipvs", ["service": "tcp:192.0.2.10:80", "realservers": "10.0.0.2 gate"]),
                      ("ipvs-sync", ["interface": "lo"])])
    func ipvsAgentsReportNotInstalled(_ agent: String, _ parameters: [String: String]) throws {
        let runner = AgentRunner(agent: agent, instance: "no-ipvs", stateDirectory: "/tmp/tandem-no-ipvs-\(getpid())")
        for action in ["validate-all", "start"] {
            let result = try runner.run(action, parameters)
            #expect(result.exitCode == .notInstalled, "\(action): \(result)")
            #expect(result.exitReason?.contains("IPVS is not available") == true, "\(action): \(result)")
        }
        #expect(try runner.run("monitor", parameters, interval: 0).exitCode == .notRunning, "a probe: nothing runs here")
        #expect(try runner.run("monitor", parameters).exitCode == .notInstalled)
        #expect(try runner.run("stop", parameters).exitCode == .success)
    }
}

enum IPVSAvailability {
    static let here: Bool = (try? IPVSSocket()) != nil
}
