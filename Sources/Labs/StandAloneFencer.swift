import Glibc
import OCF
import OCFTesting

/// pacemaker-fenced in stand-alone mode (no corosync, no CIB), driven with stonith_admin
/// (shared/notes/libvirt-fencing.md §2). Its log stays in `directory`.
public final class StandAloneFencer {
    public let directory: String
    private var process: ProcessIdentity?

    public init(directory: String) throws {
        self.directory = directory
        _ = try Command("/bin/mkdir", ["-p", directory]).run(deadline: .now + .seconds(10))
        let log = directory + "/pacemaker-fenced.log"
        process = Background.launch("/usr/bin/env", [
            "PCMK_logfile=\(log)", "PCMK_debug=pacemaker-fenced", "PCMK_logfacility=none",
            "/usr/lib/pacemaker/pacemaker-fenced", "-s", "-l", log,
        ], output: directory + "/pacemaker-fenced.out")
        guard waitUntil(deadline: .now + .seconds(30), { (try? admin(["--list-registered"]).status) == 0 }) else {
            stop()
            throw LabError("pacemaker-fenced did not answer within 30 s: \(readFile(log)?.suffix(2000) ?? "")")
        }
    }

    deinit { stop() }

    public func stop() {
        _ = process?.terminate(patience: .seconds(12), by: .now + .seconds(15))
        process = nil
    }

    /// `stonith_admin ARGS`.
    public func admin(_ arguments: [String], timeout: Duration = .seconds(120)) throws -> Command.Result {
        try Command("/usr/sbin/stonith_admin", arguments).run(deadline: .now + timeout)
    }
}

/// The built fence agent where pacemaker-fenced looks for agents (/usr/sbin, nowhere else), as
/// a symbolic link, removed again by `remove()`. An installed agent of that name is left alone.
public struct FencerLink {
    public let path: String

    public init(agent: String = "fence_libvirt") throws {
        path = "/usr/sbin/" + agent
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFLNK else { throw LabError("\(path) is installed: the tests will not replace it") }
            unlink(path)
        }
        guard symlink(AgentRunner.path(of: agent), path) == 0 else { throw LabError("cannot link \(path): \(errno)") }
    }

    public func remove() { unlink(path) }
}
