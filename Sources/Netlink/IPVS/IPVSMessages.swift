internal import CNetlink
import Addresses
import Glibc

// The generic-netlink attributes of the IPVS family (linux/ip_vs.h), and how Tandem's types are
// written to and read from them. Byte order follows the kernel: ports and the IPv4 persistence
// netmask are big-endian, every other integer is in host order; the IPv6 netmask is a prefix
// length. Addresses are 16-byte `nf_inet_addr` unions, IPv4 in the first four bytes.

let IPVS_CMD_ATTR_MAX = __IPVS_CMD_ATTR_MAX - 1
let IPVS_SVC_ATTR_MAX = __IPVS_SVC_ATTR_MAX - 1
let IPVS_DEST_ATTR_MAX = __IPVS_DEST_ATTR_MAX - 1
let IPVS_DAEMON_ATTR_MAX = __IPVS_DAEMON_ATTR_MAX - 1

/// One owned generic-netlink request being built.
final class Message {
    let handle: OpaquePointer

    init(family: Int32, command: UInt8, flags: Int32 = 0) throws(NetlinkError) {
        // The largest IPVS request (a full destination) is about 150 bytes; libnl's default is a
        // page, and a batch allocates one message per change.
        guard let handle = nlmsg_alloc_size(512) else { throw NetlinkError(function: "nlmsg_alloc_size", libnlCode: -NLE_NOMEM) }
        self.handle = handle
        guard genlmsg_put(handle, 0, 0, family, 0, flags, command, UInt8(IPVS_GENL_VERSION)) != nil else {
            throw NetlinkError(function: "genlmsg_put", libnlCode: -NLE_NOMEM)
        }
    }

    deinit { nlmsg_free(handle) }

    /// Opens a nested attribute; the attributes put until `endNest` go inside it.
    func beginNest(_ type: Int) throws(NetlinkError) -> UnsafeMutablePointer<nlattr> {
        guard let start = nla_nest_start(handle, Int32(type)) else {
            throw NetlinkError(function: "nla_nest_start", libnlCode: -NLE_NOMEM)
        }
        return start
    }

    func endNest(_ start: UnsafeMutablePointer<nlattr>) throws(NetlinkError) {
        try check("nla_nest_end", nla_nest_end(handle, start))
    }

    func put8(_ type: Int, _ value: UInt8) throws(NetlinkError) { try check("nla_put_u8", nla_put_u8(handle, Int32(type), value)) }
    func put16(_ type: Int, _ value: UInt16) throws(NetlinkError) { try check("nla_put_u16", nla_put_u16(handle, Int32(type), value)) }
    func put32(_ type: Int, _ value: UInt32) throws(NetlinkError) { try check("nla_put_u32", nla_put_u32(handle, Int32(type), value)) }
    func put(_ type: Int, _ text: String) throws(NetlinkError) { try check("nla_put_string", nla_put_string(handle, Int32(type), text)) }
    func put(_ type: Int, bytes: [UInt8]) throws(NetlinkError) {
        try check("nla_put", nla_put(handle, Int32(type), Int32(bytes.count), bytes))
    }

