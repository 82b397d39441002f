import Addresses
import Netlink
import OCF
import OCFTesting

/// The LVS data-path topology of the IPVS tests, in throw-away namespaces built over netlink:
///
///     client  c0 10.0.1.2/24 ── r0 10.0.1.1/24  router ─┐ lan 192.168.100.254
///                               director  lan 192.168.100.1 (+ VIPs on d0/lo) ─┤ bridge br0
///                               rs1       lan 192.168.100.2 ──────────────────┤ (namespace "switch")
///                               rs2       lan 192.168.100.3 ──────────────────┘
///     director sync0 10.0.9.1/24 ── sync0 10.0.9.2/24 backup director
///
/// The router sends VIP traffic to the director. The real servers' replies leave through the
/// director in NAT mode (it must undo the translation) and through the router in direct-routing
/// mode (they carry the VIP as source, which the director would drop as its own address).
public final class LVSLab {
    public enum Mode { case nat, directRouting }

    public let client: NetworkNamespace
    public let router: NetworkNamespace
    public let director: NetworkNamespace
    public let realServers: [NetworkNamespace]
    public let backupDirector: NetworkNamespace
    let lanSwitch: NetworkNamespace

    public static let clientAddress = IPAddress("10.0.1.2")!
    public static let directorAddress = IPAddress("192.168.100.1")!
    public static let routerAddress = IPAddress("192.168.100.254")!
    public static let lan = InterfaceName("lan")!
    public static let syncInterface = InterfaceName("sync0")!
    /// The real servers' own addresses on the LAN.
    public static let realServerAddresses = [IPAddress("192.168.100.2")!, IPAddress("192.168.100.3")!]

    /// - Parameter mode: which way the real servers' replies go (their default route).
    public init(mode: Mode = .nat) throws {
        client = try NetworkNamespace.create()
        router = try NetworkNamespace.create()
        director = try NetworkNamespace.create()
        realServers = [try NetworkNamespace.create(), try NetworkNamespace.create()]
        backupDirector = try NetworkNamespace.create()
        lanSwitch = try NetworkNamespace.create()

        // The LAN: a bridge with one port per host.
        let switchRoutes = try RouteSocket(in: lanSwitch)
        let bridge = InterfaceName("br0")!
        try switchRoutes.addBridge(bridge)
        try switchRoutes.setLink(bridge, up: true)
        let hosts = [("router", router), ("director", director), ("rs1", realServers[0]), ("rs2", realServers[1])]
        for (name, host) in hosts {
            let port = InterfaceName("p-" + name)!
            try switchRoutes.addVethPair(port, peer: Self.lan, peerNamespace: host)
            try switchRoutes.attach(port, to: bridge)
            try switchRoutes.setLink(port, up: true)
        }
        let c0 = InterfaceName("c0")!, r0 = InterfaceName("r0")!
        try RouteSocket(in: router).addVethPair(r0, peer: c0, peerNamespace: client)
        try RouteSocket(in: director).addVethPair(Self.syncInterface, peer: Self.syncInterface, peerNamespace: backupDirector)

        try Self.configure(client, [(c0, "10.0.1.2/24")], gateway: IPAddress("10.0.1.1")!)
        try Self.configure(router, [(r0, "10.0.1.1/24"), (Self.lan, "192.168.100.254/24")])
        try Self.configure(director, [(Self.lan, "192.168.100.1/24"), (Self.syncInterface, "10.0.9.1/24")], gateway: Self.routerAddress)
        try Self.configure(backupDirector, [(Self.syncInterface, "10.0.9.2/24")])
        let realServerGateway = mode == .nat ? Self.directorAddress : Self.routerAddress
        for (index, server) in realServers.enumerated() {
            try Self.configure(server, [(Self.lan, "\(Self.realServerAddresses[index])/24")], gateway: realServerGateway)
        }
        for forwarder in [router, director] {
            try forwarder.perform { try Sysctl("net/ipv4/ip_forward").write(1) }
        }
    }

    static func configure(_ namespace: NetworkNamespace, _ interfaces: [(InterfaceName, String)], gateway: IPAddress? = nil) throws {
        try VethLab.configure(namespace, interfaces.map(\.0), addresses: interfaces, gateway: gateway)
    }

    /// Makes `address` a virtual IP of the director: on its LAN interface (IPVS only takes
    /// packets for local addresses) and routed there by the router.
    public func addVIP(_ address: IPAddress) throws {
        try VethLab.add("\(address)/32", on: Self.lan, in: director)
        try RouteSocket(in: router).addRoute(to: address, prefixLength: 32, via: Self.directorAddress)
    }

    /// The connection table of a director, as the kernel lists it in /proc/net/ip_vs_conn (the
    /// only place it is published; the test reads it, the agents never do).
    public func connectionTable(of namespace: NetworkNamespace) throws -> String {
        try namespace.perform { readFile("/proc/thread-self/net/ip_vs_conn") ?? "" }
    }

    /// An IPv4 address as /proc/net/ip_vs_conn writes it: eight upper-case hex digits.
    public static func connectionTableForm(_ address: IPv4Address) -> String {
        address.bytes.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }
}
