/// Generates parameter sets for an agent: mixes of valid and invalid values, odd bytes, very
/// long values, missing parameters, names the agent does not know and the same parameter
/// twice under another spelling (`cidr-netmask` beside `cidr_netmask`, as crmsh users type it).
/// Deterministic for a seed, so a failure can be replayed.
public struct ParameterFuzzer {
    public let seed: UInt64
    private var state: UInt64
    let base: [String: String]
    let valid: [String: [String]]
    let names: [String]

    /// - Parameters:
    ///   - base: a valid configuration.
    ///   - valid: values the agent accepts, per parameter (every declared parameter should
    ///     have some, the base value is always among them).
    public init(seed: UInt64, base: [String: String], valid: [String: [String]]) {
        self.seed = seed
        state = seed
        self.base = base
        self.valid = valid
        names = Array(Set(valid.keys).union(base.keys)).sorted()
    }

    /// Values wrong for almost any parameter.
    static let wrong = [
        "", " ", "x; reboot", "$(reboot)", "`id`", "../../etc/passwd", "-1", "99999999999999999999999", "0x10", "1.5",
        "yes please", "\u{1}\u{2}", "tab\there", "new\nline", "é€𝄞", "NaN", "*", "%s%n", "\\", "'", "\"", "256.256.256.256",
        "::::", "[::1]", "lo", "eth0:1", String(repeating: "a", count: 300), String(repeating: "9", count: 5000),
    ]

    /// The next set.
    public mutating func next() -> [String: String] {
        var set: [String: String] = [:]
        let mode = random(4)  // 0: from the base, 1: from nothing, 2-3: from the base with more changes
        if mode != 1 { set = base }
        for name in names {
            switch random(mode == 0 ? 48 : 10) {
            case 0: set[name] = nil
            case 1: set[name] = pick(valid[name] ?? [])
            case 2: set[name] = pick(Self.wrong)
            case 3: set[name] = mutate(set[name] ?? pick(valid[name] ?? ["x"]) ?? "x")
            default: break
            }
        }
        if random(4) == 0 { set[pick(["bogus", "ipaddr", "weight", "trace_ra", "CRM_meta_fake", "x y", "é"]) ?? "bogus"] = pick(Self.wrong) }
        if random(4) == 0, let name = pick(names.filter { $0.contains("_") }) {
            set[String(name.map { $0 == "_" ? "-" : $0 })] = pick(valid[name] ?? Self.wrong) ?? "x"
        }
        if random(6) == 0, let name = pick(names) { set[name.uppercased()] = pick(Self.wrong) }
        return set
    }

    /// A short form for failure messages.
    public static func describe(_ set: [String: String]) -> String {
        set.sorted { $0.key < $1.key }.map { key, value in
            let shown = value.count > 40 ? String(value.prefix(20)) + "…(\(value.count))" : value
            return "\(key)=\(shown.debugDescription)"
        }.joined(separator: " ")
    }

    private mutating func mutate(_ value: String) -> String {
        switch random(5) {
        case 0: return value + pick(["x", "0", ":", "/", ",", " ", "%"]).map { $0 }!
        case 1: return String(value.dropLast())
        case 2: return value.uppercased()
        case 3: return value + value
        default: return " " + value
        }
    }

    private mutating func pick<T>(_ values: [T]) -> T? {
        values.isEmpty ? nil : values[random(values.count)]
    }

    /// SplitMix64.
    private mutating func random(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(bound))
    }
}
