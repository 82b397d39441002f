/// An OCF action: the one argument an agent is run with.
public enum Action: String, Sendable, CaseIterable, CustomStringConvertible {
    case start
    case stop
    case monitor
    case validateAll = "validate-all"
    case metaData = "meta-data"
    /// Applies changed `reloadable` parameters to the running resource (OCF 1.1). Pacemaker 2.1
    /// calls it instead of a restart when only such parameters changed.
    case reloadAgent = "reload-agent"
    case promote
    case demote
    case notify
    case usage
    /// Not an OCF action: the agent's man page, which the build writes from the declarations.
    case manPage = "manpage"

    /// The action an argument names; `status` is the old name of monitor, `help` of usage.
    public init?(argument: String) {
        switch argument {
        case "status": self = .monitor
        case "help", "--help", "-h": self = .usage
        default: self.init(rawValue: argument)
        }
    }

    /// Every agent answers these; the others only when advertised in its meta-data.
    public static let mandatory: Set<Action> = [.start, .stop, .monitor, .validateAll, .metaData, .usage, .manPage]

    /// Actions that change the resource: they run under the instance lock.
    var changesState: Bool {
        switch self {
        case .start, .stop, .reloadAgent, .promote, .demote, .notify: true
        case .monitor, .validateAll, .metaData, .usage, .manPage: false
        }
    }

    public var description: String { rawValue }
}

/// The role of a promotable clone instance. Meta-data writes it capitalised, as Pacemaker 2.1
/// and resource-agents' schema want it.
public enum Role: String, Sendable {
    case promoted = "Promoted"
    case unpromoted = "Unpromoted"
}
