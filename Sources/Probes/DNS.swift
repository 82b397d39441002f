internal import CAres
internal import CEvents
import Addresses
import Glibc
import HealthCheck
import NIOConcurrencyHelpers
import NIOCore
import OCF
import POSIX

/// The dns check through c-ares: one channel per real server (each is its own DNS server),
/// driven by one thread that polls every channel's sockets; queries arrive through a queue and
/// an eventfd. c-ares bounds each query by the check's timeout (one try).
final class DNSResolver: @unchecked Sendable {
    struct Request {
        let target: Target
        let check: DNSCheck
        let once: Once
        let loop: any EventLoop
    }

    private let pending = NIOLockedValueBox<(requests: [Request], stopped: Bool)>(([], false))
    private let wake: Int32
    private let timeout: Duration
    /// Touched by the resolver thread only.
    private var channels: [Target: OpaquePointer] = [:]

    init(timeout: Duration) throws {
        self.timeout = timeout
        guard ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS else { throw ProbeSetupError("c-ares cannot initialise") }
        wake = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wake >= 0 else { throw ProbeSetupError("eventfd: \(Errno.current)") }
        try ProbeThread.start("DNS") { self.serve() }
    }

    func query(_ check: DNSCheck, target: Target, loop: any EventLoop, once: Once) {
        pending.withLockedValue { $0.requests.append(Request(target: target, check: check, once: once, loop: loop)) }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    /// The prober is retired: the thread ends its queries (c-ares calls each back) and goes.
    func stop() {
        pending.withLockedValue { $0.stopped = true }
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    /// A request in flight: what the c-ares callback needs.
    final class Context {
        let request: Request
        init(_ request: Request) { self.request = request }
    }

    private func serve() {
        while true {
            let (requests, stopped) = pending.withLockedValue { state in
                defer { state.requests = [] }
                return (state.requests, state.stopped)
            }
            for request in requests { start(request) }
            if stopped {
                for channel in channels.values { ares_destroy(channel) }
                close(wake)
                return
            }
            var descriptors = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            var owners: [OpaquePointer?] = [nil]
            var wait = Int32(1000)
            for channel in channels.values {
                var sockets = [ares_socket_t](repeating: ARES_SOCKET_BAD, count: Int(ARES_GETSOCK_MAXNUM))
                let bits = sockets.withUnsafeMutableBufferPointer { ares_getsock(channel, $0.baseAddress, Int32(ARES_GETSOCK_MAXNUM)) }
                for index in 0..<Int(ARES_GETSOCK_MAXNUM) {
                    let readable = bits & (1 << index) != 0, writable = bits & (1 << (index + Int(ARES_GETSOCK_MAXNUM))) != 0
                    guard readable || writable else { continue }
                    descriptors.append(pollfd(fd: sockets[index], events: Int16(readable ? POLLIN : 0) | Int16(writable ? POLLOUT : 0), revents: 0))
                    owners.append(channel)
                }
                var room = timeval(tv_sec: 1, tv_usec: 0), next = timeval()
                if let limit = ares_timeout(channel, &room, &next) {
                    wait = min(wait, Int32(limit.pointee.tv_sec * 1000 + limit.pointee.tv_usec / 1000) + 1)
                }
            }
            _ = poll(&descriptors, nfds_t(descriptors.count), wait)
            if descriptors[0].revents != 0 {
                var value: UInt64 = 0
                _ = read(wake, &value, 8)
            }
            for index in descriptors.indices.dropFirst() where descriptors[index].revents != 0 {
                let revents = descriptors[index].revents
                let readable = revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 ? descriptors[index].fd : ARES_SOCKET_BAD
                let writable = revents & Int16(POLLOUT) != 0 ? descriptors[index].fd : ARES_SOCKET_BAD
                ares_process_fd(owners[index], readable, writable)
            }
            // Timeouts: processing with no socket lets c-ares end queries past their time.
            for channel in channels.values { ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD) }
        }
    }

    private func start(_ request: Request) {
        guard let channel = channel(for: request.target) else {
            request.loop.execute { request.once.finish(.fail("c-ares: cannot make a channel for \(request.target)")) }
            return
        }
        let context = Unmanaged.passRetained(Context(request)).toOpaque()
        ares_query(channel, request.check.name, 1 /* C_IN */, Int32(request.check.type.code), { argument, status, _, answer, length in
            let context = Unmanaged<Context>.fromOpaque(argument!).takeRetainedValue()
            let outcome: CheckOutcome
            if status == ARES_SUCCESS, let answer {
                outcome = DNSAnswer.verdict(Array(UnsafeBufferPointer(start: answer, count: Int(length))), check: context.request.check)
            } else {
                outcome = .fail("DNS: \(String(cString: ares_strerror(status)))")
            }
            let request = context.request
            request.loop.execute { request.once.finish(outcome) }
        }, context)
    }

    private func channel(for target: Target) -> OpaquePointer? {
        if let channel = channels[target] { return channel }
        var options = ares_options()
        options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES
        options.timeout = Int32(max(1, timeout / .milliseconds(1)))
        options.tries = 1
        var channel: OpaquePointer?
        let lookups = strdup("b")
        defer { free(lookups) }
        options.lookups = lookups
        let mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS
        guard ares_init_options(&channel, &options, mask) == ARES_SUCCESS, let channel else { return nil }
        let server = target.address.family == .inet6 ? "[\(target.address)]:\(target.port)" : "\(target.address):\(target.port)"
        guard ares_set_servers_ports_csv(channel, server) == ARES_SUCCESS else {
            ares_destroy(channel)
            return nil
        }
        channels[target] = channel
        return channel
    }
}

/// Reads a DNS answer: the records of the type asked, each as text (an address, a name
/// without its final dot, `10 mail.example.com` for MX, the strings of a TXT record).
enum DNSAnswer {
    static func verdict(_ message: [UInt8], check: DNSCheck) -> CheckOutcome {
        guard let answers = records(message, type: check.type.code) else { return .fail("DNS: a malformed answer") }
        guard !answers.isEmpty else { return .fail("DNS: no \(check.type.rawValue) record for \(check.name)") }
        guard let expected = check.expect else { return .pass }
        let wanted = normalise(expected)
        if answers.contains(where: { normalise($0) == wanted }) { return .pass }
        return .fail("DNS: \(check.name) \(check.type.rawValue) is \(answers.joined(separator: ", ")), not \(expected)")
    }

