import Glibc

/// Socket addresses for the system calls that take one (bind, connect, sendto, recvfrom).
extension IPAddress {
    /// Calls `body` with this address and `port` as a `sockaddr`.
    public func withSocketAddress<T>(port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        switch self {
        case .v4(let address):
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = port.bigEndian
            socketAddress.sin_addr.s_addr = address.value.bigEndian
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let address):
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { $0.copyBytes(from: address.bytes) }
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// The address of a received `sockaddr_storage`.
    public init?(socketAddress storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let bytes = withUnsafeBytes(of: &storage) { raw in
                raw.load(as: sockaddr_in.self).sin_addr
            }
            self = .v4(IPv4Address(bytes: withUnsafeBytes(of: bytes) { Array($0) }))
        case AF_INET6:
            let bytes = withUnsafeBytes(of: &storage) { raw in
                raw.load(as: sockaddr_in6.self).sin6_addr
            }
            self = .v6(IPv6Address(bytes: withUnsafeBytes(of: bytes) { Array($0) }))
        default:
            return nil
        }
    }
}
