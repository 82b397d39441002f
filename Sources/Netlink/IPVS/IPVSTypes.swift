import Addresses

/// An IPVS virtual service as the kernel holds it.
public struct IPVSService: Hashable, Sendable {
    /// What identifies a service: protocol, address and port, or a firewall mark.
    public enum Identity: Hashable, Sendable, CustomStringConvertible {
        case address(IPVSProtocol, IPAddress, port: UInt16)
        case firewallMark(UInt32, AddressFamily)

        public var family: AddressFamily {
            switch self {
            case .address(_, let address, _): address.family
            case .firewallMark(_, let family): family
            }
        }

        public var description: String {
            switch self {
            case .address(let proto, .v6(let address), let port): "\(proto):[\(address)]:\(port)"
            case .address(let proto, let address, let port): "\(proto):\(address):\(port)"
            case .firewallMark(let mark, let family): "fwmark:\(mark)" + (family == .inet6 ? ":inet6" : "")
            }
        }
    }

    public var identity: Identity
    /// The scheduler's kernel name: `rr`, `wlc`, `mh`, …
    public var scheduler: String
    public var flags: Flags
    /// Persistence timeout in seconds (used with `.persistent`).
    public var timeout: UInt32
    /// Persistence granularity: an IPv4 netmask, or an IPv6 prefix length.
    public var netmask: Netmask
    /// The persistence engine (`sip`), if any.
    public var persistenceEngine: String?

    public init(identity: Identity, scheduler: String, flags: Flags = [], timeout: UInt32 = 0,
                netmask: Netmask? = nil, persistenceEngine: String? = nil) {
        self.identity = identity
        self.scheduler = scheduler
        self.flags = flags
        self.timeout = timeout
        self.netmask = netmask ?? (identity.family == .inet ? .mask(IPv4Address(UInt32.max)) : .prefixLength(128))
        self.persistenceEngine = persistenceEngine
    }

    /// Service flags. The corresponding C constants are `IP_VS_SVC_F_*`.
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let persistent = Flags(rawValue: 0x0001)
        public static let onePacket = Flags(rawValue: 0x0004)
        /// Scheduler flags 1–3: `sh-fallback`/`mh-fallback` and `sh-port`/`mh-port` are 1 and 2.
        public static let scheduler1 = Flags(rawValue: 0x0008)
        public static let scheduler2 = Flags(rawValue: 0x0010)
        public static let scheduler3 = Flags(rawValue: 0x0020)
        /// What a user sets; the kernel adds `HASHED` (0x2) on its own.
        public static let settable: Flags = [.persistent, .onePacket, .scheduler1, .scheduler2, .scheduler3]
    }

    /// Persistence granularity, in the form the kernel wants for the family.
    public enum Netmask: Hashable, Sendable {
        case mask(IPv4Address)
        case prefixLength(UInt32)
    }
}

/// A transport protocol of a virtual service. The raw values are `IPPROTO_*`.
public enum IPVSProtocol: UInt16, Sendable, CustomStringConvertible {
    case tcp = 6
    case udp = 17
    case sctp = 132

    public var description: String {
        switch self {
        case .tcp: "tcp"
        case .udp: "udp"
        case .sctp: "sctp"
        }
    }
}

