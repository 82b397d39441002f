import Addresses
import OCF

/// The ARP sysctls an IPv4 LVS-DR real server needs (arp_ignore=1, arp_announce=2 on the
/// network interface and on `all`), shared by every real-server address on the node.
///
/// A registry in `$HA_RSCTMP/vip-realserver.sysctl` keeps, per sysctl, the value found before
/// the first instance changed it and the instances that need it; the value is put back when
/// the last of them stops, and only if nobody changed it meanwhile.
struct RealServerSysctls {
    let state: StateDirectory
    let store: any SysctlStore
    let deadline: ContinuousClock.Instant

    static let wanted: [(setting: String, value: Int)] = [("arp_ignore", 1), ("arp_announce", 2)]

    static func sysctls(for interface: InterfaceName) -> [(Sysctl, Int)] {
        ["all", interface.rawValue].flatMap { scope in
            wanted.map { (Sysctl("net/ipv4/conf/\(scope)/\($0.setting)"), $0.value) }
        }
    }

    /// A registry entry's name, read back from the file: only the settings this type ever
    /// writes, so a damaged or planted line can never point a write elsewhere in /proc/sys.
    static func sysctl(named name: String) -> (Sysctl, wanted: Int)? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "net", parts[1] == "ipv4", parts[2] == "conf",
              parts[3] == "all" || InterfaceName(String(parts[3])) != nil,
              let wanted = wanted.first(where: { $0.setting == parts[4] })?.value
        else { return nil }
        return (Sysctl(name), wanted)
    }

    /// Whether the kernel applies what a real server needs on `interface` (it uses the larger
    /// of `all` and the interface's value for both settings). Returns the first problem.
    func problem(on interface: InterfaceName) -> String? {
        for (setting, wanted) in Self.wanted {
            let values = ["all", interface.rawValue].map { try? store.read(Sysctl("net/ipv4/conf/\($0)/\(setting)")) }
            guard let all = values[0] ?? nil, let own = values[1] ?? nil else {
                return "cannot read \(setting) of \(interface)"
            }
            let effective = max(all, own)
            let acceptable = setting == "arp_ignore" ? (1...8).contains(effective) : effective == wanted
            if !acceptable {
                return "\(setting) is \(effective) on \(interface): this real server may answer ARP for the address"
            }
        }
        return nil
    }

    /// Sets the sysctls for `instance`, recording the values found first: a start killed
    /// between the two leaves a registry that lets the stop put every value back.
    func acquire(interface: InterfaceName, instance: String) throws {
        let settings = RealServerSysctls.sysctls(for: interface)
        try withRegistry { registry in
            for (sysctl, _) in settings {
                let current = try store.read(sysctl)
                var entry = registry[sysctl.name] ?? Entry(original: current ?? 0, holders: [])
                entry.holders.insert(instance)
                registry[sysctl.name] = entry
            }
        } thenWhileLocked: {
            for (sysctl, value) in settings where try store.read(sysctl) != value {
                try store.write(value, to: sysctl)
            }
        }
    }

    /// Releases what `instance` holds; restores each sysctl no other instance needs, before
    /// the registry forgets it.
    func release(instance: String, log: Log) throws {
        // A registry that cannot be written any more (the state directory went read-only or
        // full) must not fail the stop: the values are put back already.
        try withRegistry(unwritable: { log.warning("cannot update the real-server sysctl registry (\($0)); the sysctls are restored") }) { registry in
            for (name, var entry) in registry where entry.holders.contains(instance) {
                entry.holders.remove(instance)
                guard entry.holders.isEmpty else {
                    registry[name] = entry
                    continue
                }
                registry[name] = nil
                guard let (sysctl, wanted) = RealServerSysctls.sysctl(named: name) else { continue }
                if (try? store.read(sysctl)) == wanted {
                    try store.write(entry.original, to: sysctl)
                } else {
                    log.info("\(sysctl) was changed by someone else meanwhile; left as it is")
                }
            }
        }
    }

    struct Entry {
        var original: Int
        var holders: Set<String>
    }

    /// Runs `body` on the registry under the agent-wide lock, writes it back, then runs
    /// `after` still under the lock.
    private func withRegistry(unwritable: ((StateError) -> Void)? = nil, _ body: (inout [String: Entry]) throws -> Void,
                              thenWhileLocked after: () throws -> Void = {}) throws {
        try state.create()
        let lock = try FileLock(path: state.path + "/vip-realserver.lock", deadline: deadline)
        defer { withExtendedLifetime(lock) {} }
        let file = StateFile(path: state.path + "/vip-realserver.sysctl")
        var registry: [String: Entry] = [:]
        for (name, text) in try file.read() ?? [:] where RealServerSysctls.sysctl(named: name) != nil {
            // "<original>|<holder> <holder> …"; Pacemaker ids contain neither "|" nor spaces.
            let parts = text.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let original = Int(parts[0]), (0...8).contains(original) else { continue }
            registry[name] = Entry(original: original, holders: Set(parts[1].split(separator: " ").map(String.init)))
        }
        try body(&registry)
        do throws(StateError) {
            if registry.isEmpty {
                try file.remove()
            } else {
                var pairs: [(String, String)] = []
                for (name, entry) in registry.sorted(by: { $0.key < $1.key }) {
                    pairs.append((name, "\(entry.original)|" + entry.holders.sorted().joined(separator: " ")))
                }
                try file.write(pairs)
            }
        } catch {
            guard let unwritable else { throw error }
            unwritable(error)
        }
        try after()
    }
}
