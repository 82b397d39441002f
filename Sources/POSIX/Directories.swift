import Glibc

/// A directory's entries, `.` and `..` left out: each name with the type readdir gives
/// (`DT_REG`, `DT_DIR`, …; `DT_UNKNOWN` where the file system does not say).
/// - Throws: `Errno` from opendir(3).
public func directoryEntries(_ path: String) throws(Errno) -> [(name: String, type: UInt8)] {
    guard let stream = opendir(path) else { throw Errno.current }
    defer { closedir(stream) }
    var entries: [(name: String, type: UInt8)] = []
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { entries.append((name, entry.pointee.d_type)) }
    }
    return entries
}

/// The names in a directory; empty when it cannot be read.
public func directoryNames(_ path: String) -> [String] {
    ((try? directoryEntries(path)) ?? []).map(\.name)
}

/// Where a symbolic link points (`/proc/PID/exe`, `/proc/self/fd/N`); `nil` when it is not one
/// or cannot be read.
public func readLink(_ path: String) -> String? {
    var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = buffer.withUnsafeMutableBytes { readlink(path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count - 1) }
    guard count > 0 else { return nil }
    return String(decoding: buffer[..<count], as: UTF8.self)
}
