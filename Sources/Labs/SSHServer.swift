import Glibc
import Netlink
import OCF
import OCFTesting

/// A private OpenSSH server on 127.0.0.1 for tests (shared/notes/libvirt-fencing.md §6): its
/// own host key, one client key allowed to log in as root, and a known_hosts file holding its
/// host key (root's own ~/.ssh is never touched).
public final class SSHServer {
    public let directory: String
    public let port: UInt16
    public let address: String
    private let namespace: NetworkNamespace?
    /// The private key that logs in as root.
    public var clientKey: String { directory + "/client_key" }
    /// A known_hosts file with this server's host key.
    public var knownHosts: String { directory + "/known_hosts" }
    private var process: ProcessIdentity?

    /// - Parameters:
    ///   - namespace: the network namespace it listens in (this process's when `nil`), on
    ///     `address`; the server runs in this process's mount namespace, so its sessions reach
    ///     the host's libvirtd socket.
    public init(directory: String, namespace: NetworkNamespace? = nil, address: String = "127.0.0.1", port: UInt16? = nil) throws {
        self.directory = directory
        self.namespace = namespace
        self.address = address
        _ = try Command("/bin/mkdir", ["-p", directory, "/run/sshd"]).run(deadline: .now + .seconds(10))
        for key in ["host_key", "client_key"] {
            unlink(directory + "/" + key)
            unlink(directory + "/" + key + ".pub")
            let result = try Command("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "tandem-test", "-f", directory + "/" + key])
                .run(deadline: .now + .seconds(30))
            guard result.status == 0 else { throw LabError("ssh-keygen: \(result.errorOutput)") }
        }
        self.port = try port ?? freeLoopbackPort()
        try writeFile(directory + "/authorized_keys", readFile(clientKey + ".pub") ?? "")
        let hostKey = (readFile(directory + "/host_key.pub") ?? "").split(separator: " ").prefix(2).joined(separator: " ")
        try writeFile(knownHosts, "[\(address)]:\(self.port) \(hostKey)\n")
        try writeFile(directory + "/sshd_config", """
            Port \(self.port)
            ListenAddress \(address)
            HostKey \(directory)/host_key
            PidFile \(directory)/sshd.pid
            AuthorizedKeysFile \(directory)/authorized_keys
            StrictModes no
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            LogLevel VERBOSE

            """)
        start()
        guard waitUntil(deadline: .now + .seconds(30), { listening() }) else {
            stop()
            throw LabError("sshd did not listen on \(address):\(self.port): \(readFile(directory + "/sshd.log") ?? "")")
        }
    }

    deinit { stop() }

    /// Starts sshd (again, after `stop()`: same keys, same port).
    public func start() {
        guard process == nil else { return }
        let arguments = ["-D", "-e", "-f", directory + "/sshd_config"]
        if let namespace {
            process = try? namespace.perform { Background.launch("/usr/sbin/sshd", arguments, output: directory + "/sshd.log") }
        } else {
            process = Background.launch("/usr/sbin/sshd", arguments, output: directory + "/sshd.log")
        }
    }

    /// Whether sshd listens (a TCP connection to it succeeds).
    public func listening() -> Bool {
        guard let namespace else { return acceptsConnections(port: port) }
        return (try? namespace.perform { acceptsConnections(host: address, port: port) }) ?? false
    }

    /// A hung server: its sessions are killed and the listener is SIGSTOPped, so connections
    /// are accepted by the kernel and never answered. `thaw()` lets it answer again.
    public func freeze() {
        guard let process else { return }
        endSessions(of: process)
        kill(process.pid, SIGSTOP)
    }

    /// Ends the sessions: SIGTERM first, so that a login shell's EXIT traps run (a SIGKILLed
    /// `pyenv rehash` in root's .bashrc leaves a lock that stalls every later login for 60 s),
    /// SIGKILL for what is left after 5 s.
    private func endSessions(of process: ProcessIdentity) {
        let sessions = descendants(of: process.pid)
        for session in sessions { kill(session, SIGTERM) }
        _ = waitUntil(deadline: .now + .seconds(5)) { sessions.allSatisfy { kill($0, 0) != 0 } }
        for session in sessions { kill(session, SIGKILL) }
    }

    public func thaw() {
        if let process { kill(process.pid, SIGCONT) }
    }

    /// Stops the server and its sessions (a session outlives the listening sshd; an ssh
    /// connection kept open by a client would stay).
    public func stop() {
        guard let process else { return }
        kill(process.pid, SIGCONT)
        endSessions(of: process)
        _ = process.terminate(patience: .seconds(8), by: .now + .seconds(10))
        self.process = nil
    }
}

/// A TCP listener on 127.0.0.1 that never accepts: the kernel completes every handshake, and
/// nothing is ever said (a host whose sshd hangs).
public final class BlackHoleListener {
    public let port: UInt16
    private let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw LabError("socket: \(errno)") }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 64) == 0 else {
            close(descriptor)
            throw LabError("bind/listen: \(errno)")
        }
        self.descriptor = descriptor
        port = try localPort(of: descriptor)
    }

    deinit { close(descriptor) }
}

/// A port on 127.0.0.1 nobody listens on now.
func freeLoopbackPort() throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { throw LabError("socket: \(errno)") }
    defer { close(descriptor) }
    var address = loopback(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw LabError("bind: \(errno)") }
    return try localPort(of: descriptor)
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
public func acceptsConnections(host: String = "127.0.0.1", port: UInt16) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = loopback(port: port)
    _ = inet_pton(AF_INET, host, &address.sin_addr)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

private func loopback(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    return address
}

private func localPort(of descriptor: Int32) throws -> UInt16 {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    guard named == 0 else { throw LabError("getsockname: \(errno)") }
    return UInt16(bigEndian: address.sin_port)
}
