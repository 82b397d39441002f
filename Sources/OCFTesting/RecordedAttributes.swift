import Glibc
import OCF
import StateFiles

/// Node attributes for agents tested outside a cluster: `attrd_updater` and `crm_attribute`
/// are links to tandem-testtool in a directory put first on the agent's PATH, and they record
/// into a key=value file (the promotion score under `promotion-score`). The Pacemaker lab
/// tests use the real attrd.
public struct RecordedAttributes {
    public let directory: String
    public var file: String { directory + "/attributes" }

    public init(directory: String) throws {
        self.directory = directory
        mkdir(directory, 0o755)
        for program in ["attrd_updater", "crm_attribute"] {
            unlink(directory + "/" + program)
            guard symlink(AgentRunner.path(of: "tandem-testtool"), directory + "/" + program) == 0 else {
                throw LabError("cannot link \(program) in \(directory)")
            }
        }
    }

    /// What an agent run needs: the links first on PATH, the file, and the clone's meta
    /// attributes (agents publish only inside a promotable clone).
    public var environment: [String: String] {
        ["PATH": directory + ":/usr/sbin:/usr/bin:/sbin:/bin", "TANDEM_RECORDED_ATTRIBUTES": file,
         "OCF_RESKEY_CRM_meta_promoted_max": "1", "OCF_RESKEY_CRM_meta_clone_max": "2", "OCF_RESKEY_CRM_meta_promotable": "true"]
    }

    /// The attributes as recorded.
    public func values() -> [String: String] { (try? StateFile(path: file).read()) ?? [:] }
    public subscript(name: String) -> String? { values()[name] }
    public var promotionScore: Int? { values()["promotion-score"].flatMap { Int($0) } }

    public func clear() { unlink(file) }

    /// Runs as `attrd_updater -n NAME -U VALUE | -D` or `crm_attribute --promotion -v SCORE | -D`.
    public static func record(program: String, _ arguments: [String]) throws {
        guard let path = getenv("TANDEM_RECORDED_ATTRIBUTES").map({ String(cString: $0) }) else {
            throw LabError("TANDEM_RECORDED_ATTRIBUTES is not set")
        }
        func value(after flag: String) -> String? {
            arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
        }
        let name: String
        if program == "crm_attribute" {
            guard arguments.contains("--promotion") else { throw LabError("crm_attribute \(arguments): only --promotion is recorded") }
            name = "promotion-score"
        } else {
            guard let given = value(after: "-n") else { throw LabError("attrd_updater \(arguments): no -n") }
            name = given
        }
        let lock = try FileLock(path: path + ".lock", deadline: .now + .seconds(10))
        defer { _ = lock }
        let file = StateFile(path: path)
        var values = (try file.read()) ?? [:]
        if arguments.contains("-D") {
            values[name] = nil
        } else if let update = value(after: program == "crm_attribute" ? "-v" : "-U") {
            values[name] = update
        } else {
            throw LabError("\(program) \(arguments): neither an update nor a delete")
        }
        try file.write(values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }
}
