import Addresses
import Netlink
import StateFiles

/// What the health checker (ocf:tandem:healthcheck) has changed in a virtual service, which the
/// ipvs agent must keep instead of treating it as drift.
///
/// The contract between the two agents, one pair of files per service and network namespace
/// (`HealthOverrides.Store`): `$HA_RSCTMP/ipvs-health-<service>[@<netns>]`, one line per real
/// server the checker currently overrides,
///
///     192.0.2.11:80=weight 0           quiesced (or any weight it chose)
///     192.0.2.12:80=removed            taken out of the table
///     192.0.2.99:80=fallback masq 1    a fallback ("sorry") server it added while all were down
///
/// and beside it the lock `…lock`. The ipvs agent publishes what it was configured with in a
/// third file, `ipvs-desired-<service>[@<netns>]` (`realservers=…` in the parameter's syntax),
/// written under the lock at start and reload-agent and removed at stop: the checker learns from
/// it which real servers to check and each one's configured weight.
///
/// The write order makes every interleaving converge:
/// - the checker, holding the lock, first writes the file (atomically), then changes the
///   kernel, then lets go; it removes a line when the override ends, the file when it stops;
/// - the ipvs agent, holding the same lock, reads the file and the kernel, plans and applies;
///   it never writes the file.
/// So a repair can never revert a weight the checker has just set: either the checker's whole
/// change happened before the agent looked (the file says so), or it happens after the agent
/// let go. A checker killed between its two steps leaves the file ahead of the kernel, and the
/// agent's next repair carries the kernel the rest of the way.
///
/// A stopped checker holds the servers it had taken out (`held-until=` in the file, on
/// CLOCK_BOOTTIME): a restart of the checker never sends traffic to a server it found dead. Its
/// next start takes them over (out until a check passes); if none comes within
/// `holdAfterStop`, the ipvs agent gives them their configured weights back and removes the file.
public struct HealthOverrides: Equatable, Sendable {
    public enum Override: Equatable, Sendable {
        /// The health checker set this weight (0 = quiesced).
        case weight(Int32)
        /// The health checker removed the real server.
        case removed
        /// The health checker added this server, which is not in `realservers`.
        case fallback(IPVSDestination)
    }

    public var entries: [IPVSDestination.Key: Override]
    /// Set when a stopped checker left these (`bootTimeMilliseconds()` when the hold ends).
    public var heldUntil: Int64?

    public init(_ entries: [IPVSDestination.Key: Override] = [:], heldUntil: Int64? = nil) {
        self.entries = entries
        self.heldUntil = heldUntil
    }

    /// How long (ms) a stopped checker's failed servers stay out without a checker.
    public static let holdAfterStop: Int64 = 60_000

    /// The overrides a stopping checker leaves, held until `until`: the real servers it took
    /// out (quiesced or removed) that `failed` names, and the fallback while none of
    /// `configured` is left serving; servers in slow start get their configured weight.
    /// - Parameter failed: whether a real server is out because it failed its checks (not for
    ///   maintenance, whose files the next checker reads again).
    public func held(until: Int64, failed: (IPVSDestination.Key) -> Bool = { _ in true },
                     configured: [IPVSDestination.Key]? = nil) -> HealthOverrides {
        var out = entries.filter { key, override in
            switch override {
            case .weight(let weight): weight == 0 && failed(key)
            case .removed: failed(key)
            case .fallback: false
            }
        }
        let noneServes = configured.map { $0.allSatisfy { out[$0] != nil } } ?? true
        if noneServes, !out.isEmpty {
            for (key, override) in entries { if case .fallback = override { out[key] = override } }
        }
        return HealthOverrides(out, heldUntil: out.isEmpty ? nil : until)
    }

    /// A hold whose time has passed.
    public func holdExpired(now: Int64 = bootTimeMilliseconds()) -> Bool { heldUntil.map { now > $0 } ?? false }

    /// The override file of one service in one network namespace, and its lock.
    public struct Store: Sendable {
        public let service: ServiceSpec
        public let file: StateFile
        public let lockPath: String
        /// The real servers the ipvs agent was configured with (its side of the contract).
        public let desiredFile: StateFile

