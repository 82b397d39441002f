import Addresses
import Netlink
import OCF

/// Where the address goes: resolved once at start from the parameters and the kernel,
/// recorded, and checked by every monitor afterwards.
struct Placement {
    /// The interface that holds the address (lo for an LVS-DR real server).
    let link: Link
    let prefixLength: Int
    let label: AddressLabel?
    /// The interface that faces the network: where announcements go, whose link state
    /// counts, and (real servers) whose ARP sysctls change.
    let networkLink: Link?
}

/// What a start changed, kept in `$HA_RSCTMP/vip-<instance>` so that monitor and stop act on
/// exactly that, whatever the routes or parameters say later.
struct Record: Equatable {
    var address: IPAddress
    var interfaceIndex: Int32
    var interface: String
    var prefixLength: Int
    /// The real-server interface whose ARP sysctls this instance holds.
    var realServerInterface: InterfaceName?
    /// The background process sending the remaining announcements.
    var announcer: ProcessIdentity?

    init(address: IPAddress, placement: Placement, realServer: Bool) {
        self.address = address
        self.interfaceIndex = placement.link.index
        self.interface = placement.link.name
        self.prefixLength = placement.prefixLength
        self.realServerInterface = realServer && address.family == .inet ? placement.networkLink.flatMap { InterfaceName($0.name) } : nil
    }

    /// Reads a record back with the checks parameters get: a damaged record names nothing
    /// (and an interface name read here ends up in a /proc/sys path).
    init?(_ values: [String: String]) {
        guard let address = values["address"].flatMap({ IPAddress($0) }),
              let index = values["ifindex"].flatMap({ Int32($0) }),
              let interface = values["interface"],
              let prefix = values["prefix"].flatMap({ Int($0) })
        else { return nil }
        self.address = address
        self.interfaceIndex = index
        self.interface = interface
        self.prefixLength = prefix
        self.realServerInterface = values["realserver_interface"].flatMap { InterfaceName($0) }
        self.announcer = ProcessIdentity(values["announcer"] ?? "")
    }

    static func load(from file: StateFile) throws -> Record? {
        guard let values = try file.read() else { return nil }
        return Record(values)
    }

    func save(to file: StateFile) throws {
        try file.write([("address", address.description), ("ifindex", String(interfaceIndex)),
                        ("interface", interface), ("prefix", String(prefixLength)),
                        ("realserver_interface", realServerInterface?.rawValue ?? ""),
                        ("announcer", announcer?.description ?? "")])
    }

    func matches(_ held: InterfaceAddress) -> Bool {
        held.address == address && held.interfaceIndex == interfaceIndex && held.prefixLength == prefixLength
    }
}
