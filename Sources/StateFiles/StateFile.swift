import Glibc
import POSIX

/// A failed file operation on agent state.
public struct StateError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errno: Int32
    /// For a lock that did not come: the process that holds it, when known.
    public let holder: pid_t?
    public init(operation: String, path: String, errno: Int32, holder: pid_t? = nil) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.holder = holder
    }
    /// A lock that stayed held until the deadline.
    public var isLockHeld: Bool { operation == "flock" && errno == EWOULDBLOCK }
    public var description: String {
        if isLockHeld { return "\(path) stayed locked" + (holder.map { " by pid \($0)" } ?? "") }
        return "\(operation) \(path): \(Errno(errno))"
    }
}

/// A small `key=value` file, written atomically with mode 0600.
///
/// State lives in a directory only root writes (`$HA_RSCTMP`), but neither reads nor writes
/// follow a symbolic link, and a half-written temporary file left by a killed writer is
/// replaced, never appended to or trusted.
public struct StateFile: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// The recorded values, or `nil` when the file does not exist. Lines without `=` are skipped.
    /// - Throws: `StateError` naming `open` or `read`.
    public func read() throws(StateError) -> [String: String]? {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW)
        } catch {
            if error.code == ENOENT { return nil }
            throw StateError(operation: "open", path: path, errno: error.code)
        }
        defer { file.close() }
        let data: [UInt8]
        do { data = try file.readToEnd() } catch { throw StateError(operation: "read", path: path, errno: error.code) }
        var values: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    /// What changes whenever the file is replaced or written (its inode, size and modification
    /// time), to notice a change without reading it; `nil` when it does not exist.
    public struct Signature: Equatable, Sendable {
        let inode: UInt
        let size: Int
        let modified: timespec

        public static func == (a: Signature, b: Signature) -> Bool {
            a.inode == b.inode && a.size == b.size && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
        }
    }

    public func signature() -> Signature? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Signature(inode: UInt(info.st_ino), size: Int(info.st_size), modified: info.st_mtim)
    }

    /// Replaces the file with `values`: written to `<path>.new` (created afresh, exclusively,
    /// never through a link) and renamed over the file, so a reader sees the old or the new
    /// file, never half of one. Control characters in keys and values become `?`.
    /// - Throws: `StateError` naming `open`, `write` or `rename`.
    public func write(_ values: [(String, String)]) throws(StateError) {
        let temporary = path + ".new"
        // Left by a writer killed between open and rename: nobody else writes it (callers hold
        // the lock of what the file describes).
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StateError(operation: "open", path: temporary, errno: errno) }
        var text = ""
        for (key, value) in values { text += "\(StateFile.clean(key))=\(StateFile.clean(value))\n" }
        do {
            try FileDescriptor(fd).writeAll(text)
        } catch {
            close(fd)
            unlink(temporary)
            throw StateError(operation: "write", path: temporary, errno: error.code)
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw StateError(operation: "rename", path: path, errno: code)
        }
    }

    /// Removes the file, and the temporary file of a writer killed before its rename;
    /// success when they are already gone.
    /// - Throws: `StateError` naming `unlink`.
    public func remove() throws(StateError) {
        for file in [path + ".new", path] where unlink(file) != 0 && errno != ENOENT {
            throw StateError(operation: "unlink", path: file, errno: errno)
        }
    }

    /// One line: control characters become `?`.
    static func clean(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) else { return text }
        return String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }
}

/// An exclusive `flock(2)` on a file, held until this object is released.
///
/// Pacemaker runs operations of different resources of one agent at the same time; shared
/// state (sysctls, the IPVS table) is changed under a lock.
public final class FileLock {
    let descriptor: Int32
    public let path: String

    /// Takes the lock, waiting until `deadline` at most.
    /// - Throws: `StateError` naming `open` or `flock` (`EWOULDBLOCK` when the deadline passed).
    public init(path: String, deadline: ContinuousClock.Instant) throws(StateError) {
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        var code = errno
        // A read-only file system: an existing lock file still locks (flock needs no write access).
        if fd < 0 && code == EROFS {
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            if fd < 0 && errno != ENOENT { code = errno }
        }
        guard fd >= 0 else { throw StateError(operation: "open", path: path, errno: code) }
        self.descriptor = fd
        self.path = path
        // flock(2) has no timeout: try, then wait a little longer each time, until the deadline.
        var pause = Duration.milliseconds(1)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else {
                close(fd)
                throw StateError(operation: "flock", path: path, errno: code)
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else {
                let holder = FileLock.holder(of: fd)
                close(fd)
                throw StateError(operation: "flock", path: path, errno: EWOULDBLOCK, holder: holder)
            }
            sleep(for: min(pause, remaining))
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    deinit { close(descriptor) }  // closing the last descriptor releases the lock

    /// The process holding a flock on the file open at `fd`, from /proc/locks (which names
    /// each lock's file by device and inode); `nil` when none is listed.
    static func holder(of fd: Int32) -> pid_t? {
        lockListHolder(of: fd) ?? descriptorHolder(of: fd)
    }

    /// From /proc/locks, by device and inode (those of an overlay file system are not the ones
    /// it lists: then `descriptorHolder`).
    private static func lockListHolder(of fd: Int32) -> pid_t? {
        var information = stat()
        guard fstat(fd, &information) == 0, let file = fopen("/proc/locks", "r") else { return nil }
        defer { fclose(file) }
        let device = "\(String(major(information.st_dev), radix: 16, uppercase: false).leftPadded(2)):"
            + "\(String(minor(information.st_dev), radix: 16, uppercase: false).leftPadded(2)):\(information.st_ino)"
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            // "1: FLOCK  ADVISORY  WRITE 1234 00:17:4071 0 EOF"
            let fields = String(cString: line).split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 6, fields[1] == "FLOCK", fields[5] == device[...] { return pid_t(fields[4]) }
        }
        return nil
    }
}

extension FileLock {
    /// The process with a descriptor on the same file that holds a lock on it (its fdinfo has a
    /// `lock:` line), found through /proc/<pid>/fd: slower, for when /proc/locks does not name it.
    fileprivate static func descriptorHolder(of fd: Int32) -> pid_t? {
        guard let path = readLink("/proc/self/fd/\(fd)") else { return nil }
        for name in directoryNames("/proc") {
            guard let pid = pid_t(name), pid != getpid() else { continue }
            for number in directoryNames("/proc/\(pid)/fd") {
                guard Int32(number) != nil, readLink("/proc/\(pid)/fd/\(number)") == path,
                      let info = fopen("/proc/\(pid)/fdinfo/\(number)", "r") else { continue }
                defer { fclose(info) }
                var line: UnsafeMutablePointer<CChar>?
                var capacity = 0
                defer { free(line) }
                while getline(&line, &capacity, info) > 0, let line {
                    if String(cString: line).hasPrefix("lock:") { return pid }
                }
            }
        }
        return nil
    }
}

private func major(_ device: dev_t) -> UInt32 { UInt32((device >> 8) & 0xfff) | UInt32((device >> 32) & ~0xfff) }
private func minor(_ device: dev_t) -> UInt32 { UInt32(device & 0xff) | UInt32((device >> 12) & ~0xff) }

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// Sleeps the calling thread (agents are single-threaded command-line processes).
public func sleep(for duration: Duration) {
    let (seconds, attoseconds) = duration.components
    guard seconds > 0 || attoseconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// Milliseconds on `CLOCK_BOOTTIME`: comparable between processes (a daemon's heartbeat, an
/// agent's monitor), immune to changes of the wall clock, and counting through a suspend.
public func bootTimeMilliseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_BOOTTIME, &time)
    return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
}