    static func normalise(_ text: String) -> String {
        var lower = String(text.lowercased())
        while lower.hasSuffix(".") { lower.removeLast() }
        return lower
    }

    /// The answer section's records of `type`; `nil` when the message does not parse.
    static func records(_ message: [UInt8], type: UInt16) -> [String]? {
        guard message.count >= 12 else { return nil }
        func u16(_ at: Int) -> UInt16? { at + 1 < message.count ? UInt16(message[at]) << 8 | UInt16(message[at + 1]) : nil }
        guard let questions = u16(4), let answerCount = u16(6) else { return nil }
        var offset = 12
        for _ in 0..<questions {
            guard let (_, next) = name(message, at: offset) else { return nil }
            offset = next + 4
        }
        var result: [String] = []
        for _ in 0..<answerCount {
            guard let (_, next) = name(message, at: offset), let recordType = u16(next), let length = u16(next + 8) else { return nil }
            let data = next + 10
            guard data + Int(length) <= message.count else { return nil }
            if recordType == type, let text = render(message, type: type, at: data, length: Int(length)) { result.append(text) }
            offset = data + Int(length)
        }
        return result
    }

    static func render(_ message: [UInt8], type: UInt16, at offset: Int, length: Int) -> String? {
        let data = Array(message[offset..<(offset + length)])
        switch type {
        case 1 where length == 4: return IPv4Address(bytes: data).description
        case 28 where length == 16: return IPv6Address(bytes: data).description
        case 2, 5, 12: return name(message, at: offset)?.0
        case 15 where length > 2:
            guard let host = name(message, at: offset + 2)?.0 else { return nil }
            return "\(UInt16(data[0]) << 8 | UInt16(data[1])) \(host)"
        case 16:
            var strings: [String] = []
            var index = 0
            while index < data.count {
                let count = Int(data[index])
                guard index + 1 + count <= data.count else { return nil }
                strings.append(String(decoding: data[(index + 1)..<(index + 1 + count)], as: UTF8.self))
                index += 1 + count
            }
            return strings.joined()
        case 6:
            guard let (primary, next) = name(message, at: offset), let (mailbox, _) = name(message, at: next) else { return nil }
            return "\(primary) \(mailbox)"
        default: return nil
        }
    }

    /// A domain name at `offset` (compression followed), and the offset after it.
    static func name(_ message: [UInt8], at offset: Int) -> (String, Int)? {
        var labels: [String] = []
        var position = offset
        var end: Int?
        var jumps = 0
        while position < message.count {
            let length = Int(message[position])
            if length == 0 {
                return (labels.joined(separator: "."), end ?? position + 1)
            }
            if length & 0xc0 == 0xc0 {
                guard position + 1 < message.count, jumps < 32 else { return nil }
                if end == nil { end = position + 2 }
                position = (length & 0x3f) << 8 | Int(message[position + 1])
                jumps += 1
                continue
            }
            guard position + 1 + length <= message.count else { return nil }
            labels.append(String(decoding: message[(position + 1)..<(position + 1 + length)], as: UTF8.self))
            position += 1 + length
        }
        return nil
    }
}
