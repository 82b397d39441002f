import Glibc
import POSIX

/// Runs another program with an argument array — never through a shell — and collects its
/// output, within a deadline.
///
/// Agents use it only for the official interfaces that have no library (`attrd_updater`,
/// `crm_attribute`); tests and benchmarks use it to run agents and tools.
public struct Command: Sendable {
    public let executable: String
    public let arguments: [String]
    /// The child's whole environment; `nil` inherits this process's.
    public var environment: [String: String]?
    /// Bytes written to the child's stdin, which is then closed; `nil` gives it `/dev/null`.
    public var input: [UInt8]?

    public init(_ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil,
                input: [UInt8]? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.input = input
    }

    /// How a command ended.
    public struct Result: Sendable {
        /// The exit status, or 128 + the signal that ended it.
        public let status: Int32
        public let standardOutput: [UInt8]
        public let standardError: [UInt8]
        /// The deadline passed and the command was killed.
        public let timedOut: Bool

        public var output: String { String(decoding: standardOutput, as: UTF8.self) }
        public var errorOutput: String { String(decoding: standardError, as: UTF8.self) }
    }

    /// A failure to start the command at all.
    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        public let executable: String
        public let errno: Int32
        public var description: String { "cannot run \(executable): \(Errno(errno))" }
    }

    /// Runs the command to completion or until `deadline`, when it is sent SIGTERM and, a
    /// second later, SIGKILL. A bare executable name is looked up in `PATH`.
    /// - Throws: `SpawnError` when the program cannot be started.
    public func run(deadline: ContinuousClock.Instant) throws(SpawnError) -> Result {
        let process = try start()
        return process.wait(deadline: deadline)
    }

    /// pipe2(O_CLOEXEC) is hidden behind _GNU_SOURCE in Swift's Glibc; this is its portable form
    /// (agents are single-threaded, so nothing can fork between the two calls).
    static func closeOnExecPipe(_ descriptors: inout [Int32]) -> Bool {
        guard pipe(&descriptors) == 0 else { return false }
        for fd in descriptors { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    /// Starts the command and returns at once; `RunningCommand.wait(deadline:)` collects it.
    public func start() throws(SpawnError) -> RunningCommand {
        var stdinPipe: [Int32] = [-1, -1], stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1]
        guard Command.closeOnExecPipe(&stdoutPipe), Command.closeOnExecPipe(&stderrPipe),
              input == nil || Command.closeOnExecPipe(&stdinPipe)
        else { throw SpawnError(executable: executable, errno: errno) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil {
            posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], STDIN_FILENO)
        } else {
            posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], STDERR_FILENO)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so a timeout can stop the command and everything it started.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        sigaddset(&defaultSignals, SIGPIPE)
        sigaddset(&defaultSignals, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let variables: [UnsafeMutablePointer<CChar>?]? = environment.map { variables in
            variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        }
        defer { variables?.forEach { free($0) } }

        var pid: pid_t = 0
        let code = argv.withUnsafeBufferPointer { argvPointer in
            if let variables {
                return variables.withUnsafeBufferPointer {
                    posix_spawnp(&pid, executable, &actions, &attributes, argvPointer.baseAddress!, $0.baseAddress!)
                }
            }
            return posix_spawnp(&pid, executable, &actions, &attributes, argvPointer.baseAddress!, environ)
        }
        close(stdoutPipe[1])
        close(stderrPipe[1])
        if input != nil { close(stdinPipe[0]) }
        guard code == 0 else {
            close(stdoutPipe[0])
            close(stderrPipe[0])
            if input != nil { close(stdinPipe[1]) }
            throw SpawnError(executable: executable, errno: code)
        }
        if let input {
            // Small inputs (parameters on stdin) fit the pipe buffer; a child that exits early
            // makes the write fail with EPIPE, which is its business, not ours.
            let saved = signal(SIGPIPE, SIG_IGN)
            try? FileDescriptor(stdinPipe[1]).writeAll(input)
            close(stdinPipe[1])
            signal(SIGPIPE, saved)
        }
        return RunningCommand(pid: pid, standardOutput: stdoutPipe[0], standardError: stderrPipe[0])
    }
}

