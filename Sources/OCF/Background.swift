import Glibc
import POSIX

/// Work that outlives the action: forked, detached, and recorded by its identity.
public enum Background {
    /// Forks a process that runs `body` detached from the agent, and returns its identity
    /// (`nil` when fork fails). Descriptors in `keeping` stay open for `body`.
    ///
    /// The child starts a new session (Pacemaker kills the agent's process group on timeout and
    /// waits for the agent alone), puts stdin, stdout and stderr on /dev/null (Pacemaker reads
    /// the agent's pipes until they close), and closes every other inherited descriptor: an
    /// inherited lock descriptor would hold the instance lock, and the next action would wait
    /// for the background work to end. This returns only once the child has closed them (or a
    /// second has passed): a child frozen or slow before that would hold the lock meanwhile.
    public static func run(keeping kept: Set<Int32> = [], _ body: () -> Never) -> ProcessIdentity? {
        var closed: [Int32] = [-1, -1]
        let notifying = pipe(&closed) == 0
        let pid = fork()
        if pid < 0 {
            if notifying { closed.forEach { close($0) } }
            return nil
        }
        if pid > 0 {
            if notifying { awaitClosed(closed) }
            return ProcessIdentity(pid: pid)
        }
        setsid()
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            dup2(null, STDIN_FILENO)
            dup2(null, STDOUT_FILENO)
            dup2(null, STDERR_FILENO)
        }
        for descriptor in openDescriptors() where descriptor > STDERR_FILENO && !kept.contains(descriptor) && descriptor != closed[1] {
            close(descriptor)
        }
        if notifying { close(closed[1]) }
        body()
    }

    /// Waits until the child closes its end of the pipe (end of file), a second at most.
    static func awaitClosed(_ ends: [Int32]) {
        close(ends[1])
        _ = try? FileDescriptor(ends[0]).read(upTo: 1, until: .now + .seconds(1))
        close(ends[0])
    }

    /// The descriptors this process has open, from /proc/self/fd.
    static func openDescriptors() -> [Int32] {
        // The listing's own descriptor is among them, closed by the time they are used: closing
        // it again does nothing.
        guard let entries = try? directoryEntries("/proc/self/fd") else { return Array(3..<1024) }
        return entries.compactMap { Int32($0.name) }
    }
}

extension Background {
    /// Starts `executable` detached from the agent, as `run` does (new session, stdin on
    /// /dev/null, no inherited descriptors but `keeping`), with stdout and stderr appended to
    /// `output` (a log file) or on /dev/null. Everything the child needs is prepared before the
    /// fork: between fork and exec it only makes system calls.
    /// - Returns: its identity, `nil` when fork fails.
    public static func launch(_ executable: String, _ arguments: [String], output: String?,
                              keeping kept: Set<Int32> = []) -> ProcessIdentity? {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        guard let path = strdup(executable), let outputPath = strdup(output ?? "/dev/null") else { return nil }
        defer { free(path); free(outputPath) }
        // Closed by the child's exec (close-on-exec), or its exit: then it holds nothing of ours.
        var execed: [Int32] = [-1, -1]
        let notifying = Command.closeOnExecPipe(&execed)
        let inherited = openDescriptors().filter { $0 > STDERR_FILENO && !kept.contains($0) && !(notifying && execed.contains($0)) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        let pid = fork()
        if pid < 0 {
            if notifying { execed.forEach { close($0) } }
            return nil
        }
        if pid > 0 {
            if notifying { awaitClosed(execed) }
            return ProcessIdentity(pid: pid)
        }
        if notifying { close(execed[0]) }
        setsid()
        // The forking thread's signal mask and an ignored SIGPIPE survive exec: a daemon started
        // from a thread that blocks signals (a test runner's) would never see SIGCHLD or SIGTERM.
        sigprocmask(SIG_SETMASK, &noSignals, nil)
        signal(SIGPIPE, SIG_DFL)
        let null = open("/dev/null", O_RDWR)
        var log = open(outputPath, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o600)
        if log < 0 { log = null }
        if null >= 0 { dup2(null, STDIN_FILENO) }
        if log >= 0 {
            dup2(log, STDOUT_FILENO)
            dup2(log, STDERR_FILENO)
        }
        for descriptor in inherited { close(descriptor) }
        if null > STDERR_FILENO { close(null) }
        if log > STDERR_FILENO && log != null { close(log) }
        execv(path, argv)
        _exit(127)
    }

    /// Processes running `executable` whose first argument is `argument`: how a daemon an
    /// agent started is found again even when its identity was never recorded (the agent was
    /// killed between the fork and the record).
    public static func processes(running executable: String, withArgument argument: String) -> [ProcessIdentity] {
        var found: [ProcessIdentity] = []
        let wanted = Array(executable.utf8) + [0] + Array(argument.utf8) + [0]
        for name in directoryNames("/proc") {
            guard let pid = pid_t(name), pid != getpid() else { continue }
            let fd = open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: wanted.count + 1)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            close(fd)
            if count >= wanted.count, Array(buffer[..<wanted.count]) == wanted, let identity = ProcessIdentity(pid: pid) {
                found.append(identity)
            }
        }
        return found
    }
}
