import Glibc
import OCF
import OCFTesting
import Testing

@Suite struct CommandTests {
    @Test func argumentsAreNeverInterpretedByAShell() throws {
        let result = try Command("/bin/echo", ["a; echo b", "$(id)", "`x`"]).run(deadline: .now + .seconds(10))
        #expect(result.status == 0)
        #expect(result.output == "a; echo b $(id) `x`\n")
    }

    @Test func statusEnvironmentAndInput() throws {
        let failing = try Command(AgentRunner.path(of: "tandem-testtool"), ["exit", "3"]).run(deadline: .now + .seconds(10))
        #expect(failing.status == 3)
        let env = try Command("/usr/bin/env", [], environment: ["ONLY": "this"]).run(deadline: .now + .seconds(10))
        #expect(env.output == "ONLY=this\n")
        let cat = try Command("/bin/cat", [], input: Array("fed on stdin".utf8)).run(deadline: .now + .seconds(10))
        #expect(cat.output == "fed on stdin")
    }

    @Test func deadlineKillsTheCommand() throws {
        let started = ContinuousClock.now
        let result = try Command("/bin/sleep", ["30"]).run(deadline: .now + .milliseconds(300))
        #expect(result.timedOut)
        #expect(started.duration(to: .now) < .seconds(10))
    }

    @Test func missingProgram() {
        #expect(throws: Command.SpawnError.self) { try Command("/nonexistent/tool").run(deadline: .now + .seconds(5)) }
    }

    /// A command that closes its output and lingers is still bound by the deadline.
    @Test func deadlineHoldsAfterTheOutputCloses() throws {
        let started = ContinuousClock.now
        let result = try Command(AgentRunner.path(of: "tandem-testtool"), ["close-and-hang"]).run(deadline: .now + .milliseconds(300))
        #expect(result.timedOut)
        #expect(started.duration(to: .now) < .seconds(5))
    }

    @Test func outputHeldByABackgroundChildIsNotWaitedFor() throws {
        let started = ContinuousClock.now
        let result = try Command(AgentRunner.path(of: "tandem-testtool"), ["leave-child"]).run(deadline: .now + .seconds(15))
        #expect(result.status == 0 && !result.timedOut && result.output == "done\n")
        #expect(started.duration(to: .now) < .seconds(10))
    }
}

@Suite struct StateTests {
    let directory: StateDirectory = {
        let path = "/tmp/tandem-statetests-\(getpid())"
        return StateDirectory(path: path)
    }()

    @Test func filesRoundTripWithMode0600() throws {
        try directory.create()
        let file = directory.file(agent: "vip", instance: "a/b", suffix: ".state")
        #expect(file.path.hasSuffix("/vip-a_b.state"), "a slash cannot leave the directory")
        #expect(try file.read() == nil)
        try file.write([("address", "192.0.2.1"), ("note", "line\nbreak")])
        #expect(try file.read() == ["address": "192.0.2.1", "note": "line?break"])
        var info = stat()
        #expect(stat(file.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        try file.remove()
        try file.remove()
        #expect(try file.read() == nil)
    }

    /// A killed writer's temporary file is replaced, a link planted in its place or the file's
    /// is never followed, and removing the state removes the temporary file too.
    @Test func stateFilesNeverFollowLinks() throws {
        try directory.create()
        let file = directory.file(agent: "vip", instance: "links")
        let target = directory.path + "/link-target"
        try writeFile(target, "untouched")
        symlink(target, file.path + ".new")
        try file.write([("a", "1")])
        #expect(try file.read() == ["a": "1"])
        #expect(readFile(target) == "untouched", "the link at .new was replaced, not followed")
        try file.remove()
        symlink(target, file.path)
        #expect(throws: StateError.self) { try file.read() }
        unlink(file.path)
        try writeFile(file.path + ".new", "half")
        try file.remove()
        #expect(access(file.path + ".new", F_OK) != 0, "a killed writer's temporary file goes with the state")
        unlink(target)
    }

    @Test func locksExcludeAndTimeOut() throws {
        try directory.create()
        let path = directory.path + "/lock-test"
        let held = try FileLock(path: path, deadline: .now + .seconds(1))
        #expect(throws: StateError.self) { try FileLock(path: path, deadline: .now + .milliseconds(100)) }
        withExtendedLifetime(held) {}
        _ = consume held
        let again = try FileLock(path: path, deadline: .now + .seconds(1))
        withExtendedLifetime(again) {}
    }

    @Test func stateDirectoryFollowsHARSCTMP() {
        #expect(StateDirectory(environment: Environment([:])).path == "/run/resource-agents")
        #expect(StateDirectory(environment: Environment(["HA_RSCTMP": "/x"])).path == "/x")
    }

    @Test func processIdentity() throws {
        let me = try #require(ProcessIdentity(pid: getpid()))
        #expect(me.isRunning)
        #expect(ProcessIdentity(me.description) == me)
        #expect(!ProcessIdentity(pid: me.pid, startTime: me.startTime + 1).isRunning, "a reused pid is not the same process")
        #expect(ProcessIdentity("garbage") == nil)
    }

