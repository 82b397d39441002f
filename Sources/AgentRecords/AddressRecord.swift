import Addresses
import Netlink
import OCF

/// What `ocf:tandem:vip` recorded at start in `$HA_RSCTMP/vip-<instance>`: the address as it
/// was added, so monitor and stop find exactly it whatever the parameters say by then.
public struct AddressRecord: Equatable, Sendable {
    public static let prefix = "vip-"

    public var address: IPAddress
    public var interfaceIndex: Int32
    public var interface: String
    public var prefixLength: Int
    /// The real-server interface whose ARP sysctls this instance holds.
    public var realServerInterface: InterfaceName?
    /// The background process sending the remaining announcements.
    public var announcer: ProcessIdentity?

    public init(address: IPAddress, interfaceIndex: Int32, interface: String, prefixLength: Int,
                realServerInterface: InterfaceName? = nil, announcer: ProcessIdentity? = nil) {
        self.address = address
        self.interfaceIndex = interfaceIndex
        self.interface = interface
        self.prefixLength = prefixLength
        self.realServerInterface = realServerInterface
        self.announcer = announcer
    }

    /// Reads a record back with the checks parameters get: a damaged record names nothing
    /// (and an interface name read here ends up in a /proc/sys path).
    public init?(_ values: [String: String]) {
        guard let address = values["address"].flatMap({ IPAddress($0) }),
              let index = values["ifindex"].flatMap({ Int32($0) }),
              let interface = values["interface"],
              let prefix = values["prefix"].flatMap({ Int($0) })
        else { return nil }
        self.init(address: address, interfaceIndex: index, interface: interface, prefixLength: prefix,
                  realServerInterface: values["realserver_interface"].flatMap { InterfaceName($0) },
                  announcer: ProcessIdentity(values["announcer"] ?? ""))
    }

    public var values: [(String, String)] {
        [("address", address.description), ("ifindex", String(interfaceIndex)), ("interface", interface),
         ("prefix", String(prefixLength)), ("realserver_interface", realServerInterface?.rawValue ?? ""),
         ("announcer", announcer?.description ?? "")]
    }

    /// Whether a file's values are this kind of record (an ipvs resource may be named `sync-…`).
    public static func recognises(_ values: [String: String]) -> Bool { values["address"] != nil }

    public static func load(from file: StateFile) throws(StateError) -> AddressRecord? {
        try file.read().flatMap(AddressRecord.init)
    }

    public func save(to file: StateFile) throws(StateError) { try file.write(values) }

    /// Whether an address the kernel holds is this one.
    public func matches(_ held: InterfaceAddress) -> Bool {
        held.address == address && held.interfaceIndex == interfaceIndex && held.prefixLength == prefixLength
    }
}