    /// Puts an address as the 16-byte `nf_inet_addr` union the kernel reads, from a stack
    /// buffer (a batch writes thousands).
    func put(_ type: Int, address: IPAddress) throws(NetlinkError) {
        var union: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &union) { buffer in
            switch address {
            case .v4(let v4): buffer.storeBytes(of: v4.value.bigEndian, as: UInt32.self)
            case .v6(let v6): buffer.copyBytes(from: v6.bytes)
            }
        }
        let code = withUnsafeBytes(of: &union) { nla_put(handle, Int32(type), 16, $0.baseAddress) }
        try check("nla_put", code)
    }

    // MARK: Encoding

    func encode(_ operation: IPVSOperation) throws(NetlinkError) {
        switch operation {
        case .addService(let definition), .updateService(let definition):
            try service(full: definition)
        case .deleteService(let identity):
            try service(identity)
        case .addDestination(let identity, let destination), .updateDestination(let identity, let destination):
            try service(identity)
            try self.destination(destination, serviceFamily: identity.family)
        case .deleteDestination(let identity, let key):
            try service(identity)
            let nested = try beginNest(IPVS_CMD_ATTR_DEST)
            try put(IPVS_DEST_ATTR_ADDR, address: key.address)
            try put16(IPVS_DEST_ATTR_PORT, key.port.bigEndian)
            if key.address.family != identity.family {
                try put16(IPVS_DEST_ATTR_ADDR_FAMILY, UInt16(key.address.family.rawValue))
            }
            try endNest(nested)
        case .startDaemon(let daemon):
            try self.daemon(daemon)
        case .stopDaemon(let state):
            let nested = try beginNest(IPVS_CMD_ATTR_DAEMON)
            try put32(IPVS_DAEMON_ATTR_STATE, state.rawValue)
            try endNest(nested)
        case .setTimeouts(let timeouts):
            try put32(IPVS_CMD_ATTR_TIMEOUT_TCP, timeouts.tcp)
            try put32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, timeouts.tcpFin)
            try put32(IPVS_CMD_ATTR_TIMEOUT_UDP, timeouts.udp)
        }
    }

    /// The nested service attribute with the identity only (get, delete, destination requests).
    func service(_ identity: IPVSService.Identity) throws(NetlinkError) {
        let nested = try beginNest(IPVS_CMD_ATTR_SERVICE)
        try putIdentity(identity)
        try endNest(nested)
    }

    private func putIdentity(_ identity: IPVSService.Identity) throws(NetlinkError) {
        try put16(IPVS_SVC_ATTR_AF, UInt16(identity.family.rawValue))
        switch identity {
        case .address(let proto, let address, let port):
            try put16(IPVS_SVC_ATTR_PROTOCOL, proto.rawValue)
            try put(IPVS_SVC_ATTR_ADDR, address: address)
            try put16(IPVS_SVC_ATTR_PORT, port.bigEndian)
        case .firewallMark(let mark, _):
            try put32(IPVS_SVC_ATTR_FWMARK, mark)
        }
    }

    /// The nested service attribute with everything new/set requires: scheduler, flags (with
    /// a mask covering every settable flag, so the set replaces them), timeout, netmask.
    func service(full service: IPVSService) throws(NetlinkError) {
        let nested = try beginNest(IPVS_CMD_ATTR_SERVICE)
        try putIdentity(service.identity)
        try put(IPVS_SVC_ATTR_SCHED_NAME, service.scheduler)
        // struct ip_vs_flags { flags, mask }
        var flags = (service.flags.intersection(.settable).rawValue, IPVSService.Flags.settable.rawValue)
        try check("nla_put", withUnsafeBytes(of: &flags) { nla_put(handle, Int32(IPVS_SVC_ATTR_FLAGS), 8, $0.baseAddress) })
        try put32(IPVS_SVC_ATTR_TIMEOUT, service.timeout)
        switch service.netmask {
        case .mask(let mask): try put32(IPVS_SVC_ATTR_NETMASK, mask.value.bigEndian)
        case .prefixLength(let length): try put32(IPVS_SVC_ATTR_NETMASK, length)
        }
        if let engine = service.persistenceEngine { try put(IPVS_SVC_ATTR_PE_NAME, engine) }
        try endNest(nested)
    }

    func destination(_ destination: IPVSDestination, serviceFamily: AddressFamily) throws(NetlinkError) {
        let nested = try beginNest(IPVS_CMD_ATTR_DEST)
        try put(IPVS_DEST_ATTR_ADDR, address: destination.address)
        try put16(IPVS_DEST_ATTR_PORT, destination.port.bigEndian)
        try put32(IPVS_DEST_ATTR_FWD_METHOD, destination.forwarding.rawValue)
        try put32(IPVS_DEST_ATTR_WEIGHT, UInt32(bitPattern: destination.weight))
        try put32(IPVS_DEST_ATTR_U_THRESH, destination.upperThreshold)
        try put32(IPVS_DEST_ATTR_L_THRESH, destination.lowerThreshold)
        // Only for a mixed-family (tunnelled) destination: older kernels reject the attribute.
        if destination.address.family != serviceFamily {
            try put16(IPVS_DEST_ATTR_ADDR_FAMILY, UInt16(destination.address.family.rawValue))
        }
        if let tunnel = destination.tunnel, destination.forwarding == .tunnel {
            try put8(IPVS_DEST_ATTR_TUN_TYPE, tunnel.kind.rawValue)
            if tunnel.kind == .gue { try put16(IPVS_DEST_ATTR_TUN_PORT, tunnel.port.bigEndian) }
            if tunnel.flags != 0 { try put16(IPVS_DEST_ATTR_TUN_FLAGS, tunnel.flags) }
        }
        try endNest(nested)
    }

    func daemon(_ daemon: IPVSSyncDaemon) throws(NetlinkError) {
        let nested = try beginNest(IPVS_CMD_ATTR_DAEMON)
        try put32(IPVS_DAEMON_ATTR_STATE, daemon.state.rawValue)
        try put(IPVS_DAEMON_ATTR_MCAST_IFN, daemon.interface)
        try put32(IPVS_DAEMON_ATTR_SYNC_ID, UInt32(daemon.syncID))
        if daemon.maximumLength != 0 { try put16(IPVS_DAEMON_ATTR_SYNC_MAXLEN, daemon.maximumLength) }
        switch daemon.group {
        case .v4(let group)?: try put(IPVS_DAEMON_ATTR_MCAST_GROUP, bytes: group.bytes)
        case .v6(let group)?: try put(IPVS_DAEMON_ATTR_MCAST_GROUP6, bytes: group.bytes)
        case nil: break
        }
        if daemon.port != 0 { try put16(IPVS_DAEMON_ATTR_MCAST_PORT, daemon.port) }
        if daemon.ttl != 0 { try put8(IPVS_DAEMON_ATTR_MCAST_TTL, daemon.ttl) }
        try endNest(nested)
    }
}

