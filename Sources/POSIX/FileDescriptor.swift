import Glibc

/// An open file descriptor, and the few ways Tandem reads and writes one: whole writes through
/// short writes and interruptions, reads to the end, and waits bounded by a deadline. It does not
/// own the descriptor: `close()` is explicit.
public struct FileDescriptor: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(STDIN_FILENO)
    public static let standardOutput = FileDescriptor(STDOUT_FILENO)
    public static let standardError = FileDescriptor(STDERR_FILENO)

    /// Opens `path` (with O_CLOEXEC added).
    /// - Throws: `Errno` from open(2).
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws(Errno) -> FileDescriptor {
        FileDescriptor(try retryingInterrupts { Glibc.open(path, flags | O_CLOEXEC, mode) })
    }

    public func close() { _ = Glibc.close(rawValue) }

    /// Writes all of `bytes`, through short writes and interruptions.
    /// - Throws: `Errno` from write(2) (EPIPE once nobody reads, ENOSPC, …).
    public func writeAll(_ bytes: some Collection<UInt8>) throws(Errno) {
        var rest = Array(bytes)[...]
        while !rest.isEmpty {
            let written = try retryingInterrupts { rest.withUnsafeBytes { Glibc.write(rawValue, $0.baseAddress, $0.count) } }
            // write(2) of a non-empty buffer never returns 0; never loop on it if it did.
            guard written > 0 else { throw Errno(EIO) }
            rest = rest.dropFirst(written)
        }
    }

    public func writeAll(_ text: String) throws(Errno) { try writeAll(text.utf8) }

    /// One read(2) into `buffer`, from its start: the number of bytes read, 0 at end of file.
    /// - Throws: `Errno` from read(2) (EAGAIN on a non-blocking descriptor with nothing to read).
    public func read(into buffer: inout [UInt8]) throws(Errno) -> Int {
        try retryingInterrupts { buffer.withUnsafeMutableBytes { Glibc.read(rawValue, $0.baseAddress, $0.count) } }
    }

    /// Everything up to end of file.
    /// - Throws: `Errno` from read(2).
    public func readToEnd() throws(Errno) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = try read(into: &buffer)
            if count == 0 { return bytes }
            bytes += buffer[..<count]
        }
    }

    /// Waits until the descriptor can be read (data, end of file or an error to report), or
    /// `deadline` passes: whether it can. Interruptions wait again for the time left.
    /// - Throws: `Errno` from poll(2).
    public func awaitReadable(until deadline: ContinuousClock.Instant) throws(Errno) -> Bool {
        var poller = pollfd(fd: rawValue, events: Int16(POLLIN), revents: 0)
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return false }
            let milliseconds = Int32(min(remaining / .milliseconds(1), 60_000).rounded(.up))
            let ready = poll(&poller, 1, milliseconds)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { throw Errno.current }
        }
    }

    /// One read of what arrives before `deadline`: the bytes, empty at end of file, `nil`
    /// when the deadline passed first.
    /// - Throws: `Errno` from poll(2) or read(2).
    public func read(upTo count: Int, until deadline: ContinuousClock.Instant) throws(Errno) -> [UInt8]? {
        guard try awaitReadable(until: deadline) else { return nil }
        var buffer = [UInt8](repeating: 0, count: count)
        let read = try read(into: &buffer)
        return Array(buffer[..<read])
    }
}

/// A whole file's bytes, `nil` when it does not exist. Never follows a link when `followLinks`
/// is false.
/// - Throws: `Errno` from open(2) or read(2).
public func readWholeFile(_ path: String, followLinks: Bool = true) throws(Errno) -> [UInt8]? {
    let file: FileDescriptor
    do {
        file = try FileDescriptor.open(path, O_RDONLY | (followLinks ? 0 : O_NOFOLLOW))
    } catch {
        if error.code == ENOENT { return nil }
        throw error
    }
    defer { file.close() }
    return try file.readToEnd()
}

/// A whole text file; `nil` when it does not exist or cannot be read.
public func readTextFile(_ path: String) -> String? {
    (try? readWholeFile(path)).map { String(decoding: $0, as: UTF8.self) }
}
