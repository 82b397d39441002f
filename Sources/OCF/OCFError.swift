/// An error an agent reports to Pacemaker: the exit code decides the recovery, the reason
/// becomes the `ocf-exit-reason:` line and is shown by crm_mon.
///
/// Library errors (netlink, files, commands) are turned into one of these where the agent
/// knows what they mean; anything else ends as `genericError` with its description.
public struct OCFError: Error, Sendable, CustomStringConvertible {
    public let exitCode: ExitCode
    public let reason: String

    public init(_ exitCode: ExitCode, _ reason: String) {
        self.exitCode = exitCode
        self.reason = reason
    }

    /// The configuration is inherently invalid: no node can run it (`OCF_ERR_CONFIGURED`).
    public static func notConfigured(_ reason: String) -> OCFError { OCFError(.notConfigured, reason) }
    /// The configuration cannot work on this node, e.g. the interface is missing here (`OCF_ERR_ARGS`).
    public static func invalidArguments(_ reason: String) -> OCFError { OCFError(.invalidArguments, reason) }
    /// A facility or program is missing on this node (`OCF_ERR_INSTALLED`).
    public static func notInstalled(_ reason: String) -> OCFError { OCFError(.notInstalled, reason) }
    /// The agent lacks a privilege (`OCF_ERR_PERM`).
    public static func permissionDenied(_ reason: String) -> OCFError { OCFError(.permissionDenied, reason) }
    /// Anything else that failed; Pacemaker may retry or move the resource (`OCF_ERR_GENERIC`).
    public static func generic(_ reason: String) -> OCFError { OCFError(.genericError, reason) }
    /// The action is not implemented (`OCF_ERR_UNIMPLEMENTED`).
    public static func unimplemented(_ reason: String) -> OCFError { OCFError(.unimplemented, reason) }

    public var description: String { "\(exitCode): \(reason)" }
}
