import Addresses
import Dispatch
import Glibc
import Netlink
import OCF
import OCFTesting
import POSIX
import Synchronization

/// A TCP service in a namespace, for reachability and data-path tests: every connection is
/// greeted with the responder's name and a newline, then whatever the client sends comes
/// back (so a long-lived connection can prove it still works). Real sockets, real routing.
public final class TCPResponder: @unchecked Sendable {
    let descriptor: Int32
    public let name: String
    private let stopped = Flag()

    /// Listens on `address:port` inside `namespace`. The address need not exist yet: the socket
    /// is bound with IP_FREEBIND, so a test can listen before an agent adds the address.
    public init(in namespace: NetworkNamespace, address: IPAddress, port: UInt16, name: String) throws {
        self.name = name
        descriptor = try namespace.perform { () throws -> Int32 in
            let fd = socket(address.family == .inet ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw LabError("socket: \(Errno.current)") }
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, Int32(IPPROTO_IP), IP_FREEBIND, &on, socklen_t(MemoryLayout<Int32>.size))
            let bound = address.withSocketAddress(port: port) { bind(fd, $0, $1) }
            guard bound == 0, listen(fd, 64) == 0 else {
                let message = Errno.current.message
                close(fd)
                throw LabError("bind/listen \(address):\(port): \(message)")
            }
            return fd
        }
        let listener = descriptor, stopped = self.stopped, greeting = Array((name + "\n").utf8)
        DispatchQueue.global().async {
            while !stopped.isSet {
                var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 100) == 1 else { continue }
                let client = accept(listener, nil, nil)
                guard client >= 0 else { continue }
                DispatchQueue.global().async { TCPResponder.serve(client, greeting: greeting, until: stopped) }
            }
        }
    }

    deinit {
        stopped.set()
        close(descriptor)
    }

    /// Greets, then echoes until the client closes (or the responder stops).
    static func serve(_ client: Int32, greeting: [UInt8], until stopped: Flag) {
        defer { close(client) }
        guard greeting.withUnsafeBytes({ write(client, $0.baseAddress, $0.count) }) == greeting.count else { return }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !stopped.isSet {
            var poller = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) >= 0 else { return }
            if poller.revents == 0 { continue }
            let count = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            _ = buffer.withUnsafeBytes { write(client, $0.baseAddress, count) }
        }
    }
}

/// A TCP client connection made from a namespace.
public final class TCPConnection {
    let descriptor: Int32
    private var pending: [UInt8] = []
    private var closed = false

    private init(descriptor: Int32) { self.descriptor = descriptor }
    deinit { close() }

    /// Closes the connection (the peer sees the end of the stream).
    public func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(descriptor)
    }

    /// Connects from `namespace` to `address:port`, retrying until `deadline` (the address may
    /// still be on its way: an agent starting, a route converging).
    public static func open(from namespace: NetworkNamespace, to address: IPAddress, port: UInt16,
                            deadline: ContinuousClock.Instant) throws -> TCPConnection? {
        while ContinuousClock.now < deadline {
            let fd = try namespace.perform { () -> Int32 in
                socket(address.family == .inet ? AF_INET : AF_INET6,
                       Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            }
            guard fd >= 0 else { throw LabError("socket: \(Errno.current)") }
            _ = address.withSocketAddress(port: port) { connect(fd, $0, $1) }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if poll(&poller, 1, 500) == 1, getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 {
                return TCPConnection(descriptor: fd)
            }
            Glibc.close(fd)
            // A refused or unreachable connect returns at once: pace the retries.
            sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Sends text.
    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR {
                    var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&poller, 1, 1000)
                    continue
                }
                throw LabError("send: \(Errno.current)")
            }
            sent += count
        }
    }

    /// The next line (without its newline), or `nil` if none arrived before `deadline` or the
    /// peer closed.
    public func readLine(deadline: ContinuousClock.Instant) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return nil }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(min(remaining.components.seconds * 1000 + 1, 1000))) == 1 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return nil }
            if count > 0 { pending += buffer[..<count] }
        }
    }

    /// Connects, reads the greeting and closes: which responder answered `address:port`.
    public static func greeting(from namespace: NetworkNamespace, to address: IPAddress, port: UInt16,
                                deadline: ContinuousClock.Instant) throws -> String? {
        while ContinuousClock.now < deadline {
            guard let connection = try open(from: namespace, to: address, port: port, deadline: deadline) else { return nil }
            if let line = connection.readLine(deadline: min(deadline, .now + .seconds(2))) { return line }
        }
        return nil
    }
}

/// A flag set once, read from any thread.
public final class Flag: @unchecked Sendable {
    private let value = Mutex(false)
    public init() {}
    public var isSet: Bool { value.withLock { $0 } }
    public func set() { value.withLock { $0 = true } }
}