/// A real server (destination) of a virtual service.
public struct IPVSDestination: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public var forwarding: ForwardingMethod
    public var weight: Int32
    /// Connection limits; 0 means none.
    public var upperThreshold: UInt32
    public var lowerThreshold: UInt32
    /// Tunnel encapsulation (with `.tunnel`).
    public var tunnel: Tunnel?
    /// Counters the kernel reports; ignored in requests.
    public var activeConnections: UInt32 = 0
    public var inactiveConnections: UInt32 = 0
    public var persistentConnections: UInt32 = 0

    public init(address: IPAddress, port: UInt16, forwarding: ForwardingMethod, weight: Int32 = 1,
                upperThreshold: UInt32 = 0, lowerThreshold: UInt32 = 0, tunnel: Tunnel? = nil) {
        self.address = address
        self.port = port
        self.forwarding = forwarding
        self.weight = weight
        self.upperThreshold = upperThreshold
        self.lowerThreshold = lowerThreshold
        self.tunnel = tunnel
    }

    /// What identifies a destination within its service.
    public var key: Key { Key(address: address, port: port) }

    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public let address: IPAddress
        public let port: UInt16
        public init(address: IPAddress, port: UInt16) {
            self.address = address
            self.port = port
        }
        public var description: String {
            if case .v6(let v6) = address { return "[\(v6)]:\(port)" }
            return "\(address):\(port)"
        }
    }

    /// How packets reach the real server. The corresponding C constants are `IP_VS_CONN_F_*`.
    public enum ForwardingMethod: UInt32, Hashable, Sendable {
        case masquerade = 0
        case localNode = 1
        case tunnel = 2
        case directRouting = 3
        case bypass = 4
    }

    /// Tunnel encapsulation. The corresponding C constants are `IP_VS_CONN_F_TUNNEL_TYPE_*`.
    public struct Tunnel: Hashable, Sendable {
        public enum Kind: UInt8, Hashable, Sendable { case ipip = 0, gue = 1, gre = 2 }
        public var kind: Kind
        /// The GUE destination port.
        public var port: UInt16
        /// Checksum options. The corresponding C constants are `IP_VS_TUNNEL_ENCAP_FLAG_*`.
        public var flags: UInt16
        public init(kind: Kind, port: UInt16 = 0, flags: UInt16 = 0) {
            self.kind = kind
            self.port = port
            self.flags = flags
        }
    }

    /// The configuration part: what a request sets (counters are left out).
    public var settings: IPVSDestination {
        var copy = self
        copy.activeConnections = 0
        copy.inactiveConnections = 0
        copy.persistentConnections = 0
        return copy
    }

    public var description: String { key.description }
}

/// A connection synchronisation daemon.
public struct IPVSSyncDaemon: Hashable, Sendable {
    /// The corresponding C constants are `IP_VS_STATE_MASTER` and `IP_VS_STATE_BACKUP`.
    public enum State: UInt32, Hashable, Sendable {
        case master = 1
        case backup = 2
    }

    public var state: State
    /// The interface the multicast traffic uses.
    public var interface: String
    public var syncID: UInt8
    /// Maximum sync message length; 0 lets the kernel choose from the MTU.
    public var maximumLength: UInt16
    /// Multicast group; `nil` for the kernel's default (224.0.0.81).
    public var group: IPAddress?
    /// UDP port; 0 for the kernel's default (8848).
    public var port: UInt16
    /// Multicast TTL; 0 for the kernel's default (1).
    public var ttl: UInt8

    public init(state: State, interface: String, syncID: UInt8, maximumLength: UInt16 = 0, group: IPAddress? = nil,
                port: UInt16 = 0, ttl: UInt8 = 0) {
        self.state = state
        self.interface = interface
        self.syncID = syncID
        self.maximumLength = maximumLength
        self.group = group
        self.port = port
        self.ttl = ttl
    }
}

/// One change to the IPVS table, for `IPVSSocket.apply(_:)`.
public enum IPVSOperation: Hashable, Sendable, CustomStringConvertible {
    case addService(IPVSService)
    case updateService(IPVSService)
    case deleteService(IPVSService.Identity)
    case addDestination(IPVSService.Identity, IPVSDestination)
    case updateDestination(IPVSService.Identity, IPVSDestination)
    case deleteDestination(IPVSService.Identity, IPVSDestination.Key)
    case startDaemon(IPVSSyncDaemon)
    case stopDaemon(IPVSSyncDaemon.State)
    /// Sets the table's connection timeouts (0 leaves one as it is).
    case setTimeouts(IPVSTimeouts)

    public var description: String {
        switch self {
        case .addService(let service): "add service \(service.identity)"
        case .updateService(let service): "update service \(service.identity)"
        case .deleteService(let identity): "delete service \(identity)"
        case .addDestination(let identity, let destination): "add \(destination) to \(identity)"
        case .updateDestination(let identity, let destination): "update \(destination) of \(identity)"
        case .deleteDestination(let identity, let key): "delete \(key) from \(identity)"
        case .startDaemon(let daemon): "start the \(daemon.state) sync daemon on \(daemon.interface)"
        case .stopDaemon(let state): "stop the \(state) sync daemon"
        case .setTimeouts(let timeouts): "set the timeouts to \(timeouts.tcp) \(timeouts.tcpFin) \(timeouts.udp)"
        }
    }
}

/// The connection timeouts of an IPVS table, in seconds (`ipvsadm --set`).
public struct IPVSTimeouts: Hashable, Sendable {
    public var tcp: UInt32
    public var tcpFin: UInt32
    public var udp: UInt32
    public init(tcp: UInt32, tcpFin: UInt32, udp: UInt32) {
        self.tcp = tcp
        self.tcpFin = tcpFin
        self.udp = udp
    }
}
