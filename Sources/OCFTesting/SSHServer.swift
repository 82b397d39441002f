import Glibc
import OCF

/// A private OpenSSH server on 127.0.0.1 for tests (shared/notes/libvirt-fencing.md §6): its
/// own host key, one client key allowed to log in as root, and a known_hosts file holding its
/// host key (root's own ~/.ssh is never touched).
public final class SSHServer {
    public let directory: String
    public let port: UInt16
    /// The private key that logs in as root.
    public var clientKey: String { directory + "/client_key" }
    /// A known_hosts file with this server's host key.
    public var knownHosts: String { directory + "/known_hosts" }
    private var process: ProcessIdentity?

    public init(directory: String) throws {
        self.directory = directory
        _ = try Command("/bin/mkdir", ["-p", directory, "/run/sshd"]).run(deadline: .now + .seconds(10))
        for key in ["host_key", "client_key"] {
            unlink(directory + "/" + key)
            unlink(directory + "/" + key + ".pub")
            let result = try Command("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "tandem-test", "-f", directory + "/" + key])
                .run(deadline: .now + .seconds(30))
            guard result.status == 0 else { throw LabError("ssh-keygen: \(result.errorOutput)") }
        }
        port = try freeLoopbackPort()
        try writeFile(directory + "/authorized_keys", readFile(clientKey + ".pub") ?? "")
        let hostKey = (readFile(directory + "/host_key.pub") ?? "").split(separator: " ").prefix(2).joined(separator: " ")
        try writeFile(knownHosts, "[127.0.0.1]:\(port) \(hostKey)\n")
        try writeFile(directory + "/sshd_config", """
            Port \(port)
            ListenAddress 127.0.0.1
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
        process = Background.launch("/usr/sbin/sshd", ["-D", "-e", "-f", directory + "/sshd_config"], output: directory + "/sshd.log")
        guard waitUntil(deadline: .now + .seconds(30), { acceptsConnections(port: port) }) else {
            stop()
            throw LabError("sshd did not listen on 127.0.0.1:\(port): \(readFile(directory + "/sshd.log") ?? "")")
        }
    }

    deinit { stop() }

    /// Stops the server and its sessions (a session outlives the listening sshd; an ssh
    /// connection kept open by a client would stay).
    public func stop() {
        guard let process else { return }
        for session in descendants(of: process.pid) { kill(session, SIGKILL) }
        _ = process.terminate(by: .now + .seconds(10))
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
public func acceptsConnections(port: UInt16) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = loopback(port: port)
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
