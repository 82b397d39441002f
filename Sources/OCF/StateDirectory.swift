import Glibc
@_exported import StateFiles

/// The directory for agent runtime state: `$HA_RSCTMP`, by default `/run/resource-agents`,
/// a tmpfs emptied at boot, exactly as the state it describes (addresses, daemons) is.
public struct StateDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public init(environment: Environment) {
        let configured = environment["HA_RSCTMP"] ?? ""
        path = configured.isEmpty ? "/run/resource-agents" : configured
    }

    /// What keeps the directory from taking writes: "full" or "read-only" (statvfs); `nil`
    /// when it takes them. For exit reasons: a heartbeat that stopped may be a file system's fault.
    public var writeProblem: String? {
        var information = statvfs()
        guard statvfs(path, &information) == 0 else { return nil }
        if information.f_flag & UInt(ST_RDONLY) != 0 { return "\(path) is read-only" }
        if information.f_bavail == 0 || information.f_favail == 0 { return "\(path) is full" }
        return nil
    }

    /// Creates the directory (mode 0755, as resource-agents' tmpfiles.d does) when missing.
    /// - Throws: `StateError` naming `mkdir`.
    public func create() throws(StateError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw StateError(operation: "mkdir", path: path, errno: errno)
        }
    }

    /// A file in this directory, named `<agent>-<instance><suffix>`; `/` in an instance name
    /// (never valid in Pacemaker ids, but possible by hand) cannot escape the directory.
    public func file(agent: String, instance: String, suffix: String = "") -> StateFile {
        let safe = instance.replacingSlashes
        return StateFile(path: path + "/" + agent + "-" + safe + suffix)
    }
}

extension String {
    var replacingSlashes: String { String(map { $0 == "/" ? "_" : $0 }) }
}

