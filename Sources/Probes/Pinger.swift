import Addresses
import Glibc
import LinkLayer
import HealthCheck
import NIOConcurrencyHelpers
import NIOCore
import OCF
import POSIX

/// ICMP echo for every ping check: one socket per address family, shared by all checks, and
/// one thread reading the answers. An unprivileged ICMP datagram socket when
/// `net.ipv4.ping_group_range` allows it, else a raw socket (root).
final class Pinger: @unchecked Sendable {
    struct Pending {
        let address: IPAddress
        let once: Once
        let loop: any EventLoop
    }

    private let v4: Int32
    private let v6: Int32
    private let v4Raw: Bool
    private let identifier = UInt16(truncatingIfNeeded: getpid())
    private let state = NIOLockedValueBox<(sequence: UInt16, pending: [UInt16: Pending], stopped: Bool)>((0, [:], false))
    init() throws {
        (v4, v4Raw) = try Pinger.open(family: AF_INET, protocol: Int32(IPPROTO_ICMP))
        (v6, _) = (try? Pinger.open(family: AF_INET6, protocol: Int32(IPPROTO_ICMPV6))) ?? (-1, false)
        try ProbeThread.start("ICMP reader") { self.receive() }
    }

    static func open(family: Int32, protocol proto: Int32) throws -> (Int32, Bool) {
        let datagram = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
        if datagram >= 0 { return (datagram, false) }
        let raw = socket(family, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), proto)
        guard raw >= 0 else {
            throw ProbeSetupError("cannot open an ICMP socket: \(Errno.current) (needs root or net.ipv4.ping_group_range)")
        }
        return (raw, true)
    }

    /// Sends an echo request; the reply finishes the check, the prober's sweep a missing one.
    func ping(_ address: IPAddress, loop: any EventLoop, once: Once) {
        let sequence = state.withLockedValue { state -> UInt16 in
            state.sequence &+= 1
            state.pending[state.sequence] = Pending(address: address, once: once, loop: loop)
            return state.sequence
        }
        let isV6 = address.family == .inet6
        var packet: [UInt8] = [isV6 ? 128 : 8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff),
                               UInt8(sequence >> 8), UInt8(sequence & 0xff)] + Array("tandem-healthcheck".utf8)
        if !isV6 {
            let sum = Announcement.internetChecksum(packet)
            packet[2] = UInt8(sum >> 8)
            packet[3] = UInt8(sum & 0xff)
        }
        let sent = address.withSocketAddress(port: 0) { pointer, length in
            packet.withUnsafeBytes { sendto(isV6 ? v6 : v4, $0.baseAddress, $0.count, 0, pointer, length) }
        }
        guard sent == packet.count else {
            let reason = isV6 && v6 < 0 ? "no ICMPv6 socket" : Errno.current.message
            once.finish(.fail("ping: \(reason)"))
            return
        }
        once.onFinish { [weak self] in self?.forget(sequence) }
    }

    private func forget(_ sequence: UInt16) {
        _ = state.withLockedValue { $0.pending.removeValue(forKey: sequence) }
    }

    /// The prober is retired: the reader thread closes the sockets and ends (within a second).
    func stop() {
        state.withLockedValue { $0.stopped = true }
    }

    /// Reads echo replies from both sockets until the pinger is stopped.
    private func receive() {
        var descriptors = [pollfd(fd: v4, events: Int16(POLLIN), revents: 0), pollfd(fd: v6, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            if state.withLockedValue(\.stopped) {
                close(v4)
                if v6 >= 0 { close(v6) }
                return
            }
            guard poll(&descriptors, nfds_t(descriptors.count), 1000) > 0 else { continue }
            for index in descriptors.indices where descriptors[index].revents & Int16(POLLIN) != 0 {
                var from = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let count = buffer.withUnsafeMutableBytes { bytes in
                    withUnsafeMutablePointer(to: &from) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            recvfrom(descriptors[index].fd, bytes.baseAddress, bytes.count, 0, $0, &length)
                        }
                    }
                }
                guard count > 0, let source = IPAddress(socketAddress: from) else { continue }
                var message = buffer[..<count]
                if index == 0 && v4Raw {
                    // A raw IPv4 socket delivers the IP header too.
                    let headerLength = Int((message.first ?? 0) & 0x0f) * 4
                    message = message.dropFirst(headerLength)
                }
                guard message.count >= 8 else { continue }
                let start = message.startIndex
                let type = message[start]
                guard type == (index == 0 ? 0 : 129) else { continue }
                let sequence = UInt16(message[start + 6]) << 8 | UInt16(message[start + 7])
                let matched = state.withLockedValue { state -> Pending? in
                    guard let pending = state.pending[sequence], pending.address == source else { return nil }
                    state.pending[sequence] = nil
                    return pending
                }
                if let matched { matched.loop.execute { matched.once.finish(.pass) } }
            }
        }
    }

}
