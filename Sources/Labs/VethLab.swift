import Addresses
import Glibc
import Netlink
import OCF
import OCFTesting

/// Two throw-away network namespaces joined by a veth pair, built over netlink with Tandem's
/// own Netlink module: the agent acts in `local`, the test watches and reaches it from `peer`.
/// The namespaces have no names and vanish with this object (and whatever still runs in them).
public final class VethLab {
    public let local: NetworkNamespace
    public let peer: NetworkNamespace
    /// The interface names inside each namespace.
    public static let localInterface = InterfaceName("lab0")!
    public static let peerInterface = InterfaceName("peer0")!
    public var localInterface: InterfaceName { Self.localInterface }
    public var peerInterface: InterfaceName { Self.peerInterface }

    /// - Parameters:
    ///   - localAddresses, peerAddresses: addresses with prefix (`198.18.0.1/24`,
    ///     `2001:db8::1/64`); IPv6 ones are added without DAD so they are usable at once.
    public init(localAddresses: [String] = [], peerAddresses: [String] = []) throws {
        local = try NetworkNamespace.create()
        peer = try NetworkNamespace.create()
        try RouteSocket(in: local).addVethPair(Self.localInterface, peer: Self.peerInterface, peerNamespace: peer)
        try Self.configure(local, [Self.localInterface], addresses: localAddresses.map { (Self.localInterface, $0) })
        try Self.configure(peer, [Self.peerInterface], addresses: peerAddresses.map { (Self.peerInterface, $0) })
    }

    /// Brings lo and `interfaces` up, adds the addresses (`address/prefix` on an interface) and,
    /// when given, a default route.
    public static func configure(_ namespace: NetworkNamespace, _ interfaces: [InterfaceName],
                                 addresses: [(InterfaceName, String)], gateway: IPAddress? = nil) throws {
        let routes = try RouteSocket(in: namespace)
        try routes.setLink(.loopback, up: true)
        for interface in interfaces { try routes.setLink(interface, up: true) }
        for (interface, address) in addresses { try add(address, on: interface, in: namespace) }
        if let gateway { try routes.addRoute(to: .v4(IPv4Address(0)), prefixLength: 0, via: gateway) }
    }

    /// Adds `address/prefix` to an interface of a namespace (IPv6 without DAD).
    public static func add(_ text: String, on interface: InterfaceName, in namespace: NetworkNamespace) throws {
        let (routes, index, address, prefix) = try resolve(text, interface, namespace)
        try routes.add(AddressRequest(interfaceIndex: index, address: address, prefixLength: prefix,
                                      flags: address.family == .inet6 ? [.noDAD] : []))
    }

    /// Removes `address/prefix` from an interface of a namespace.
    public static func remove(_ text: String, from interface: InterfaceName, in namespace: NetworkNamespace) throws {
        let (routes, index, address, prefix) = try resolve(text, interface, namespace)
        try routes.deleteAddress(address, prefixLength: prefix, interfaceIndex: index)
    }

    private static func resolve(_ text: String, _ interface: InterfaceName, _ namespace: NetworkNamespace)
        throws -> (RouteSocket, Int32, IPAddress, Int)
    {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = IPAddress(parts[0]), let prefix = Int(parts[1]) else {
            throw LabError("not an address with a prefix: \(text)")
        }
        let routes = try RouteSocket(in: namespace)
        guard let link = try routes.link(named: interface) else { throw LabError("no \(interface)") }
        return (routes, link.index, address, prefix)
    }

    /// The addresses in the local namespace, read over netlink: the "nothing changed" snapshot.
    /// IPv6 link-local addresses are left out: the kernel adds them and runs their duplicate
    /// address detection on its own schedule after the link comes up, and no agent touches them.
    public func localAddresses() throws -> [InterfaceAddress] {
        try RouteSocket(in: local).addresses()
            .filter { if case .v6(let address) = $0.address { !address.isLinkLocal } else { true } }
            .sorted { $0.description < $1.description }
    }

    /// Runs a program inside a namespace with an argument array.
    public func run(in namespace: NetworkNamespace, _ executable: String, _ arguments: [String],
                    timeout: Duration = .seconds(20)) throws -> Command.Result {
        try Command(executable, arguments).run(in: namespace, deadline: .now + timeout)
    }
}

extension RunningCommand {
    /// The result when the command has exited (its output read to the end), else `nil` at once.
    public func waitIfExited() -> Command.Result? {
        // A zombie ("Z" after the command name in /proc/PID/stat) has exited and waits to be reaped.
        let stat = readFile("/proc/\(pid)/stat") ?? ""
        let state = stat.split(separator: ")").last?.split(separator: " ").first
        guard stat.isEmpty || state == "Z" else { return nil }
        return wait(deadline: .now + .seconds(10))
    }
}

