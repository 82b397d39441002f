import OCF
import OCFTesting
import Testing

/// Configurations vip must refuse before it looks at the system: each is OCF_ERR_CONFIGURED
/// with a reason that names the parameter. (The same table runs against a real namespace,
/// start included, in the integration tests.)
@Suite struct VIPConfigurationTests {
    static let cases: [(parameters: [String: String], parameter: String)] = [
        (["ip": "999.1.1.1"], "ip"),
        (["ip": "192.0.2.1/24"], "ip"),
        (["ip": "0.0.0.0"], "ip"),
        (["ip": "127.0.0.5"], "ip"),
        (["ip": "224.0.0.5"], "ip"),
        (["ip": "fe80::1"], "ip"),
        (["ip": "192.0.2.0", "cidr_netmask": "24"], "ip"),
        (["ip": "192.0.2.10", "cidr_netmask": "33"], "cidr_netmask"),
        (["ip": "2001:db8::10", "cidr_netmask": "129"], "cidr_netmask"),
        (["ip": "2001:db8::10", "cidr_netmask": "255.255.0.0"], "cidr_netmask"),
        (["ip": "192.0.2.10", "cidr_netmask": "255.0.255.0"], "cidr_netmask"),
        (["ip": "192.0.2.10", "nic": "eth0;reboot"], "nic"),
        (["ip": "192.0.2.10", "nic": "lo"], "nic"),
        (["ip": "2001:db8::10", "broadcast": "192.0.2.255"], "broadcast"),
        (["ip": "2001:db8::10", "iflabel": "web"], "iflabel"),
        (["ip": "192.0.2.10", "nodad": "true"], "nodad"),
        (["ip": "192.0.2.10", "lvs_dr_realserver": "true", "cidr_netmask": "24"], "cidr_netmask"),
        (["ip": "192.0.2.10", "lvs_dr_realserver": "true", "arp_refresh_on_monitor": "yes"], "arp_refresh_on_monitor"),
        (["ip": "192.0.2.10", "arp_count": "101"], "arp_count"),
        (["ip": "192.0.2.10", "arp_interval_ms": "5"], "arp_interval_ms"),
        (["ip": "192.0.2.10", "arp_mode": "gratuitous"], "arp_mode"),
        (["ip": "192.0.2.10", "preferred_lft": "-1"], "preferred_lft"),
        (["ip": "192.0.2.10", "check_link": "sometimes"], "check_link"),
        ([:], "ip"),
    ]

    @Test(arguments: cases)
    func refused(_ parameters: [String: String], _ parameter: String) throws {
        let runner = AgentRunner(agent: "vip", stateDirectory: "/tmp/tandem-agenttests")
        let result = try runner.run("validate-all", parameters)
        #expect(result.exitCode == .notConfigured, "\(result)")
        #expect(result.exitReason?.hasPrefix(parameter + ":") == true, "\(result)")
    }

    /// A parameter vip does not know (a leftover, crmsh's trace_ra) is a warning, never a refusal.
    @Test func unknownParametersAreWarnings() throws {
        let runner = AgentRunner(agent: "vip", stateDirectory: "/tmp/tandem-agenttests")
        let result = try runner.run("validate-all", ["ip": "192.0.2.10", "nic": "lo", "lvs_dr_realserver": "true",
                                                     "ipaddr": "192.0.2.11", "trace_dir": "/nonexistent"])
        #expect(result.errorOutput.contains("WARNING: vip(test): ipaddr is not a parameter of vip; ignored"), "\(result)")
        #expect(!result.errorOutput.contains("trace_dir"), "tracing parameters belong to the framework")
        #expect(result.exitCode != .notConfigured, "\(result)")
    }
}
