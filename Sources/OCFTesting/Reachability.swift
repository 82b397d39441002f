import Addresses
import Glibc
import Netlink

/// Proves an address answers: a TCP listener in one namespace, a client in another, one
/// exchanged greeting. Real sockets, real routing, real neighbour resolution.
public final class TCPListener {
    let descriptor: Int32
    public let address: IPAddress
    public let port: UInt16

    /// Listens on `address:port` inside `namespace` (the address need not exist yet: the
    /// socket is bound with IP_FREEBIND, so a test can listen before the agent starts).
    public init(in namespace: NetworkNamespace, address: IPAddress, port: UInt16) throws {
        self.address = address
        self.port = port
        descriptor = try namespace.perform { () throws -> Int32 in
            let fd = socket(address.family == .inet ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw LabError("socket: \(String(cString: strerror(errno)))") }
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, Int32(IPPROTO_IP), IP_FREEBIND, &on, socklen_t(MemoryLayout<Int32>.size))
            let bound = withSocketAddress(address, port) { bind(fd, $0, $1) }
            guard bound == 0, listen(fd, 16) == 0 else {
                let message = String(cString: strerror(errno))
                close(fd)
                throw LabError("bind/listen \(address):\(port): \(message)")
            }
            return fd
        }
    }

    deinit { close(descriptor) }

    /// Accepts one connection if one is waiting and greets it with `greeting`.
    public func serveOne(greeting: String, timeoutMilliseconds: Int32) -> Bool {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return false }
        let client = accept(descriptor, nil, nil)
        guard client >= 0 else { return false }
        defer { close(client) }
        let bytes = Array(greeting.utf8)
        return bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) } == bytes.count
    }
}

/// Connects from `namespace` to `address:port` and returns what the server sent, or `nil`
/// when nothing answered before `deadline`. A `TCPListener` must be served meanwhile.
public func tcpGreeting(from namespace: NetworkNamespace, to address: IPAddress, port: UInt16,
                        listener: TCPListener, deadline: ContinuousClock.Instant) throws -> String? {
    while ContinuousClock.now < deadline {
        let fd = try namespace.perform { () -> Int32 in
            socket(address.family == .inet ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }
        guard fd >= 0 else { throw LabError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = withSocketAddress(address, port) { connect(fd, $0, $1) }
        // The listener lives in this process: let it accept while the client waits.
        _ = listener.serveOne(greeting: "hello from \(address)", timeoutMilliseconds: 500)
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&poller, 1, 500) == 1 {
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 { return String(decoding: buffer[..<count], as: UTF8.self) }
        }
    }
    return nil
}

func withSocketAddress<T>(_ address: IPAddress, _ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    switch address {
    case .v4(let v4):
        var storage = sockaddr_in()
        storage.sin_family = sa_family_t(AF_INET)
        storage.sin_port = port.bigEndian
        storage.sin_addr.s_addr = v4.value.bigEndian
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    case .v6(let v6):
        var storage = sockaddr_in6()
        storage.sin6_family = sa_family_t(AF_INET6)
        storage.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &storage.sin6_addr) { $0.copyBytes(from: v6.bytes) }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }
}
