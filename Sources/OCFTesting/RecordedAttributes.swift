import Glibc
import OCF
import StateFiles

/// Node attributes for agents tested outside a cluster: `attrd_updater` and `crm_attribute`
/// are links to tandem-testtool in a directory put first on the agent's PATH, and they record
/// into a key=value file (the promotion score under `promotion-score`). The Pacemaker lab
/// tests use the real attrd.
///
/// Recorders in directories with the same parent are the nodes of one cluster: a query of every
/// node (`attrd_updater -Q -A`) answers from each of them, as attrd does, each under its `node`.
public struct RecordedAttributes {
    public let directory: String
    public let node: String
    public var file: String { directory + "/attributes" }

    public init(directory: String, node: String = "node1") throws {
        self.directory = directory
        self.node = node
        mkdir(directory, 0o755)
        try writeFile(directory + "/node", node)
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
         "OCF_RESKEY_CRM_meta_promoted_max": "1", "OCF_RESKEY_CRM_meta_clone_max": "2", "OCF_RESKEY_CRM_meta_promotable": "true",
         "OCF_RESKEY_CRM_meta_on_node": node]
    }

    /// The attributes as recorded.
    public func values() -> [String: String] { (try? StateFile(path: file).read()) ?? [:] }
    public subscript(name: String) -> String? { values()[name] }
    public var promotionScore: Int? { values()["promotion-score"].flatMap { Int($0) } }

    public func clear() { unlink(file) }

    /// How the stand-in attrd behaves: answering, frozen (every call hangs, as attrd_updater
    /// does when attrd is SIGSTOPped) or gone (every call fails at once, as with attrd killed).
    public enum Behaviour: String, Sendable { case answering, frozen, gone }

    public var behaviour: Behaviour {
        get { readFile(directory + "/behaviour").flatMap(Behaviour.init(rawValue:)) ?? .answering }
        nonmutating set { try? writeFile(directory + "/behaviour", newValue.rawValue) }
    }

    /// Forgets one attribute, as attrd does with a node that left the cluster.
    public func remove(_ name: String) {
        guard var values = try? StateFile(path: file).read() else { return }
        values[name] = nil
        try? StateFile(path: file).write(values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// Runs as `attrd_updater -n NAME (-U VALUE | -D | -Q [-A])` or `crm_attribute (--promotion | -p |
    /// --name NAME) (-v VALUE | -D | --query [-q])`, the forms Tandem's agents and
    /// resource-agents' use. A query prints the value (crm_attribute's `-q` form); an absent
    /// attribute exits 105 as crm_attribute does.
    /// - Returns: the exit status.
    public static func record(program: String, _ arguments: [String]) throws -> Int32 {
        guard let path = getenv("TANDEM_RECORDED_ATTRIBUTES").map({ String(cString: $0) }) else {
            throw LabError("TANDEM_RECORDED_ATTRIBUTES is not set")
        }
        func value(after flags: String...) -> String? {
            for flag in flags {
                if let index = arguments.firstIndex(of: flag), index + 1 < arguments.count { return arguments[index + 1] }
            }
            return nil
        }
        let name: String
        if program == "crm_attribute" && (arguments.contains("--promotion") || arguments.contains("-p")) {
            name = "promotion-score"
        } else if let given = value(after: "-n", "--name") {
            name = given
        } else {
            throw LabError("\(program) \(arguments): no attribute name")
        }
        let directory = String(path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
        switch readFile(directory + "/behaviour") {
        case "frozen":
            sleep(for: .seconds(120))
            return 1
        case "gone":
            Log.writeStandardError("Could not connect to the CIB manager: Transport endpoint is not connected\n")
            return 102
        default:
            break
        }
        let lock = try FileLock(path: path + ".lock", deadline: .now + .seconds(10))
        defer { _ = lock }
        let file = StateFile(path: path)
        var values = (try file.read()) ?? [:]
        if program == "attrd_updater" && arguments.contains("-Q") && arguments.contains("-A") {
            let parent = String(path.split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/"))
            var lines: [String] = []
            for sibling in listDirectory(parent) {
                guard let node = readFile("\(parent)/\(sibling)/node"),
                      let value = (try? StateFile(path: "\(parent)/\(sibling)/attributes").read())??[name] else { continue }
                lines.append("name=\"\(name)\" host=\"\(node)\" value=\"\(value)\"")
            }
            guard !lines.isEmpty else {
                Log.writeStandardError("attrd_updater: Could not query value of \(name): attribute does not exist\n")
                return 105
            }
            print(lines.joined(separator: "\n"))
            return 0
        }
        if arguments.contains("--query") || arguments.contains("-G") || arguments.contains("-Q") {
            guard let stored = values[name] else {
                Log.writeStandardError("Error performing operation: No such device or address\n")
                return 105
            }
            print(arguments.contains("-q") ? stored : "scope=status  name=\(name) value=\(stored)")
            return 0
        }
        if arguments.contains("-D") || arguments.contains("--delete") {
            values[name] = nil
        } else if let update = value(after: "-v", "--update", "-U") {
            values[name] = update
        } else {
            throw LabError("\(program) \(arguments): neither a query, an update nor a delete")
        }
        try file.write(values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        return 0
    }
}
