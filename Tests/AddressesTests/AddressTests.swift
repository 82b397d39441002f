import Addresses
import Testing

@Suite struct IPv4AddressTests {
    @Test(arguments: ["192.0.2.1", "0.0.0.0", "255.255.255.255", "10.1.2.3"])
    func roundTrips(_ text: String) throws {
        let address = try #require(IPv4Address(text))
        #expect(address.description == text)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d",
                      "1.2.3.-4", "1.2.3.4/24", "0x1.2.3.4", "1..2.3", "999999999999999999999"])
    func refusesMalformed(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test func netmasksAndBroadcasts() throws {
        #expect(IPv4Address.netmask(prefixLength: 24).description == "255.255.255.0")
        #expect(IPv4Address.netmask(prefixLength: 0).description == "0.0.0.0")
        #expect(IPv4Address.netmask(prefixLength: 32).description == "255.255.255.255")
        let address = try #require(IPv4Address("198.18.0.50"))
        #expect(address.broadcast(prefixLength: 24)?.description == "198.18.0.255")
        #expect(address.broadcast(prefixLength: 31) == nil)
        #expect(IPv4Address("255.255.255.0")?.contiguousPrefixLength == 24)
        #expect(IPv4Address("255.255.0.255")?.contiguousPrefixLength == nil)
        #expect(IPv4Address("0.0.0.0")?.contiguousPrefixLength == 0)
    }

    @Test func classification() {
        #expect(IPv4Address("127.0.0.2")!.isLoopback)
        #expect(IPv4Address("224.0.0.1")!.isMulticast)
        #expect(IPv4Address("240.0.0.1")!.isReserved)
        #expect(!IPv4Address("255.255.255.255")!.isReserved)
        #expect(IPv4Address("169.254.1.1")!.isLinkLocal)
    }
}

@Suite struct IPv6AddressTests {
    @Test(arguments: [("2001:DB8::1", "2001:db8::1"), ("::", "::"), ("fe80:0:0:0:0:0:0:1", "fe80::1"),
                      ("::ffff:192.0.2.1", "::ffff:192.0.2.1"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1")])
    func canonicalText(_ input: String, _ expected: String) throws {
        #expect(try #require(IPv6Address(input)).description == expected)
    }

    @Test(arguments: ["", ":", "2001:db8::1::2", "2001:db8::g", "[2001:db8::1]", "fe80::1%eth0", "2001:db8::1/64",
                      "1:2:3:4:5:6:7:8:9", "12345::1"])
    func refusesMalformed(_ text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func classification() {
        #expect(IPv6Address("::1")!.isLoopback)
        #expect(IPv6Address("ff02::1")!.isMulticast)
        #expect(IPv6Address("fe80::1")!.isLinkLocal)
        #expect(IPv6Address("febf::1")!.isLinkLocal)
        #expect(!IPv6Address("fec0::1")!.isLinkLocal)
        #expect(IPv6Address("::ffff:10.0.0.1")!.isIPv4Mapped)
        #expect(IPv6Address("2001:db8::1:2345")!.solicitedNodeMulticast.description == "ff02::1:ff01:2345")
    }

    @Test func eitherFamily() {
        #expect(IPAddress("2001:db8::5")?.family == .inet6)
        #expect(IPAddress("192.0.2.5")?.family == .inet)
        #expect(IPAddress("192.0.2.5")?.maximumPrefixLength == 32)
        #expect(IPAddress("garbage") == nil)
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }
}

@Suite struct NameTests {
    @Test(arguments: ["eth0", "enp0s31f6", "br-lan", "bond0.100", "veth_a", "abcdefghijklmno"])
    func acceptsInterfaceNames(_ name: String) {
        #expect(InterfaceName(name)?.rawValue == name)
    }

    @Test(arguments: ["", ".", "..", "abcdefghijklmnop", "eth0;reboot", "eth 0", "eth0:1", "eth/0", "$(id)", "eth0\n",
                      "é0", "`x`"])
    func refusesInterfaceNames(_ name: String) {
        #expect(InterfaceName(name) == nil)
    }

    @Test func labels() {
        let eth0 = InterfaceName("eth0")!
        #expect(AddressLabel(interface: eth0, suffix: "web")?.rawValue == "eth0:web")
        #expect(AddressLabel(interface: eth0, suffix: "0123456789")?.rawValue == "eth0:0123456789")
        #expect(AddressLabel(interface: eth0, suffix: "01234567890") == nil, "15 characters at most")
        #expect(AddressLabel(interface: eth0, suffix: "a b") == nil)
        #expect(AddressLabel(interface: eth0, suffix: "") == nil)
    }

    @Test func macAddresses() {
        #expect(MACAddress("00:1A:2b:3c:4d:5e")?.description == "00:1a:2b:3c:4d:5e")
        #expect(MACAddress("00:1a:2b:3c:4d") == nil)
        #expect(MACAddress("00:1a:2b:3c:4d:5g") == nil)
        #expect(MACAddress(multicast: IPv6Address.allNodes).description == "33:33:00:00:00:01")
        #expect(MACAddress.broadcast.isMulticast)
    }
}

@Suite struct SubnetTests {
    @Test func covers() {
        let network = IPAddress("198.18.0.1")!
        #expect(network.covers(IPAddress("198.18.0.250")!, prefixLength: 24))
        #expect(!network.covers(IPAddress("198.18.1.1")!, prefixLength: 24))
        #expect(network.covers(IPAddress("198.18.1.1")!, prefixLength: 23))
        #expect(network.covers(IPAddress("10.0.0.1")!, prefixLength: 0))
        #expect(!network.covers(IPAddress("2001:db8::1")!, prefixLength: 0), "never across families")
        #expect(IPAddress("2001:db8::1")!.covers(IPAddress("2001:db8::ffff")!, prefixLength: 112))
        #expect(!IPAddress("2001:db8::1")!.covers(IPAddress("2001:db8::1:0")!, prefixLength: 113))
    }
}
