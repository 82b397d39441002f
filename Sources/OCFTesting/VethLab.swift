import Glibc
import Netlink
import OCF

/// Two throw-away network namespaces joined by a veth pair: the agent acts in `local`, the
/// test watches and reaches it from `peer`. Set up with `ip` (test scaffolding only; the code
/// under test talks netlink), removed on `close()` or deinit.
public final class VethLab {
    public let local: String
    public let peer: String
    /// The interface names inside each namespace.
    public let localInterface = "lab0"
    public let peerInterface = "peer0"
    private var closed = false

    /// Creates the namespaces `<prefix>-<pid>-<n>-a|b`, the veth pair, and brings everything up.
    /// - Parameters:
    ///   - localAddresses, peerAddresses: addresses with prefix (`198.18.0.1/24`,
    ///     `2001:db8::1/64`); IPv6 ones are added with nodad so they are usable at once.
    public init(prefix: String = "tandem", localAddresses: [String] = [], peerAddresses: [String] = []) throws {
        let name = "\(prefix)-\(getpid())-\(VethLab.nextNumber())"
        local = name + "-a"
        peer = name + "-b"
        do {
            try VethLab.ip(["netns", "add", local])
            try VethLab.ip(["netns", "add", peer])
            try VethLab.ip(["link", "add", localInterface, "netns", local, "type", "veth", "peer", "name", peerInterface, "netns", peer])
            for (namespace, interface, addresses) in [(local, localInterface, localAddresses), (peer, peerInterface, peerAddresses)] {
                try VethLab.ip(["-n", namespace, "link", "set", "lo", "up"])
                try VethLab.ip(["-n", namespace, "link", "set", interface, "up"])
                for address in addresses {
                    try VethLab.ip(["-n", namespace, "addr", "add", address, "dev", interface] + (address.contains(":") ? ["nodad"] : []))
                }
            }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Deletes both namespaces (the veth pair goes with them).
    public func close() {
        guard !closed else { return }
        closed = true
        _ = try? VethLab.ip(["netns", "del", local])
        _ = try? VethLab.ip(["netns", "del", peer])
    }

    /// Opens one of the namespaces, for sockets created in it.
    public func namespace(_ name: String) throws -> NetworkNamespace { try NetworkNamespace(named: name) }

    /// The addresses in the local namespace, read over netlink: the "nothing changed" snapshot.
    public func localAddresses() throws -> [InterfaceAddress] {
        try RouteSocket(in: namespace(local)).addresses().sorted { $0.description < $1.description }
    }

    /// Runs `ip` with arguments (never a shell); throws with its stderr when it fails.
    @discardableResult
    public static func ip(_ arguments: [String]) throws -> Command.Result {
        let result = try Command("ip", arguments).run(deadline: .now + .seconds(20))
        guard result.status == 0 else { throw LabError("ip \(arguments.joined(separator: " ")): \(result.errorOutput)") }
        return result
    }

    /// Runs a command inside a namespace (`ip netns exec`).
    public func run(in namespace: String, _ executable: String, _ arguments: [String],
                    timeout: Duration = .seconds(20)) throws -> Command.Result {
        try Command("ip", ["netns", "exec", namespace, executable] + arguments).run(deadline: .now + timeout)
    }

    private static let counter = Counter()
    private static func nextNumber() -> Int { counter.next() }
}

/// A process-wide counter safe to use from parallel tests.
final class Counter: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var value = 0
    init() { pthread_mutex_init(&mutex, nil) }
    func next() -> Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        value += 1
        return value
    }
}

public struct LabError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
