import Addresses
import LVS
import Netlink
import Testing

@Suite struct ServiceSpecTests {
    @Test(arguments: [
        ("tcp:192.0.2.10:80", "tcp:192.0.2.10:80"),
        ("udp:192.0.2.10:53", "udp:192.0.2.10:53"),
        ("sctp:192.0.2.10:3868", "sctp:192.0.2.10:3868"),
        ("tcp:[2001:DB8::10]:443", "tcp:[2001:db8::10]:443"),
        ("fwmark:7", "fwmark:7"),
        ("fwmark:7:inet6", "fwmark:7:inet6"),
        ("fwmark:7:inet", "fwmark:7"),
    ])
    func parses(_ text: String, _ canonical: String) throws {
        #expect(try ServiceSpec(parsing: text).description == canonical)
    }

    @Test(arguments: ["", "tcp", "tcp:192.0.2.10", "tcp:192.0.2.10:0", "tcp:192.0.2.10:65536", "icmp:192.0.2.10:1",
                      "tcp:2001:db8::10:80", "tcp:[2001:db8::10]80", "tcp:[192.0.2.10]:80", "tcp:0.0.0.0:80",
                      "tcp:224.0.0.1:80", "fwmark:0", "fwmark:-1", "fwmark:1:ipx", "fwmark:x", "TCP:192.0.2.10:80",
                      "tcp:192.0.2.10:80;reboot"])
    func refuses(_ text: String) {
        #expect(throws: SpecError.self) { try ServiceSpec(parsing: text) }
    }
}

@Suite struct RealServerTests {
    let web = try! ServiceSpec(parsing: "tcp:192.0.2.10:80")
    let mark = try! ServiceSpec(parsing: "fwmark:3")

    @Test func defaultsAreDirectRoutingWeightOneServicePort() throws {
        let list = try RealServers.parse("192.0.2.11, 192.0.2.12:80", for: web)
        #expect(list.map(\.key.description) == ["192.0.2.11:80", "192.0.2.12:80"])
        #expect(list.allSatisfy { $0.forwarding == .directRouting && $0.weight == 1 })
    }

    @Test func everyOption() throws {
        let list = try RealServers.parse(
            "10.0.0.2:8080 masq 3 lthresh=10 uthresh=100, 10.0.0.3 ipip:gue:6080 0, [2001:db8::3] ipip, 10.0.0.4 ipip:gre", for: web)
        #expect(list[0].forwarding == .masquerade && list[0].port == 8080 && list[0].weight == 3)
        #expect(list[0].lowerThreshold == 10 && list[0].upperThreshold == 100)
        #expect(list[1].tunnel == IPVSDestination.Tunnel(kind: .gue, port: 6080) && list[1].weight == 0)
        #expect(list[2].forwarding == .tunnel && list[2].address.family == .inet6, "mixed family through a tunnel")
        #expect(list[3].tunnel?.kind == .gre)
        #expect(try RealServers.parse(RealServers.format(list), for: web) == list, "format and parse agree")
    }

    @Test func fwmarkRealServersMayKeepTheirPort() throws {
        let list = try RealServers.parse("10.0.0.2 gate, 10.0.0.3:8443 masq", for: mark)
        #expect(list.map(\.port) == [0, 8443])
    }

    @Test(arguments: [
        "", "10.0.0.2,", ",10.0.0.2", "10.0.0.2, ,10.0.0.3", "10.0.0.256", "10.0.0.2:99999", "10.0.0.2 route",
        "10.0.0.2 masq gate", "10.0.0.2 1 2", "10.0.0.2 70000", "10.0.0.2 -1", "10.0.0.2 lthresh=x",
        "10.0.0.2 uthresh=5 lthresh=9", "10.0.0.2 weight=3", "10.0.0.2:8080 gate", "10.0.0.2:8080 ipip",
        "[2001:db8::2]:80 gate", "10.0.0.2, 10.0.0.2:80", "127.0.0.1", "0.0.0.0", "10.0.0.2 ipip:gue",
        "10.0.0.2 ipip:gue:0", "10.0.0.2 ipip:vxlan", "10.0.0.2 masq;reboot", "2001:db8::2",
    ])
    func refuses(_ text: String) {
        #expect(throws: SpecError.self) { try RealServers.parse(text, for: web) }
    }
}
