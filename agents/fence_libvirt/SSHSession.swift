import FenceAgent
import Glibc
import POSIX

/// The ssh side of a connection. libvirt runs OpenSSH for `+ssh` URIs with only the options its
/// URI parameters map to, and OpenSSH waits for a banner forever by default. So for `+ssh`
/// fence_libvirt names itself as libvirt's ssh program (`command=`), and that second run of
/// fence_libvirt executes ssh with the options below in front of libvirt's own: a connect
/// timeout, batch mode (never a question), strict host key checking and the known_hosts file.
/// libvirt gives its ssh program a cleaned environment and no way to add arguments, so the
/// options travel in a file named after the agent's PID, which the ssh program finds as its
/// parent's. libssh/libssh2 URIs take the known_hosts file as a URI parameter instead.
struct SSHSession {
    static let directory = "/run/tandem/fence_libvirt"
    static let ssh = "/usr/bin/ssh"

    static func optionsFile(for pid: pid_t) -> String { "\(directory)/ssh-\(pid)" }

    let parameters: FenceParameters
    /// The hypervisor this session reaches.
    let uri: HypervisorURI

    /// The URI libvirt is given.
    var connectionURI: String {
        if uri.usesOpenSSH, uri.parameter("command") == nil, let program = SSHSession.ownPath {
            var added = [("command", program)]
            if uri.parameter("no_tty") == nil { added.append(("no_tty", "1")) }
            return uri.adding(added)
        }
        if uri.usesLibSSH, let file = parameters.knownHosts { return uri.adding([("known_hosts", file)]) }
        return uri.text
    }

    /// The options for the wrapped ssh.
    var sshOptions: [String] {
        var options = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=\(parameters.connectTimeout)"]
        // no_verify=1 is the URI's explicit choice to accept new host keys; otherwise strict.
        if uri.parameter("no_verify") != "1" { options += ["-o", "StrictHostKeyChecking=yes"] }
        if let file = parameters.knownHosts { options += ["-o", "UserKnownHostsFile=\(file)"] }
        if parameters.sshPersist > 0 {
            // %C: a hash of local host, remote host, port and user; the directory is root's alone.
            options += ["-o", "ControlMaster=auto", "-o", "ControlPath=\(SSHSession.directory)/cm-%C",
                        "-o", "ControlPersist=\(parameters.sshPersist)", "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=3"]
        }
        return options
    }

    /// Whether libvirt will run this executable as its ssh program.
    var wrapsSSH: Bool { uri.usesOpenSSH && uri.parameter("command") == nil }

    /// Puts the options where the wrapped run finds them (and removes files of agents that are
    /// gone: one killed at its deadline leaves its file).
    func prepare() throws(FenceFailure) {
        guard wrapsSSH else { return }
        for path in ["/run/tandem", SSHSession.directory] where mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw FenceFailure("cannot create \(path): \(Errno.current)")
        }
        SSHSession.removeStaleFiles()
        let text = sshOptions.joined(separator: "\n") + "\n"
        let path = SSHSession.optionsFile(for: getpid())
        do {
            let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600)
            defer { file.close() }
            try file.writeAll(text)
        } catch {
            throw FenceFailure("cannot write \(path): \(error)")
        }
    }

    /// Once connected, ssh runs on; its options are no longer needed.
    func finish() {
        if wrapsSSH { unlink(SSHSession.optionsFile(for: getpid())) }
    }

    static func removeStaleFiles() {
        for name in directoryNames(directory) {
            guard name.hasPrefix("ssh-"), let pid = Int32(name.dropFirst(4)), kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(optionsFile(for: pid))
        }
    }

    /// The options, when this run is libvirt's ssh program: its parent left them, and the
    /// arguments are ssh's as libvirt builds them (`… -T -e none … -- host sh -c …`), which a
    /// person's or the fencer's run never has.
    static func wrappedOptions(arguments: [String]) -> [String]? {
        guard arguments.contains("--"), arguments.contains("-T") else { return nil }
        let descriptor = open(optionsFile(for: getppid()), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// This executable, for libvirt to run as its ssh program.
    static var ownPath: String? { readLink("/proc/self/exe") }

    /// The wrapped run: libvirt started this executable as its ssh program. Executes ssh with
    /// the options, then libvirt's arguments; never returns.
    static func execute(options: [String], arguments: [String]) -> Never {
        let argv = [ssh] + options + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        execv(ssh, &cArguments)
        let reason = Errno.current.message
        let message = "fence_libvirt: cannot run \(ssh): \(reason)\n"
        _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        _exit(255)
    }
}