// MARK: Decoding

/// The attributes of one level of a received message, valid while the message is.
struct Attributes {
    let table: [UnsafeMutablePointer<nlattr>?]

    func raw(_ type: Int) -> UnsafeMutablePointer<nlattr>? { type < table.count ? table[type] : nil }

    func bytes(_ type: Int) -> [UInt8]? {
        guard let attribute = raw(type), let data = nla_data(attribute) else { return nil }
        return Array(UnsafeRawBufferPointer(start: data, count: Int(nla_len(attribute))))
    }

    func u8(_ type: Int) -> UInt8? { bytes(type).flatMap { $0.count >= 1 ? $0[0] : nil } }
    func u16(_ type: Int) -> UInt16? { bytes(type).flatMap { $0.count >= 2 ? $0.withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) } : nil } }
    func u32(_ type: Int) -> UInt32? { bytes(type).flatMap { $0.count >= 4 ? $0.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } : nil } }

    func string(_ type: Int) -> String? {
        bytes(type).map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    func nested(_ type: Int, maximum: Int) -> Attributes? {
        guard let attribute = raw(type) else { return nil }
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: maximum + 1)
        guard nla_parse_nested(&table, Int32(maximum), attribute, nil) == 0 else { return nil }
        return Attributes(table: table)
    }

    /// An `nf_inet_addr` of the given family.
    func address(_ type: Int, family: AddressFamily) -> IPAddress? {
        guard let bytes = bytes(type), bytes.count >= (family == .inet ? 4 : 16) else { return nil }
        return IPAddress(bytes: bytes.prefix(family == .inet ? 4 : 16))
    }
}

