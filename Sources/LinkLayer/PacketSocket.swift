internal import CPacket
import Addresses
import Glibc
import POSIX

/// A failed system call on a packet socket.
public struct PacketSocketError: Error, Sendable, CustomStringConvertible {
    public let function: String
    public let errno: Int32
    public var description: String { "\(function): \(Errno(errno))" }
}

/// An AF_PACKET socket on one interface: whole Ethernet frames out and, optionally, in.
public final class PacketSocket {
    /// The socket's descriptor, for handing it to a background process.
    public let descriptor: Int32
    public let interfaceIndex: Int32

    /// Opens a raw packet socket bound to one interface.
    /// - Parameter receiving: the EtherType to receive (e.g. `Announcement.etherTypeARP`);
    ///   `nil` opens a send-only socket that never queues incoming frames.
    /// - Throws: `PacketSocketError` naming `socket` or `bind`.
    public init(interfaceIndex: Int32, receiving etherType: UInt16? = nil) throws(PacketSocketError) {
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                        Int32(etherType?.bigEndian ?? 0))
        guard fd >= 0 else { throw PacketSocketError(function: "socket(AF_PACKET)", errno: errno) }
        descriptor = fd
        self.interfaceIndex = interfaceIndex
        if let etherType {
            var address = sockaddr_ll()
            address.sll_family = UInt16(AF_PACKET)
            address.sll_protocol = etherType.bigEndian
            address.sll_ifindex = interfaceIndex
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_ll>.size))
                }
            }
            guard result == 0 else {
                let code = errno
                close(fd)
                throw PacketSocketError(function: "bind(AF_PACKET)", errno: code)
            }
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// Closing the last reference to a packet socket waits for an RCU grace period
    /// (`packet_release` calls `synchronize_net`): 5–15 ms. Keep the last reference where
    /// that wait does not matter.
    deinit { close(descriptor) }

    /// Sends one complete Ethernet frame (header included) out of the interface.
    /// - Throws: `PacketSocketError` naming `sendto`.
    public func send(_ frame: [UInt8]) throws(PacketSocketError) {
        var address = sockaddr_ll()
        address.sll_family = UInt16(AF_PACKET)
        address.sll_ifindex = interfaceIndex
        address.sll_halen = 6
        withUnsafeMutableBytes(of: &address.sll_addr) { $0.copyBytes(from: frame.prefix(6)) }
        let sent = frame.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_ll>.size))
                }
            }
        }
        guard sent == frame.count else { throw PacketSocketError(function: "sendto(AF_PACKET)", errno: errno) }
    }

    /// A received frame and the kernel's receive time.
    public struct ReceivedFrame: Sendable {
        public let bytes: [UInt8]
        /// Nanoseconds since the epoch (CLOCK_REALTIME), stamped by the kernel on arrival.
        public let realTimeNanoseconds: Int64
    }

    /// Waits up to `timeoutMilliseconds` for one frame.
    /// - Returns: `nil` when the time passed without a frame.
    /// - Throws: `PacketSocketError` naming `poll` or `recvmsg`.
    public func receive(timeoutMilliseconds: Int32) throws(PacketSocketError) -> ReceivedFrame? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return nil }
            throw PacketSocketError(function: "poll", errno: errno)
        }
        if ready == 0 { return nil }

        var buffer = [UInt8](repeating: 0, count: 65536)
        var control = [UInt8](repeating: 0, count: 256)
        var stamp = timespec()
        let count = buffer.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { controlBytes in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var header = msghdr()
                    header.msg_iov = vectorPointer
                    header.msg_iovlen = 1
                    header.msg_control = controlBytes.baseAddress
                    header.msg_controllen = controlBytes.count
                    let received = recvmsg(descriptor, &header, 0)
                    if received > 0 { stamp = PacketSocket.timestamp(in: header) ?? stamp }
                    return received
                }
            }
        }
        guard count >= 0 else { throw PacketSocketError(function: "recvmsg", errno: errno) }
        return ReceivedFrame(bytes: Array(buffer.prefix(count)),
                             realTimeNanoseconds: Int64(stamp.tv_sec) * 1_000_000_000 + Int64(stamp.tv_nsec))
    }

    /// Finds SCM_TIMESTAMPNS among the control messages.
    private static func timestamp(in header: msghdr) -> timespec? {
        guard let control = header.msg_control else { return nil }
        var offset = 0
        let headerSize = MemoryLayout<cmsghdr>.size
        while offset + headerSize <= header.msg_controllen {
            let message = control.advanced(by: offset).assumingMemoryBound(to: cmsghdr.self).pointee
            if message.cmsg_level == SOL_SOCKET && message.cmsg_type == SO_TIMESTAMPNS {
                return control.advanced(by: offset + headerSize).loadUnaligned(as: timespec.self)
            }
            guard message.cmsg_len >= headerSize else { return nil }
            offset += (Int(message.cmsg_len) + 7) & ~7
        }
        return nil
    }
}
