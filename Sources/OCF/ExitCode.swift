/// OCF exit codes (OCF Resource Agent API 1.1, "Return codes"), the only values an agent
/// ever exits with.
public enum ExitCode: Int32, Sendable, CaseIterable, CustomStringConvertible {
    /// `OCF_SUCCESS`: done; for monitor, running (unpromoted when the agent has roles).
    case success = 0
    /// `OCF_ERR_GENERIC`: failed, maybe transiently; Pacemaker recovers (soft).
    case genericError = 1
    /// `OCF_ERR_ARGS`: the configuration is not valid on this node (hard, node-local).
    case invalidArguments = 2
    /// `OCF_ERR_UNIMPLEMENTED`: the action is not supported.
    case unimplemented = 3
    /// `OCF_ERR_PERM`: insufficient privileges.
    case permissionDenied = 4
    /// `OCF_ERR_INSTALLED`: software or facilities missing on this node.
    case notInstalled = 5
    /// `OCF_ERR_CONFIGURED`: the configuration is invalid everywhere (fatal, cluster-wide).
    case notConfigured = 6
    /// `OCF_NOT_RUNNING`: monitor only; cleanly stopped.
    case notRunning = 7
    /// `OCF_RUNNING_PROMOTED`: monitor only; running in the promoted role.
    case runningPromoted = 8
    /// `OCF_FAILED_PROMOTED`: monitor only; promoted, but failed.
    case failedPromoted = 9
    /// `OCF_DEGRADED`: monitor only; running, but a failure is more likely.
    case degraded = 190
    /// `OCF_DEGRADED_PROMOTED`: monitor only; promoted and degraded.
    case degradedPromoted = 191

    /// The name ocf-shellfuncs and Pacemaker print.
    public var name: String {
        switch self {
        case .success: "OCF_SUCCESS"
        case .genericError: "OCF_ERR_GENERIC"
        case .invalidArguments: "OCF_ERR_ARGS"
        case .unimplemented: "OCF_ERR_UNIMPLEMENTED"
        case .permissionDenied: "OCF_ERR_PERM"
        case .notInstalled: "OCF_ERR_INSTALLED"
        case .notConfigured: "OCF_ERR_CONFIGURED"
        case .notRunning: "OCF_NOT_RUNNING"
        case .runningPromoted: "OCF_RUNNING_PROMOTED"
        case .failedPromoted: "OCF_FAILED_PROMOTED"
        case .degraded: "OCF_DEGRADED"
        case .degradedPromoted: "OCF_DEGRADED_PROMOTED"
        }
    }

    public var description: String { "\(rawValue) (\(name))" }
}
