internal import CNetlink
import Glibc

/// The one owner of a libnl `nl_sock`: connected to one netlink protocol, in one network
/// namespace, freed (and closed) in deinit. Route and IPVS sockets are built on it.
final class NetlinkConnection {
    let socket: OpaquePointer
    let namespace: NetworkNamespace?

    /// Connects to `protocol` (NETLINK_ROUTE, NETLINK_GENERIC), inside `namespace` when given:
    /// a netlink socket belongs to the namespace it was created in.
    /// - Parameter deadline: no answer is waited for past it (SO_RCVTIMEO): a kernel that does
    ///   not answer in time is an error the agent reports, not a hang until Pacemaker's SIGKILL.
    init(protocol netlinkProtocol: Int32, in namespace: NetworkNamespace?,
         deadline: ContinuousClock.Instant? = nil) throws(NetlinkError) {
        guard let socket = nl_socket_alloc() else {
            throw NetlinkError(function: "nl_socket_alloc", libnlCode: -NLE_NOMEM)
        }
        self.socket = socket
        self.namespace = namespace
        let connect = { nl_connect(socket, netlinkProtocol) }
        let code: Int32
        do {
            code = try namespace?.perform(connect) ?? connect()
        } catch let error as NetlinkError {
            throw error
        } catch {
            throw NetlinkError(function: "setns", kind: .other(-1), message: "\(error)")
        }
        try check("nl_connect", code)
        if let deadline {
            let remaining = max(ContinuousClock.now.duration(to: deadline), .milliseconds(100))
            var timeout = timeval(tv_sec: Int(remaining.components.seconds),
                                  tv_usec: Int(remaining.components.attoseconds / 1_000_000_000_000))
            setsockopt(nl_socket_get_fd(socket), SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    deinit {
        // nl_socket_free closes the descriptor too.
        nl_socket_free(socket)
    }

    /// What one pass of libnl's receive loop ended with.
    enum ReceiveOutcome: Equatable {
        /// Messages were read and handed over.
        case received
        /// The kernel answered with an error; the errno as the kernel sent it (libnl would
        /// fold several, ENETUNREACH among them, into a generic failure).
        case kernelError(Int32)
        /// libnl failed (negative `NLE_*` code), e.g. `-NLE_AGAIN` on a non-blocking socket.
        case failure(Int32)
    }

    /// Runs libnl's receive loop once, calling `handler` for every valid message.
    func receive(_ handler: (OpaquePointer) -> Void) -> ReceiveOutcome {
        withoutActuallyEscaping(handler) { handler in
            let sink = MessageSink(handler)
            return withExtendedLifetime(sink) {
                let context = Unmanaged.passUnretained(sink).toOpaque()
                nl_socket_modify_cb(socket, NL_CB_VALID, NL_CB_CUSTOM, deliverMessage, context)
                nl_socket_modify_err_cb(socket, NL_CB_CUSTOM, recordKernelError, context)
                defer {
                    nl_socket_modify_cb(socket, NL_CB_VALID, NL_CB_DEFAULT, nil, nil)
                    nl_socket_modify_err_cb(socket, NL_CB_DEFAULT, nil, nil)
                }
                let code = nl_recvmsgs_default(socket)
                if let kernelError = sink.kernelError { return .kernelError(kernelError) }
                return code < 0 ? .failure(code) : .received
            }
        }
    }
}


/// Holds a Swift closure, and the kernel's error if one arrives, for one `nl_recvmsgs` call.
final class MessageSink {
    let handler: (OpaquePointer) -> Void
    var kernelError: Int32?
    init(_ handler: @escaping (OpaquePointer) -> Void) { self.handler = handler }
}

/// libnl's NL_CB_VALID callback: hands each message to the current `MessageSink`.
let deliverMessage: nl_recvmsg_msg_cb_t = { message, argument in
    guard let message, let argument else { return Int32(NL_SKIP.rawValue) }
    Unmanaged<MessageSink>.fromOpaque(argument).takeUnretainedValue().handler(message)
    return Int32(NL_OK.rawValue)
}

/// libnl's error callback: keeps the kernel's errno (sent negated) and stops the loop.
let recordKernelError: nl_recvmsg_err_cb_t = { _, error, argument in
    guard let error, let argument else { return Int32(NL_STOP.rawValue) }
    Unmanaged<MessageSink>.fromOpaque(argument).takeUnretainedValue().kernelError = -error.pointee.error
    return Int32(NL_STOP.rawValue)
}

