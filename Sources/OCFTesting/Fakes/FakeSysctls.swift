import Glibc
import Netlink
import OCF
import Synchronization

/// Kernel settings in memory; writes are changes a test can kill an agent at.
public final class FakeSysctls: SysctlStore, @unchecked Sendable {
    let steps: StepCounter
    private let values: Mutex<[Sysctl: Int]>

    /// - Parameter values: the settings that exist, by name (`net/ipv4/conf/all/arp_ignore`).
    public init(_ values: [String: Int], steps: StepCounter) {
        self.steps = steps
        self.values = Mutex(Dictionary(uniqueKeysWithValues: values.map { (Sysctl($0.key), $0.value) }))
    }

    /// Every setting, to compare or restore.
    public var snapshot: [Sysctl: Int] { values.withLock { $0 } }
    public func restore(_ snapshot: [Sysctl: Int]) { values.withLock { $0 = snapshot } }
    public func setByHand(_ name: String, _ value: Int) { values.withLock { $0[Sysctl(name)] = value } }

    public func read(_ sysctl: Sysctl) throws(StateError) -> Int? {
        do { try steps.alive() } catch { throw StateError(operation: "read (killed)", path: sysctl.path, errno: EINTR) }
        guard let value = values.withLock({ $0[sysctl] }) else { throw StateError(operation: "open", path: sysctl.path, errno: ENOENT) }
        return value
    }

    public func write(_ value: Int, to sysctl: Sysctl) throws(StateError) {
        do {
            try steps.change {
                guard values.withLock({ $0[sysctl] }) != nil else { throw NetlinkError(function: "open", errno: ENOENT) }
                values.withLock { $0[sysctl] = value }
            }
        } catch {
            throw StateError(operation: "write", path: sysctl.path, errno: error.kind == .notFound ? ENOENT : EINTR)
        }
    }

    public func exists(_ sysctl: Sysctl) -> Bool { values.withLock { $0[sysctl] != nil } }
}