        /// - Parameters:
        ///   - namespace: the namespace path of the service's IPVS table; `nil` for the agents' own.
        ///   - directory: the state directory (`$HA_RSCTMP`).
        public init(service: ServiceSpec, namespace: String?, directory: String) {
            self.service = service
            let name = "ipvs-health-" + Store.escape(service.description) + (namespace.map { "@" + Store.escape($0) } ?? "")
            file = StateFile(path: directory + "/" + name)
            lockPath = directory + "/" + name + ".lock"
            let desiredName = "ipvs-desired-" + Store.escape(service.description) + (namespace.map { "@" + Store.escape($0) } ?? "")
            desiredFile = StateFile(path: directory + "/" + desiredName)
        }

        /// Publishes the configured real servers (the ipvs agent's side, under the lock).
        public func publishDesired(_ destinations: [IPVSDestination]) throws {
            try desiredFile.write([("realservers", RealServers.format(destinations))])
        }

        /// The configured real servers as the ipvs agent published them; `nil` when no ipvs
        /// resource runs the service here.
        /// - Throws: `StateError` when the file cannot be read, `SpecError` when it does not parse.
        public func loadDesired() throws -> [IPVSDestination]? {
            guard let values = try desiredFile.read() else { return nil }
            let text = values["realservers"] ?? ""
            return text.isEmpty ? [] : try RealServers.parse(text, for: service)
        }

        /// Runs `body` holding the contract's lock (taken by `deadline` at most).
        /// - Throws: `StateError` naming `flock` when the lock stays held until the deadline,
        ///   or what `body` throws.
        public func withLock<T>(deadline: ContinuousClock.Instant, _ body: () throws -> T) throws -> T {
            let lock = try FileLock(path: lockPath, deadline: deadline)
            return try withExtendedLifetime(lock) { try body() }
        }

        /// Reads the overrides; none when there is no file. Lines that do not parse are reported
        /// in `ignored`, never guessed at.
        public func load() throws -> (HealthOverrides, ignored: [String]) {
            guard let values = try file.read() else { return (HealthOverrides(), []) }
            var overrides = HealthOverrides()
            var ignored: [String] = []
            for (key, value) in values.sorted(by: { $0.key < $1.key }) {
                if key == "held-until", let until = Int64(value) {
                    overrides.heldUntil = until
                    continue
                }
                guard let (address, port) = try? Endpoint.parse(key, context: key) else {
                    ignored.append("\(key)=\(value)")
                    continue
                }
                let destinationKey = IPVSDestination.Key(address: address, port: port ?? service.port)
                let words = value.split(separator: " ", maxSplits: 1).map(String.init)
                switch words.first {
                case "weight" where words.count == 2 && Int32(words[1]).map { (0...RealServers.maximumWeight).contains($0) } == true:
                    overrides.entries[destinationKey] = .weight(Int32(words[1]) ?? 0)
                case "removed" where words.count == 1:
                    overrides.entries[destinationKey] = .removed
                case "fallback" where words.count == 2:
                    if let destination = try? RealServers.parse(key + " " + words[1], for: service, allowLoopback: true).first {
                        overrides.entries[destination.key] = .fallback(destination)
                    } else {
                        ignored.append("\(key)=\(value)")
                    }
                default:
                    ignored.append("\(key)=\(value)")
                }
            }
            return (overrides, ignored)
        }

        /// Writes the overrides (the health checker's side, under the lock); an empty set
        /// removes the file.
        public func save(_ overrides: HealthOverrides) throws {
            guard !overrides.entries.isEmpty else { return try file.remove() }
            var lines: [(String, String)] = overrides.heldUntil.map { [("held-until", String($0))] } ?? []
            for (key, override) in overrides.entries.sorted(by: { $0.key.description < $1.key.description }) {
                switch override {
                case .weight(let weight): lines.append((key.description, "weight \(weight)"))
                case .removed: lines.append((key.description, "removed"))
                case .fallback(let destination):
                    let text = RealServers.format([destination])
                    let options = text.drop { $0 != " " }.dropFirst()
                    lines.append((key.description, "fallback " + options))
                }
            }
            try file.write(lines)
        }

        /// A file-name-safe form that keeps names apart: letters, digits, `.` and `-` stay,
        /// every other byte is `%XX`.
        static func escape(_ text: String) -> String {
            var escaped = ""
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                     UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"):
                    escaped.unicodeScalars.append(Unicode.Scalar(byte))
                default:
                    let hex = String(byte, radix: 16, uppercase: true)
                    escaped += "%" + (hex.count == 1 ? "0" + hex : hex)
                }
            }
            return escaped
        }
    }
}
