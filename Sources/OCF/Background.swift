import Glibc

/// Work that outlives the action: forked, detached, and recorded by its identity.
public enum Background {
    /// Forks a process that runs `body` detached from the agent, and returns its identity
    /// (`nil` when fork fails). Descriptors in `keeping` stay open for `body`.
    ///
    /// The child starts a new session (Pacemaker kills the agent's process group on timeout and
    /// waits for the agent alone), puts stdin, stdout and stderr on /dev/null (Pacemaker reads
    /// the agent's pipes until they close), and closes every other inherited descriptor: an
    /// inherited lock descriptor would hold the instance lock, and the next action would wait
    /// for the background work to end.
    public static func run(keeping kept: Set<Int32> = [], _ body: () -> Never) -> ProcessIdentity? {
        let pid = fork()
        if pid < 0 { return nil }
        if pid > 0 { return ProcessIdentity(pid: pid) }
        setsid()
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            dup2(null, STDIN_FILENO)
            dup2(null, STDOUT_FILENO)
            dup2(null, STDERR_FILENO)
        }
        for descriptor in openDescriptors() where descriptor > STDERR_FILENO && !kept.contains(descriptor) { close(descriptor) }
        body()
    }

    /// The descriptors this process has open, from /proc/self/fd.
    static func openDescriptors() -> [Int32] {
        guard let directory = opendir("/proc/self/fd") else { return Array(3..<1024) }
        defer { closedir(directory) }
        let own = dirfd(directory)
        var descriptors: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let descriptor = Int32(name), descriptor != own { descriptors.append(descriptor) }
        }
        return descriptors
    }
}
