internal import CNetlink
import Addresses
import Glibc

/// A generic-netlink socket to the kernel's "IPVS" family: services, destinations and sync
/// daemons, read and changed without ipvsadm.
///
/// One socket per process; it belongs to the network namespace it was created in (IPVS tables
/// are per namespace). Reads are one request each (a service get, a destination dump); changes
/// go out in batches, several messages per `sendmsg`, and every acknowledgement is checked.
public final class IPVSSocket {
    let connection: NetlinkConnection
    let family: Int32
    var socket: OpaquePointer { connection.socket }
    static let batchSize = 128

    /// Connects and resolves the IPVS family (the lookup loads `ip_vs` when it is a module).
    /// - Throws: `NetlinkError` naming `genl_ctrl_resolve(IPVS)` with kind `.notFound` when
    ///   this kernel has no IPVS.
    /// - Parameter deadline: no answer is waited for past it.
    public init(in namespace: NetworkNamespace? = nil, deadline: ContinuousClock.Instant? = nil) throws(NetlinkError) {
        connection = try NetlinkConnection(protocol: NETLINK_GENERIC, in: namespace, deadline: deadline)
        let id = genl_ctrl_resolve(connection.socket, IPVS_GENL_NAME)
        if id < 0 {
            // The kernel answers ENOENT; libnl reports it as "object not found".
            throw NetlinkError(function: "genl_ctrl_resolve(IPVS)", kind: .notFound,
                               message: "the kernel has no generic-netlink family IPVS (module ip_vs)")
        }
        family = id
        // Batches keep several requests outstanding; sequence numbers are matched here.
        nl_socket_disable_seq_check(socket)
        // Room for a whole batch of requests (a page each at most) and their acknowledgements.
        try check("nl_socket_set_buffer_size", nl_socket_set_buffer_size(socket, 1 << 20, 1 << 20))
        // Acknowledgements of failed requests without a copy of the request: smaller answers.
        var on: Int32 = 1
        setsockopt(nl_socket_get_fd(socket), 270 /* SOL_NETLINK */, 10 /* NETLINK_CAP_ACK */, &on,
                   socklen_t(MemoryLayout<Int32>.size))
    }

    // MARK: Reading

    /// The IPVS version (0x010201 is 1.2.1) and connection table size: IPVS_CMD_GET_INFO.
    public func info() throws(NetlinkError) -> (version: UInt32, connectionTableSize: UInt32) {
        var result: (UInt32, UInt32) = (0, 0)
        try request(IPVS_CMD_GET_INFO) { attributes in
            result = (attributes.u32(IPVS_INFO_ATTR_VERSION) ?? 0, attributes.u32(IPVS_INFO_ATTR_CONN_TAB_SIZE) ?? 0)
        }
        return result
    }

    /// Every virtual service: one IPVS_CMD_GET_SERVICE dump.
    public func services() throws(NetlinkError) -> [IPVSService] {
        var services: [IPVSService] = []
        try request(IPVS_CMD_GET_SERVICE, dump: true) { attributes in
            if let nested = attributes.nested(IPVS_CMD_ATTR_SERVICE, maximum: IPVS_SVC_ATTR_MAX),
               let service = IPVSService(attributes: nested) {
                services.append(service)
            }
        }
        return services
    }

    /// One virtual service, or `nil` when the kernel has none with this identity.
    public func service(_ identity: IPVSService.Identity) throws(NetlinkError) -> IPVSService? {
        var found: IPVSService?
        do throws(NetlinkError) {
            try request(IPVS_CMD_GET_SERVICE, of: identity) { attributes in
                found = attributes.nested(IPVS_CMD_ATTR_SERVICE, maximum: IPVS_SVC_ATTR_MAX).flatMap(IPVSService.init)
            }
        } catch where error.kind == .notFound {
            return nil
        }
        return found
    }

    /// The real servers of a service, with their counters: one IPVS_CMD_GET_DEST dump.
    /// Empty when the service does not exist.
    public func destinations(of identity: IPVSService.Identity) throws(NetlinkError) -> [IPVSDestination] {
        var destinations: [IPVSDestination] = []
        try request(IPVS_CMD_GET_DEST, dump: true, of: identity) { attributes in
            if let nested = attributes.nested(IPVS_CMD_ATTR_DEST, maximum: IPVS_DEST_ATTR_MAX),
               let destination = IPVSDestination(attributes: nested, serviceFamily: identity.family) {
                destinations.append(destination)
            }
        }
        return destinations
    }

    /// The running sync daemons (at most a master and a backup): one IPVS_CMD_GET_DAEMON dump.
    public func daemons() throws(NetlinkError) -> [IPVSSyncDaemon] {
        var daemons: [IPVSSyncDaemon] = []
        try request(IPVS_CMD_GET_DAEMON, dump: true) { attributes in
            if let nested = attributes.nested(IPVS_CMD_ATTR_DAEMON, maximum: IPVS_DAEMON_ATTR_MAX),
               let daemon = IPVSSyncDaemon(attributes: nested) {
                daemons.append(daemon)
            }
        }
        return daemons
    }

