import Addresses
import AgentRecords
import Netlink
import OCF
import OCFNetlink

/// Where the address goes: resolved at start from the parameters and one kernel snapshot,
/// recorded, and checked by every monitor afterwards.
struct Placement: Equatable {
    /// The interface that holds the address (lo for an LVS-DR real server).
    let link: Link
    let prefixLength: Int
    let label: AddressLabel?
    /// The interface that faces the network: where announcements go, whose link state
    /// counts, and (real servers) whose ARP sysctls change.
    let networkLink: Link?
}

/// What placement reads of the kernel, read once: the address dump, the links placement may
/// name (`nic`, the interfaces that hold the address or a subnet covering it, the route's, lo)
/// and the directly connected route the kernel would use for the address.
struct PlacementSnapshot {
    var addresses: [InterfaceAddress]
    var links: [Link]
    var connectedRoute: Route?

    static func read(for parameters: VIPParameters, from routes: any AddressTable) throws -> PlacementSnapshot {
        let ip = parameters.ip
        let addresses = try netlink("listing addresses") { try routes.addresses() }
        var links: [Link] = []
        if let nic = parameters.nic, let link = try netlink("looking up \(nic)", { try routes.link(named: nic) }) {
            links.append(link)
        }
        // What the rules can still use: with nic set, only a prefix may come from the route
        // (the holders' and subnets' prefixes need no link).
        var connected: Route?
        if parameters.nic == nil || (!parameters.lvsDRRealServer && parameters.cidrNetmask == nil) {
            let route = try netlink("looking up the route to \(ip)") { try routes.route(to: ip) }
            connected = route?.isDirectlyConnected == true ? route : nil
        }
        var indexes: [Int32] = parameters.lvsDRRealServer ? [Link.loopbackIndex] : []
        if parameters.nic == nil {
            indexes += Placement.holders(of: parameters, in: addresses).map(\.interfaceIndex)
                + Placement.coveringSubnets(of: ip, in: addresses).map(\.interfaceIndex)
            if let index = connected?.interfaceIndex { indexes.append(index) }
        }
        for index in indexes where !links.contains(where: { $0.index == index }) {
            if let link = try netlink("looking up interface \(index)", { try routes.link(index: index) }) { links.append(link) }
        }
        return PlacementSnapshot(addresses: addresses, links: links, connectedRoute: connected)
    }

    func link(_ index: Int32?) -> Link? { links.first { $0.index == index } }
    func link(named name: InterfaceName) -> Link? { links.first { $0.name == name.rawValue } }
}

extension Placement {
    /// Where the parameters put the address, given what the kernel holds: a pure function.
    /// - Throws: `OCF_ERR_ARGS` naming the parameter to set when this node has no answer,
    ///   `OCF_ERR_INSTALLED` without lo, `OCF_ERR_CONFIGURED` for a label that cannot fit.
    static func resolve(_ parameters: VIPParameters, in kernel: PlacementSnapshot) throws(OCFError) -> Placement {
        try parameters.lvsDRRealServer ? realServer(parameters, kernel) : network(parameters, kernel)
    }

    /// The addresses that may be this resource's: an address on lo is the VIP only for an
    /// LVS-DR real server (otherwise it is a real-server address of another resource, or the
    /// admin's, and not ours to report or remove).
    static func holders(of parameters: VIPParameters, in addresses: [InterfaceAddress]) -> [InterfaceAddress] {
        addresses.filter { $0.address == parameters.ip && (parameters.lvsDRRealServer || $0.interfaceIndex != Link.loopbackIndex) }
    }

    /// The node's own subnets that contain the address: an address of another interface
    /// whose prefix covers it (what the connected route says, read from the address dump —
    /// and right even when the address itself is already local somewhere, where the kernel's
    /// route lookup answers with the local table instead).
    static func coveringSubnets(of ip: IPAddress, in addresses: [InterfaceAddress]) -> [InterfaceAddress] {
        addresses.filter { held in
            held.address != ip && held.address.family == ip.family && held.interfaceIndex != Link.loopbackIndex
                && held.prefixLength > 0 && held.prefixLength < ip.maximumPrefixLength
                && held.address.covers(ip, prefixLength: held.prefixLength)
        }.sorted { $0.prefixLength > $1.prefixLength }
    }

