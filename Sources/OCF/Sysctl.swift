import Glibc

/// One kernel setting under `/proc/sys`, read and written as an integer.
///
/// `/proc/sys/net` belongs to the network namespace of the process that opens it.
public struct Sysctl: Hashable, Sendable, CustomStringConvertible {
    /// The path below `/proc/sys`, e.g. `net/ipv4/conf/eth0/arp_ignore`.
    public let name: String

    public init(_ name: String) { self.name = name }

    public var path: String { "/proc/sys/" + name }
    /// The dotted name `sysctl(8)` uses.
    public var description: String { String(name.map { $0 == "/" ? "." : $0 }) }

    /// The current value; `nil` when the file holds no integer.
    /// - Throws: `StateError` naming `open` or `read` (ENOENT: no such setting here).
    public func read() throws(StateError) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StateError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { throw StateError(operation: "read", path: path, errno: count < 0 ? errno : EIO) }
        return Int(String(decoding: buffer[..<count].prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self))
    }

    /// Sets the value.
    /// - Throws: `StateError` naming `open` or `write`.
    public func write(_ value: Int) throws(StateError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StateError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        let text = Array("\(value)\n".utf8)
        let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == text.count else { throw StateError(operation: "write", path: path, errno: errno) }
    }

    /// Whether the setting exists here.
    public var exists: Bool { access(path, F_OK) == 0 }
}

/// Kernel settings as an agent reads and changes them: the seam where tests put a fake.
public protocol SysctlStore: Sendable {
    /// The value; `nil` when the setting holds no integer.
    /// - Throws: `StateError` (ENOENT: no such setting here).
    func read(_ sysctl: Sysctl) throws(StateError) -> Int?
    func write(_ value: Int, to sysctl: Sysctl) throws(StateError)
    func exists(_ sysctl: Sysctl) -> Bool
}

/// The node's own settings, in `/proc/sys`.
public struct ProcSysctls: SysctlStore {
    public init() {}
    public func read(_ sysctl: Sysctl) throws(StateError) -> Int? { try sysctl.read() }
    public func write(_ value: Int, to sysctl: Sysctl) throws(StateError) { try sysctl.write(value) }
    public func exists(_ sysctl: Sysctl) -> Bool { sysctl.exists }
}

extension AgentContext {
    /// The sysctls as the agent should use them: every read and write in the trace when the
    /// action is traced, the store itself otherwise.
    public func traced(_ store: any SysctlStore) -> any SysctlStore {
        guard let trace else { return store }
        return TracedSysctls(base: store, trace: trace)
    }
}

/// Sysctls whose reads and writes go to a trace.
struct TracedSysctls: SysctlStore {
    let base: any SysctlStore
    let trace: Trace

    func read(_ sysctl: Sysctl) throws(StateError) -> Int? {
        do {
            let value = try base.read(sysctl)
            trace.write("sysctl \(sysctl) -> \(value.map(String.init) ?? "not an integer")")
            return value
        } catch {
            trace.write("sysctl \(sysctl) -> error \(error)")
            throw error
        }
    }

    func write(_ value: Int, to sysctl: Sysctl) throws(StateError) {
        trace.write("sysctl \(sysctl) <- \(value)")
        do { try base.write(value, to: sysctl) } catch {
            trace.write("sysctl \(sysctl) -> error \(error)")
            throw error
        }
    }

    func exists(_ sysctl: Sysctl) -> Bool { base.exists(sysctl) }
}
