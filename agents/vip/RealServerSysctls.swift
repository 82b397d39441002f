import OCF

/// The ARP sysctls an IPv4 LVS-DR real server needs (arp_ignore=1, arp_announce=2 on the
/// network interface and on `all`), shared by every real-server address on the node.
///
/// A registry in `$HA_RSCTMP/vip-realserver.sysctl` keeps, per sysctl, the value found before
/// the first instance changed it and the instances that need it; the value is put back when
/// the last of them stops, and only if nobody changed it meanwhile.
struct RealServerSysctls {
    let state: StateDirectory
    let deadline: ContinuousClock.Instant

    static let wanted: [(setting: String, value: Int)] = [("arp_ignore", 1), ("arp_announce", 2)]

    static func sysctls(for interface: String) -> [(Sysctl, Int)] {
        ["all", interface].flatMap { scope in
            wanted.map { (Sysctl("net/ipv4/conf/\(scope)/\($0.setting)"), $0.value) }
        }
    }

    /// Whether the kernel applies what a real server needs on `interface` (it uses the larger
    /// of `all` and the interface's value for both settings). Returns the first problem.
    static func problem(on interface: String) -> String? {
        for (setting, wanted) in wanted {
            let values = ["all", interface].map { try? Sysctl("net/ipv4/conf/\($0)/\(setting)").read() }
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

    /// Sets the sysctls for `instance`, recording the values found.
    func acquire(interface: String, instance: String) throws {
        try withRegistry { registry in
            for (sysctl, value) in RealServerSysctls.sysctls(for: interface) {
                let current = try sysctl.read()
                var entry = registry[sysctl.name] ?? Entry(original: current ?? 0, holders: [])
                entry.holders.insert(instance)
                registry[sysctl.name] = entry
                if current != value { try sysctl.write(value) }
            }
        }
    }

    /// Releases what `instance` holds; restores each sysctl no other instance needs.
    func release(instance: String, log: Log) throws {
        try withRegistry { registry in
            for (name, var entry) in registry where entry.holders.contains(instance) {
                entry.holders.remove(instance)
                guard entry.holders.isEmpty else {
                    registry[name] = entry
                    continue
                }
                registry[name] = nil
                let sysctl = Sysctl(name)
                let wanted = RealServerSysctls.wanted.first { name.hasSuffix("/" + $0.setting) }?.value
                if (try? sysctl.read()) == wanted {
                    try sysctl.write(entry.original)
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

    /// Runs `body` on the registry under the agent-wide lock, then writes it back.
    private func withRegistry(_ body: (inout [String: Entry]) throws -> Void) throws {
        try state.create()
        let lock = try FileLock(path: state.path + "/vip-realserver.lock", deadline: deadline)
        defer { withExtendedLifetime(lock) {} }
        let file = StateFile(path: state.path + "/vip-realserver.sysctl")
        var registry: [String: Entry] = [:]
        for (name, text) in try file.read() ?? [:] {
            // "<original>|<holder> <holder> …"; Pacemaker ids contain neither "|" nor spaces.
            let parts = text.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let original = Int(parts[0]) else { continue }
            registry[name] = Entry(original: original, holders: Set(parts[1].split(separator: " ").map(String.init)))
        }
        try body(&registry)
        if registry.isEmpty {
            try file.remove()
        } else {
            var pairs: [(String, String)] = []
            for (name, entry) in registry.sorted(by: { $0.key < $1.key }) {
                pairs.append((name, "\(entry.original)|" + entry.holders.sorted().joined(separator: " ")))
            }
            try file.write(pairs)
        }
    }
}
