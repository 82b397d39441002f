import Glibc

/// The environment Pacemaker (or ocf-tester, crm_resource, a person) runs an agent with.
///
/// Read once, when the action starts; nothing is read at load time.
public struct Environment: Sendable {
    public let variables: [String: String]

    public init(_ variables: [String: String]) { self.variables = variables }

    /// The variables of the process environment that concern an agent: `OCF_*`, `HA_*`, and
    /// `TANDEM_*` (where tests and packages put Tandem's own settings, e.g. `TANDEM_LIBEXEC_DIR`).
    /// (Children started with `Command` inherit the whole environment regardless.)
    public static func current() -> Environment {
        var variables: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            entry += 1
            let text = String(cString: pointer)
            guard text.hasPrefix("OCF_") || text.hasPrefix("HA_") || text.hasPrefix("TANDEM_") else { continue }
            if let equals = text.firstIndex(of: "=") {
                variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
        }
        return Environment(variables)
    }

    public subscript(name: String) -> String? { variables[name] }

    public static let parameterPrefix = "OCF_RESKEY_"

    /// The configured value of a parameter (`OCF_RESKEY_<name>`).
    public func parameter(_ name: String) -> String? { variables[Environment.parameterPrefix + name] }

    /// The names of every configured parameter, without Pacemaker's own
    /// (`CRM_meta_*`, `crm_feature_set`).
    public var configuredParameterNames: [String] {
        variables.keys.compactMap { key in
            guard key.hasPrefix(Environment.parameterPrefix) else { return nil }
            let name = String(key.dropFirst(Environment.parameterPrefix.count))
            return name.hasPrefix("CRM_meta_") || name == "crm_feature_set" ? nil : name
        }
    }

    /// The resource id (`OCF_RESOURCE_INSTANCE`); "default" when run by hand without one.
    public var instance: String {
        guard let name = variables["OCF_RESOURCE_INSTANCE"], !name.isEmpty else { return "default" }
        return name
    }

    /// A Pacemaker meta attribute (`OCF_RESKEY_CRM_meta_<name>`, dashes as underscores).
    public func meta(_ name: String) -> String? { variables["OCF_RESKEY_CRM_meta_" + name] }

    /// The recurring interval of this operation in milliseconds; 0 for one-shot operations.
    public var intervalMilliseconds: Int { Int(meta("interval") ?? "") ?? 0 }

    /// The operation's timeout; Pacemaker SIGKILLs the agent when it passes. 20 s (Pacemaker's
    /// default) when unset.
    public var timeout: Duration {
        guard let text = meta("timeout"), let milliseconds = Int(text), milliseconds > 0 else { return .seconds(20) }
        return .milliseconds(milliseconds)
    }

    /// `OCF_CHECK_LEVEL` (not an `OCF_RESKEY_`): 0 by default.
    public var checkLevel: Int { Int(variables["OCF_CHECK_LEVEL"] ?? "") ?? 0 }

    /// `HA_debug` set to anything but 0 or empty.
    public var debug: Bool {
        guard let value = variables["HA_debug"], !value.isEmpty else { return false }
        return value != "0"
    }
}