/// A started command whose output is still to be read.
public final class RunningCommand {
    public let pid: pid_t
    private let descriptors: [Int32]

    init(pid: pid_t, standardOutput: Int32, standardError: Int32) {
        self.pid = pid
        self.descriptors = [standardOutput, standardError]
    }

    /// Reads the output until the command closes it and exits, then reaps the command; at
    /// `deadline` the command is terminated, whether it still writes or not. Output still held
    /// open by something the command left running is not waited for.
    public func wait(deadline: ContinuousClock.Instant) -> Command.Result {
        var outputs: [[UInt8]] = [[], []]
        var open = [true, true]
        var timedOut = false
        var status: Int32 = 0
        var reaped = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open.contains(true) {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero {
                timedOut = true
                reaped = terminate(status: &status)
                break
            }
            var pollers = descriptors.enumerated().map { index, fd in
                pollfd(fd: open[index] ? fd : -1, events: Int16(POLLIN), revents: 0)
            }
            let milliseconds = Int32(clamping: remaining.components.seconds * 1000 + 1)
            let ready = poll(&pollers, nfds_t(pollers.count), min(milliseconds, 100))
            if ready == 0 {
                // Quiet pipes: if the command itself has exited, whatever holds them is not ours to wait for.
                if waitpid(pid, &status, WNOHANG) == pid {
                    reaped = true
                    // What it wrote between the quiet poll and its exit is in the pipes already.
                    drain(into: &outputs, open: open, buffer: &buffer)
                    break
                }
                continue
            }
            if ready < 0 { continue }
            for index in 0..<2 where open[index] && pollers[index].revents != 0 {
                do {
                    let count = try FileDescriptor(descriptors[index]).read(into: &buffer)
                    if count > 0 { outputs[index] += buffer[..<count] } else { open[index] = false }
                } catch {
                    if error.code != EAGAIN { open[index] = false }
                }
            }
        }
        descriptors.forEach { close($0) }
        // Its output is closed; the command may still linger (a slow exit, or a stopped
        // process): it has until the deadline too.
        var pause = Duration.microseconds(100)
        while !reaped {
            let answer = try? retryingInterrupts { waitpid(pid, &status, WNOHANG) }
            if answer == pid || answer == nil {
                reaped = answer == pid
                break
            }
            if ContinuousClock.now >= deadline {
                timedOut = true
                reaped = terminate(status: &status)
                break
            }
            sleep(for: pause)
            pause = min(pause * 2, .milliseconds(20))
        }
        let exit = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Command.Result(status: reaped ? exit : 128 + SIGKILL, standardOutput: outputs[0], standardError: outputs[1],
                              timedOut: timedOut)
    }

    /// Reads what the pipes hold now, without waiting for more (a process the command left
    /// behind may keep them open).
    private func drain(into outputs: inout [[UInt8]], open: [Bool], buffer: inout [UInt8]) {
        for index in 0..<2 where open[index] {
            while true {
                var poller = pollfd(fd: descriptors[index], events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 0) > 0, poller.revents & Int16(POLLIN) != 0 else { break }
                guard let count = try? FileDescriptor(descriptors[index]).read(into: &buffer), count > 0 else { break }
                outputs[index] += buffer[..<count]
            }
        }
    }

    /// SIGTERM to the command's process group, then SIGKILL if it is still there a second later.
    /// - Returns: whether the command was reaped with its status filled in.
    private func terminate(status: inout Int32) -> Bool {
        kill(-pid, SIGTERM)
        let patience = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < patience {
            if waitpid(pid, &status, WNOHANG) == pid { return true }
            sleep(for: .milliseconds(10))
        }
        kill(-pid, SIGKILL)
        // SIGKILL cannot be ignored, but a process in uninterruptible sleep dies only when it
        // wakes: wait a little, never forever.
        let grace = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < grace {
            if waitpid(pid, &status, WNOHANG) == pid { return true }
            sleep(for: .milliseconds(10))
        }
        return false
    }
}
