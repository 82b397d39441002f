import Addresses
import Glibc
import Labs
import Netlink
import OCF
import OCFTesting
import Testing

/// What an administrator reads in `crm_mon` after a failure: every failure provoked here, run by
/// Pacemaker itself, is listed under "Failed Resource Actions" with an exit reason that says
/// what is wrong. The table of exit reasons in docs/operations.md comes from this test's output.
@Suite(.serialized, .enabled(if: Facilities.ready))
struct ExitReasonTests {
    /// Resource, what is provoked, the exit status crm_mon shows, and words the reason must have.
    static let failures: [(resource: String, provoked: String, status: String, reason: String)] = [
        ("bad-netmask", "vip started with cidr_netmask=33", "not configured", "cidr_netmask: 33"),
        ("lost-vip", "the address deleted by hand (ip addr del)", "error", "198.18.0.82"),
        ("no-ipvs", "ipvs on a kernel without IPVS", "not installed", "IPVS"),
        ("no-sync", "ipvs-sync on a kernel without IPVS", "not installed", "IPVS"),
        ("orphan-check", "healthcheck on a kernel without IPVS", "not installed", "IPVS"),
        ("no-mysqld", "mysql-mm with no server on its socket", "error", "error 2002"),
    ]

    @Test func crmMonListsEachFailureWithItsReason() throws {
        let lab = try PacemakerLab(nodes: 1, name: "er")
        defer { lab.down() }
        try lab.configure("""
            property start-failure-is-fatal=true
            primitive bad-netmask ocf:tandem:vip params ip=198.18.0.80 cidr_netmask=33
            primitive lost-vip ocf:tandem:vip params ip=198.18.0.82 op monitor interval=2s timeout=20s
            primitive no-ipvs ocf:tandem:ipvs params service=tcp:198.18.0.81:80 realservers="198.18.0.90:80 gate"
            primitive no-sync ocf:tandem:ipvs-sync params interface=lo syncid=9
            primitive orphan-check ocf:tandem:healthcheck params services=tcp:198.18.0.83:80
            primitive no-mysqld ocf:tandem:mysql-mm params socket=/run/mysql-mm-exit-reasons.sock
            """)
        let node = try lab.namespace("node1")
        let address = IPAddress("198.18.0.82")!
        let placed = try waitUntil(deadline: .now + .seconds(60 * PacemakerLab.slowness)) {
            try RouteSocket(in: node).addresses().contains { $0.address == address }
        }
        try #require(placed, "lost-vip never started: \(lab.status())")
        let held = try #require(try RouteSocket(in: node).addresses().first { $0.address == address })
        try RouteSocket(in: node).deleteAddress(address, prefixLength: held.prefixLength, interfaceIndex: held.interfaceIndex)

        // Every failure recorded, each with its exit reason (crm_mon's XML has them as attributes).
        var failures: [String: (status: String, reason: String)] = [:]
        let recorded = try waitUntil(deadline: .now + .seconds(90 * PacemakerLab.slowness)) {
            let xml = try lab.exec("node1", ["crm_mon", "--one-shot", "--output-as=xml", "--include=failures"]).output
            failures = ExitReasonTests.parseFailures(xml)
            return Self.failures.allSatisfy { failures[$0.resource] != nil }
        }
        #expect(recorded, "missing failures: \(Self.failures.map(\.resource).filter { failures[$0] == nil }); \(lab.status())")
        for expected in Self.failures {
            guard let failure = failures[expected.resource] else { continue }
            #expect(failure.status == expected.status, "\(expected.resource): \(failure)")
            #expect(failure.reason.contains(expected.reason), "\(expected.resource): \(failure.reason)")
        }
        // The text an administrator reads, with the same reasons: printed for the table in docs/operations.md.
        let text = try lab.exec("node1", ["crm_mon", "--one-shot", "--include=failures"]).output
        print("crm_mon --one-shot --include=failures:\n\(text)")
        for expected in Self.failures {
            let line = text.split(separator: "\n").first { $0.contains("* \(expected.resource) ") }
            #expect(line?.contains(expected.reason) == true, "\(expected.resource): \(text)")
        }
    }

    /// `<failure op_key="lost-vip_monitor_2000" … exitstatus="error" exitreason="…"/>` by resource.
    static func parseFailures(_ xml: String) -> [String: (status: String, reason: String)] {
        var result: [String: (status: String, reason: String)] = [:]
        for element in xml.split(separator: "<failure ").dropFirst() {
            let attributes = element.prefix { $0 != ">" }
            func value(_ name: String) -> String? {
                guard let start = attributes.firstRange(of: " \(name)=\"") ?? attributes.firstRange(of: "\(name)=\"") else { return nil }
                let rest = attributes[start.upperBound...]
                return String(rest.prefix { $0 != "\"" })
                    .replacing("&quot;", with: "\"").replacing("&apos;", with: "'").replacing("&lt;", with: "<")
                    .replacing("&gt;", with: ">").replacing("&amp;", with: "&")
            }
            guard let key = value("op_key"), let resource = key.split(separator: "_").first else { continue }
            result[String(resource)] = (value("exitstatus") ?? "", value("exitreason") ?? "")
        }
        return result
    }
}
