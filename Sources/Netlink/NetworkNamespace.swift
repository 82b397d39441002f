internal import CNetlink
import Glibc
import POSIX

/// A network namespace, held open by a file descriptor.
///
/// Sockets belong to the namespace they were created in. `perform(_:)` switches the calling
/// thread into the namespace, runs a synchronous body (create sockets there) and switches
/// back, so one process can hold sockets in several namespaces: this is how tests watch a
/// peer namespace and how agents act in a namespace other than their own. Network namespaces
/// are per thread (`setns(2)`), so other threads are never affected.
public final class NetworkNamespace: Sendable {
    let descriptor: Int32
    public let path: String

    /// Opens `/run/netns/<name>`, as `ip netns add` creates it.
    public convenience init(named name: String) throws(NetlinkError) {
        try self.init(path: "/run/netns/" + name)
    }

    /// Opens a namespace file such as `/proc/<pid>/ns/net` or `/run/netns/<name>`.
    /// - Throws: `NetlinkError` of kind `.noNamespace` when the file is missing or is not a
    ///   network namespace (a FIFO in its place does not block: it is opened non-blocking).
    public init(path: String) throws(NetlinkError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            throw NetlinkError(function: "open(\(path))", kind: .noNamespace, message: Errno.current.message)
        }
        guard tandem_namespace_type(fd) == TANDEM_CLONE_NEWNET else {
            close(fd)
            throw NetlinkError(function: "ioctl(\(path), NS_GET_NSTYPE)", kind: .noNamespace, message: "not a network namespace")
        }
        self.descriptor = fd
        self.path = path
    }

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Creates a new, empty network namespace that lives as long as this object (and whatever
    /// runs inside it). It has no name in /run/netns: nothing is left behind on the host.
    /// - Throws: `NetlinkError` naming `unshare`, `open` or `setns`.
    public static func create() throws(NetlinkError) -> NetworkNamespace {
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { throw NetlinkError(function: "open(/proc/thread-self/ns/net)", errno: errno) }
        defer { close(original) }
        // unshare moves only the calling thread; it opens the new namespace and returns at once.
        guard unshare(TANDEM_CLONE_NEWNET) == 0 else { throw NetlinkError(function: "unshare(CLONE_NEWNET)", errno: errno) }
        let created = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let openError = errno
        if setns(original, TANDEM_CLONE_NEWNET) != 0 { abort() }
        guard created >= 0 else { throw NetlinkError(function: "open(new namespace)", errno: openError) }
        // Other processes (an agent's netns parameter) reach it through this process's descriptor.
        return NetworkNamespace(descriptor: created, path: "/proc/\(getpid())/fd/\(created)")
    }

    deinit { close(descriptor) }

    /// Runs `body` with the calling thread inside this namespace, then returns to the
    /// thread's previous namespace. `body` must not suspend.
    /// - Throws: `NetlinkError` naming `setns` when switching fails, or what `body` throws.
    public func perform<T>(_ body: () throws -> T) throws -> T {
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { throw NetlinkError(function: "open(/proc/thread-self/ns/net)", errno: errno) }
        defer { close(original) }
        guard setns(descriptor, TANDEM_CLONE_NEWNET) == 0 else { throw NetlinkError(function: "setns(\(path))", errno: errno) }
        defer {
            // Returning can only fail if the original namespace vanished, which an open
            // descriptor prevents; a thread left in the wrong namespace must not go on.
            if setns(original, TANDEM_CLONE_NEWNET) != 0 { abort() }
        }
        return try body()
    }
}
