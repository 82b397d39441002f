import Addresses
import Netlink
import OCF

/// What the health checker (ocf:tandem:healthcheck) has changed in a virtual service, which the
/// ipvs agent must keep instead of treating it as drift.
///
/// The contract between the two agents: the health checker writes one file per service,
/// `$HA_RSCTMP/ipvs-health-<service>`, one line per real server it currently overrides:
///
///     192.0.2.11:80=weight 0           quiesced (or any weight it chose)
///     192.0.2.12:80=removed            taken out of the table
///     192.0.2.99:80=fallback masq 1    a fallback ("sorry") server it added while all were down
///
/// and removes a line when the override ends (and the file when it stops). The ipvs agent reads
/// the file at every monitor, reload and start and plans with it; it never writes it.
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

    public init(_ entries: [IPVSDestination.Key: Override] = [:]) { self.entries = entries }

    /// The file for one service.
    public static func file(for service: ServiceSpec, in state: StateDirectory) -> StateFile {
        let name = String(service.description.map { $0.isLetter || $0.isNumber || $0 == "." ? $0 : "_" })
        return StateFile(path: state.path + "/ipvs-health-" + name)
    }

    /// Reads the overrides of a service; none when there is no file. Lines that do not parse
    /// are reported in `ignored`, never guessed at.
    public static func load(for service: ServiceSpec, in state: StateDirectory) throws -> (HealthOverrides, ignored: [String]) {
        guard let values = try file(for: service, in: state).read() else { return (HealthOverrides(), []) }
        var overrides = HealthOverrides()
        var ignored: [String] = []
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
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
                if let destination = try? RealServers.parse(key + " " + words[1], for: service).first {
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

    /// Writes the overrides of a service (the health checker's side of the contract); an empty
    /// set removes the file.
    public func save(for service: ServiceSpec, in state: StateDirectory) throws {
        let file = HealthOverrides.file(for: service, in: state)
        guard !entries.isEmpty else { return try file.remove() }
        var lines: [(String, String)] = []
        for (key, override) in entries.sorted(by: { $0.key.description < $1.key.description }) {
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
}