    private static func network(_ parameters: VIPParameters, _ kernel: PlacementSnapshot) throws(OCFError) -> Placement {
        let ip = parameters.ip
        let holders = holders(of: parameters, in: kernel.addresses)
        let subnets = coveringSubnets(of: ip, in: kernel.addresses)
        let route = kernel.connectedRoute
        let link: Link
        if let nic = parameters.nic {
            guard let named = kernel.link(named: nic) else {
                throw OCFError.invalidArguments("nic: interface \(nic) does not exist on this node")
            }
            link = named
        } else if let held = holders.first, let holder = kernel.link(held.interfaceIndex) {
            link = holder
        } else if let subnet = subnets.first, let owner = kernel.link(subnet.interfaceIndex) {
            link = owner
        } else if let routed = kernel.link(route?.interfaceIndex) {
            link = routed
        } else {
            throw OCFError.invalidArguments("nic: no interface on this node has a connected route to \(ip); set nic and cidr_netmask")
        }

        let prefix: Int
        if let configured = parameters.cidrNetmask {
            prefix = configured.length
        } else if let held = holders.first(where: { $0.interfaceIndex == link.index }) {
            prefix = held.prefixLength
        } else if let subnet = subnets.first(where: { $0.interfaceIndex == link.index }) {
            prefix = subnet.prefixLength
        } else if let route, route.interfaceIndex == link.index {
            // A device route without a prefix (`default dev eth0`) says nothing about the subnet:
            // a /0 address would claim every address there is.
            guard route.prefixLength > 0 else {
                throw OCFError.invalidArguments("cidr_netmask: the route to \(ip) on \(link.name) is a default route (prefix 0); set cidr_netmask")
            }
            prefix = route.prefixLength
        } else {
            throw OCFError.invalidArguments("cidr_netmask: no connected route to \(ip) on \(link.name) to take the prefix from; set cidr_netmask")
        }
        if case .v4(let v4) = ip, prefix <= 30, let broadcast = v4.broadcast(prefixLength: prefix) {
            let network = IPv4Address(broadcast.value & IPv4Address.netmask(prefixLength: prefix).value)
            if v4 == network || v4 == broadcast {
                throw OCFError.invalidArguments("ip: \(ip) is the network or broadcast address of its /\(prefix) on \(link.name)")
            }
        }
        return Placement(link: link, prefixLength: prefix, label: try label(parameters, on: link), networkLink: link)
    }

    private static func realServer(_ parameters: VIPParameters, _ kernel: PlacementSnapshot) throws(OCFError) -> Placement {
        let ip = parameters.ip
        guard let loopback = kernel.link(Link.loopbackIndex) else {
            throw OCFError.notInstalled("lvs_dr_realserver: this node has no lo interface")
        }
        var network: Link?
        if let nic = parameters.nic {
            guard let named = kernel.link(named: nic) else {
                throw OCFError.invalidArguments("nic: interface \(nic) does not exist on this node")
            }
            network = named
        } else {
            network = kernel.link(kernel.connectedRoute?.interfaceIndex)
        }
        // IPv4 needs the interface for its ARP sysctls; IPv6 needs none.
        if network == nil && ip.family == .inet {
            throw OCFError.invalidArguments("nic: no interface on this node has a connected route to \(ip); set nic to the interface LVS-DR traffic arrives on")
        }
        return Placement(link: loopback, prefixLength: ip.maximumPrefixLength, label: try label(parameters, on: loopback),
                         networkLink: network)
    }

    private static func label(_ parameters: VIPParameters, on link: Link) throws(OCFError) -> AddressLabel? {
        guard let suffix = parameters.iflabel, let interface = InterfaceName(link.name) else { return nil }
        guard let label = AddressLabel(interface: interface, suffix: suffix) else {
            throw OCFError(parameters.nic == nil ? .invalidArguments : .notConfigured,
                           "iflabel: \(link.name):\(suffix) is longer than 15 characters")
        }
        return label
    }
}

extension AddressRecord {
    /// The record of an address this start is about to add.
    init(address: IPAddress, placement: Placement, realServer: Bool) {
        self.init(address: address, interfaceIndex: placement.link.index, interface: placement.link.name,
                  prefixLength: placement.prefixLength,
                  realServerInterface: realServer && address.family == .inet ? placement.networkLink.flatMap { InterfaceName($0.name) } : nil)
    }
}