    /// The connection timeouts (seconds): IPVS_CMD_GET_CONFIG.
    public func timeouts() throws(NetlinkError) -> IPVSTimeouts {
        var result = IPVSTimeouts(tcp: 0, tcpFin: 0, udp: 0)
        try request(IPVS_CMD_GET_CONFIG) { attributes in
            result = IPVSTimeouts(tcp: attributes.u32(IPVS_CMD_ATTR_TIMEOUT_TCP) ?? 0,
                                  tcpFin: attributes.u32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN) ?? 0,
                                  udp: attributes.u32(IPVS_CMD_ATTR_TIMEOUT_UDP) ?? 0)
        }
        return result
    }

    // MARK: Changing

    /// Applies changes in order, in batches of many messages per `sendmsg`, and returns each
    /// operation's outcome: `nil` for success, the kernel's error otherwise. The kernel handles
    /// every message on its own, so a failure does not stop the ones after it; callers that need
    /// all-or-nothing undo what succeeded.
    /// - Throws: `NetlinkError` when the batch could not be sent or answered at all.
    public func apply(_ operations: [IPVSOperation]) throws(NetlinkError) -> [NetlinkError?] {
        var outcomes = [NetlinkError?](repeating: nil, count: operations.count)
        var start = 0
        while start < operations.count {
            // At most 128 requests per datagram: each queued acknowledgement costs the receive
            // buffer about a kilobyte, and SO_RCVBUF is capped by net.core.rmem_max (208 KiB by
            // default); more would overflow it (ENOBUFS) and acknowledgements would be lost.
            var batch = BatchBuffer()
            var pending: [UInt32: Int] = [:]
            var index = start
            while index < operations.count && pending.count < IPVSSocket.batchSize {
                let message = try Message(family: family, command: operations[index].command)
                try message.encode(operations[index])
                nl_complete_msg(socket, message.handle)
                guard let header = nlmsg_hdr(message.handle) else { break }
                pending[header.pointee.nlmsg_seq] = index
                batch.append(header)
                index += 1
            }
            let sent = batch.bytes.withUnsafeMutableBytes { nl_sendto(socket, $0.baseAddress, $0.count) }
            if sent < 0 { throw NetlinkError(function: "nl_sendto", libnlCode: sent) }
            try collectAcknowledgements(&pending) { index, error in
                outcomes[index] = error.map { NetlinkError(function: operations[index].description, errno: $0) }
            }
            start = index
        }
        return outcomes
    }

    /// Reads acknowledgements until every pending sequence number is answered.
    private func collectAcknowledgements(_ pending: inout [UInt32: Int],
                                         _ record: (Int, Int32?) -> Void) throws(NetlinkError) {
        while !pending.isEmpty {
            var peer = sockaddr_nl()
            var buffer: UnsafeMutablePointer<UInt8>?
            let count = nl_recv(socket, &peer, &buffer, nil)
            defer { free(buffer) }
            if count < 0 { throw NetlinkError(function: "nl_recv", libnlCode: count) }
            guard let buffer, count > 0 else { continue }
            var remaining = count
            var header = UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: nlmsghdr.self)
            while nlmsg_ok(header, remaining) != 0 {
                if header.pointee.nlmsg_type == UInt16(NLMSG_ERROR), let index = pending.removeValue(forKey: header.pointee.nlmsg_seq),
                   let payload = nlmsg_data(header) {
                    let error = payload.load(as: Int32.self)
                    record(index, error == 0 ? nil : -error)
                }
                guard let next = nlmsg_next(header, &remaining) else { break }
                header = next
            }
        }
    }

    // MARK: Requests

    /// Sends one request and hands every reply's top-level attributes to `reply`.
    private func request(_ command: Int, dump: Bool = false, of service: IPVSService.Identity? = nil,
                         reply: (Attributes) -> Void) throws(NetlinkError) {
        let message = try Message(family: family, command: UInt8(command), flags: dump ? NLM_F_DUMP : 0)
        if let service { try message.service(service) }
        try check("nl_send_auto", nl_send_auto(socket, message.handle))
        let outcome = connection.receive { received in
            guard let header = nlmsg_hdr(received) else { return }
            var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: Int(IPVS_CMD_ATTR_MAX) + 1)
            guard genlmsg_parse(header, 0, &table, Int32(IPVS_CMD_ATTR_MAX), nil) == 0 else { return }
            reply(Attributes(table: table))
        }
        switch outcome {
        case .received:
            // A dump ends with NLMSG_DONE; a single answer is followed by its acknowledgement.
            if !dump { try check("nl_wait_for_ack", nl_wait_for_ack(socket)) }
        case .kernelError(let code):
            throw NetlinkError(function: "IPVS command \(command)", errno: code)
        case .failure(let code):
            throw NetlinkError(function: "nl_recvmsgs", libnlCode: code)
        }
    }
}

/// Requests laid end to end, sent as one datagram.
struct BatchBuffer {
    var bytes: [UInt8] = []
    mutating func append(_ header: UnsafeMutablePointer<nlmsghdr>) {
        let length = Int(header.pointee.nlmsg_len)
        bytes += UnsafeRawBufferPointer(start: header, count: length)
        // Messages in a datagram are aligned to 4 bytes.
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}

extension IPVSOperation {
    var command: UInt8 {
        let command: Int = switch self {
        case .addService: IPVS_CMD_NEW_SERVICE
        case .updateService: IPVS_CMD_SET_SERVICE
        case .deleteService: IPVS_CMD_DEL_SERVICE
        case .addDestination: IPVS_CMD_NEW_DEST
        case .updateDestination: IPVS_CMD_SET_DEST
        case .deleteDestination: IPVS_CMD_DEL_DEST
        case .startDaemon: IPVS_CMD_NEW_DAEMON
        case .stopDaemon: IPVS_CMD_DEL_DAEMON
        case .setTimeouts: IPVS_CMD_SET_CONFIG
        }
        return UInt8(command)
    }
}