    @Test func terminateWaitsUntilTheProcessIsGone() throws {
        let sleeper = try Command("/bin/sleep", ["30"]).start()
        let identity = try #require(ProcessIdentity(pid: sleeper.pid))
        // A terminated child is a zombie until reaped: done, as far as its own code goes.
        #expect(identity.terminate(by: .now + .seconds(5)))
        #expect(identity.isDone)
        #expect(sleeper.wait(deadline: .now + .seconds(5)).status == 128 + SIGTERM)
    }

    /// A frozen process (SIGSTOP) that ignores SIGTERM: SIGKILL, and then the wait for the kernel
    /// to end it, within the deadline. Reading its state right after the SIGKILL found it still
    /// there in some runs, and a stop that says so gets a node fenced.
    @Test(arguments: 1...5) func aFrozenProcessIsKilledAndWaitedFor(_ run: Int) throws {
        let stubborn = try Command(AgentRunner.path(of: "tandem-testtool"), ["ignore-term-and-hang"]).start()
        defer { kill(stubborn.pid, SIGKILL); _ = stubborn.wait(deadline: .now + .seconds(5)) }
        let identity = try #require(ProcessIdentity(pid: stubborn.pid))
        #expect(waitUntil(deadline: .now + .seconds(10)) { Self.ignoresSIGTERM(stubborn.pid) }, "SIGTERM ignored")
        kill(stubborn.pid, SIGSTOP)
        let began = ContinuousClock.now
        #expect(identity.terminate(patience: .milliseconds(100), by: .now + .seconds(3)), "run \(run): still there after SIGKILL")
        #expect(identity.isDone)
        #expect(began.duration(to: .now) < .seconds(3))
    }

    static func ignoresSIGTERM(_ pid: pid_t) -> Bool { signalMask("SigIgn", of: pid) & (1 << (UInt64(SIGTERM) - 1)) != 0 }
    static func handlesSIGTERM(_ pid: pid_t) -> Bool { signalMask("SigCgt", of: pid) & (1 << (UInt64(SIGTERM) - 1)) != 0 }

    /// A signal mask of /proc/<pid>/status (SigIgn, SigCgt).
    static func signalMask(_ name: String, of pid: pid_t) -> UInt64 {
        guard let line = readFile("/proc/\(pid)/status")?.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return UInt64(line.dropFirst(name.count + 1).trimmingPrefix(while: { $0 == " " || $0 == "\t" }), radix: 16) ?? 0
    }

    /// A frozen process that ends cleanly on SIGTERM (a handler, as a daemon has) gets SIGCONT
    /// with it: it ends by itself, never SIGKILLed.
    @Test func aFrozenProcessIsWokenToEndOnSIGTERM() throws {
        let daemon = try Command(AgentRunner.path(of: "tandem-testtool"), ["hang-until-term"]).start()
        defer { kill(daemon.pid, SIGKILL); _ = daemon.wait(deadline: .now + .seconds(5)) }
        let identity = try #require(ProcessIdentity(pid: daemon.pid))
        #expect(waitUntil(deadline: .now + .seconds(10)) { Self.handlesSIGTERM(daemon.pid) }, "SIGTERM handled")
        kill(daemon.pid, SIGSTOP)
        #expect(identity.terminate(by: .now + .seconds(6)))
        #expect(daemon.wait(deadline: .now + .seconds(5)).status == 0, "its handler ended it, not SIGKILL")
    }
}

@Suite struct NodeAttributeTests {
    @Test func namesAndValuesAreCheckedBeforeAnythingRuns() {
        let attributes = NodeAttributes(deadline: .now + .seconds(5), attrdUpdater: "/nonexistent", crmAttribute: "/nonexistent")
        #expect(throws: OCFError.self) { try attributes.update("-D", to: "1") }
        #expect(throws: OCFError.self) { try attributes.update("a b", to: "1") }
        #expect(throws: OCFError.self) { try attributes.update("ok", to: "--help") }
        // A valid call reaches the program, which is missing here.
        #expect { try attributes.update("rs_ok", to: "1") } throws: { ($0 as? OCFError)?.exitCode == .notInstalled }
    }

    @Test func toolFailuresAreErrors() throws {
        let attributes = NodeAttributes(deadline: .now + .seconds(5), attrdUpdater: "/bin/false")
        #expect { try attributes.delete("rs_ok") } throws: { ($0 as? OCFError)?.exitCode == .genericError }
    }
}

@Suite struct TextTests {
    @Test func includesFindsBytesAnywhere() {
        #expect("Could not connect: attribute does not exist".includes("does not exist"))
        #expect("abc".includes("abc") && "abc".includes("c") && "abc".includes(""))
        #expect(!"abc".includes("abcd") && !"abc".includes("bd") && !"".includes("a"))
        #expect("aaab".includes("aab"), "a partial match before the real one")
        #expect("Authorization: Bearer s3cr3t"[...].includes("s3cr3t"))
    }
}
