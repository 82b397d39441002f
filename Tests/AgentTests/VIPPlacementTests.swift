import Addresses
import Netlink
import OCF
import Testing
@testable import vip

/// Where vip puts an address, as a pure function of the parameters and one kernel snapshot.
@Suite struct VIPPlacementTests {
    static let lo = Link(index: 1, name: "lo", flags: [.up], operationalState: .unknown, hardwareType: 772, hardwareAddress: [], mtu: 65536)
    static let eth0 = Link(index: 2, name: "eth0", flags: [.up], operationalState: .up, hardwareType: 1,
                           hardwareAddress: [2, 0, 0, 0, 0, 1], mtu: 1500)
    static let eth1 = Link(index: 3, name: "eth1", flags: [.up], operationalState: .up, hardwareType: 1,
                           hardwareAddress: [2, 0, 0, 0, 0, 2], mtu: 1500)

    static func parameters(_ values: [String: String]) throws -> VIPParameters {
        try VIPParameters.load(from: Environment(values.reduce(into: [:]) { $0["OCF_RESKEY_" + $1.key] = $1.value }))
    }

    static func address(_ text: String, _ prefix: Int, on link: Link) -> InterfaceAddress {
        InterfaceAddress(interfaceIndex: link.index, address: IPAddress(text)!, prefixLength: prefix)
    }

    /// eth0 holds 192.0.2.1/24, eth1 198.51.100.1/24; the route lookup says what `route` says.
    static func node(route: Route? = nil, extra: [InterfaceAddress] = []) -> PlacementSnapshot {
        PlacementSnapshot(addresses: [address("192.0.2.1", 24, on: eth0), address("198.51.100.1", 24, on: eth1)] + extra,
                       links: [lo, eth0, eth1], connectedRoute: route)
    }

    @Test func theCoveringSubnetGivesInterfaceAndPrefix() throws {
        let placement = try Placement.resolve(try Self.parameters(["ip": "198.51.100.10"]), in: Self.node())
        #expect(placement.link == Self.eth1 && placement.prefixLength == 24 && placement.networkLink == Self.eth1)
    }

    @Test func configuredValuesWin() throws {
        let placement = try Placement.resolve(try Self.parameters(["ip": "198.51.100.10", "nic": "eth0", "cidr_netmask": "28"]), in: Self.node())
        #expect(placement.link == Self.eth0 && placement.prefixLength == 28)
    }

    @Test func anAddressAlreadyHeldStaysWhereItIs() throws {
        let node = Self.node(extra: [Self.address("203.0.113.5", 25, on: Self.eth0)])
        let placement = try Placement.resolve(try Self.parameters(["ip": "203.0.113.5"]), in: node)
        #expect(placement.link == Self.eth0 && placement.prefixLength == 25)
    }

    @Test func theRouteAnswersWhenNoSubnetCovers() throws {
        let route = Route(destination: IPAddress("203.0.113.0")!, prefixLength: 26, interfaceIndex: 3)
        let placement = try Placement.resolve(try Self.parameters(["ip": "203.0.113.9"]), in: Self.node(route: route))
        #expect(placement.link == Self.eth1 && placement.prefixLength == 26)
    }

    @Test func aDefaultDeviceRouteNeverGivesSlashZero() throws {
        let route = Route(destination: IPAddress("0.0.0.0")!, prefixLength: 0, interfaceIndex: 2)
        let parameters = try Self.parameters(["ip": "203.0.113.9"])
        do {
            _ = try Placement.resolve(parameters, in: Self.node(route: route))
            Issue.record("placed on a default route")
        } catch {
            #expect(error.exitCode == .invalidArguments && error.reason.hasPrefix("cidr_netmask:"), "\(error)")
        }
    }

    @Test func nothingToGoOnNamesNic() throws {
        let parameters = try Self.parameters(["ip": "203.0.113.9"])
        do {
            _ = try Placement.resolve(parameters, in: Self.node())
            Issue.record("placed an address no interface reaches")
        } catch {
            #expect(error.exitCode == .invalidArguments && error.reason.hasPrefix("nic:"), "\(error)")
        }
    }

    @Test func aMissingNicIsThisNodesProblem() throws {
        let parameters = try Self.parameters(["ip": "192.0.2.10", "nic": "eth9"])
        do {
            _ = try Placement.resolve(parameters, in: Self.node())
            Issue.record("placed on a missing interface")
        } catch {
            #expect(error.exitCode == .invalidArguments && error.reason.contains("eth9"), "\(error)")
        }
    }

    @Test func aRealServerGoesOnLoFacingItsNetwork() throws {
        let placement = try Placement.resolve(try Self.parameters(["ip": "192.0.2.10", "lvs_dr_realserver": "true"]),
                                              in: Self.node(route: Route(destination: IPAddress("192.0.2.0")!, prefixLength: 24, interfaceIndex: 2)))
        #expect(placement.link == Self.lo && placement.prefixLength == 32 && placement.networkLink == Self.eth0)
    }

    @Test func theNetworkAndBroadcastAddressesAreRefused() throws {
        for ip in ["192.0.2.0", "192.0.2.255"] {
            let parameters = try Self.parameters(["ip": ip, "nic": "eth0"])
            #expect(throws: OCFError.self, "\(ip)") { try Placement.resolve(parameters, in: Self.node()) }
        }
    }

    @Test func theSameInputsGiveTheSamePlacement() throws {
        let parameters = try Self.parameters(["ip": "198.51.100.10", "iflabel": "web"])
        #expect(try Placement.resolve(parameters, in: Self.node()) == Placement.resolve(parameters, in: Self.node()))
    }
}