extension IPVSService {
    init?(attributes: Attributes) {
        guard let familyValue = attributes.u16(IPVS_SVC_ATTR_AF),
              let family = AddressFamily(rawValue: Int32(familyValue)) else { return nil }
        if let mark = attributes.u32(IPVS_SVC_ATTR_FWMARK), mark != 0 {
            identity = .firewallMark(mark, family)
        } else {
            guard let protocolValue = attributes.u16(IPVS_SVC_ATTR_PROTOCOL), let proto = IPVSProtocol(rawValue: protocolValue),
                  let address = attributes.address(IPVS_SVC_ATTR_ADDR, family: family),
                  let port = attributes.u16(IPVS_SVC_ATTR_PORT) else { return nil }
            identity = .address(proto, address, port: UInt16(bigEndian: port))
        }
        scheduler = attributes.string(IPVS_SVC_ATTR_SCHED_NAME) ?? ""
        flags = Flags(rawValue: attributes.u32(IPVS_SVC_ATTR_FLAGS) ?? 0).intersection(.settable)
        timeout = attributes.u32(IPVS_SVC_ATTR_TIMEOUT) ?? 0
        let netmask = attributes.u32(IPVS_SVC_ATTR_NETMASK) ?? 0
        self.netmask = family == .inet ? .mask(IPv4Address(UInt32(bigEndian: netmask))) : .prefixLength(netmask)
        let engine = attributes.string(IPVS_SVC_ATTR_PE_NAME)
        persistenceEngine = engine?.isEmpty == false ? engine : nil
    }
}

extension IPVSDestination {
    init?(attributes: Attributes, serviceFamily: AddressFamily) {
        let family = attributes.u16(IPVS_DEST_ATTR_ADDR_FAMILY).flatMap { AddressFamily(rawValue: Int32($0)) } ?? serviceFamily
        guard let address = attributes.address(IPVS_DEST_ATTR_ADDR, family: family),
              let port = attributes.u16(IPVS_DEST_ATTR_PORT) else { return nil }
        let method = ForwardingMethod(rawValue: (attributes.u32(IPVS_DEST_ATTR_FWD_METHOD) ?? 0) & 0x7) ?? .masquerade
        var tunnel: Tunnel?
        if method == .tunnel {
            tunnel = Tunnel(kind: attributes.u8(IPVS_DEST_ATTR_TUN_TYPE).flatMap(Tunnel.Kind.init) ?? .ipip,
                            port: UInt16(bigEndian: attributes.u16(IPVS_DEST_ATTR_TUN_PORT) ?? 0),
                            flags: attributes.u16(IPVS_DEST_ATTR_TUN_FLAGS) ?? 0)
        }
        self.init(address: address, port: UInt16(bigEndian: port), forwarding: method,
                  weight: Int32(bitPattern: attributes.u32(IPVS_DEST_ATTR_WEIGHT) ?? 0),
                  upperThreshold: attributes.u32(IPVS_DEST_ATTR_U_THRESH) ?? 0,
                  lowerThreshold: attributes.u32(IPVS_DEST_ATTR_L_THRESH) ?? 0, tunnel: tunnel)
        activeConnections = attributes.u32(IPVS_DEST_ATTR_ACTIVE_CONNS) ?? 0
        inactiveConnections = attributes.u32(IPVS_DEST_ATTR_INACT_CONNS) ?? 0
        persistentConnections = attributes.u32(IPVS_DEST_ATTR_PERSIST_CONNS) ?? 0
    }
}

extension IPVSSyncDaemon {
    init?(attributes: Attributes) {
        guard let stateValue = attributes.u32(IPVS_DAEMON_ATTR_STATE), let state = State(rawValue: stateValue),
              let interface = attributes.string(IPVS_DAEMON_ATTR_MCAST_IFN) else { return nil }
        var group: IPAddress?
        if let bytes = attributes.bytes(IPVS_DAEMON_ATTR_MCAST_GROUP6), bytes.count == 16 {
            group = IPAddress(bytes: bytes)
        } else if let bytes = attributes.bytes(IPVS_DAEMON_ATTR_MCAST_GROUP), bytes.count == 4 {
            group = IPAddress(bytes: bytes)
        }
        self.init(state: state, interface: interface, syncID: UInt8(truncatingIfNeeded: attributes.u32(IPVS_DAEMON_ATTR_SYNC_ID) ?? 0),
                  maximumLength: attributes.u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN) ?? 0, group: group,
                  port: attributes.u16(IPVS_DAEMON_ATTR_MCAST_PORT) ?? 0, ttl: attributes.u8(IPVS_DAEMON_ATTR_MCAST_TTL) ?? 0)
    }
}
