/// The actions of the fence-agents interface, as pacemaker-fenced and people name them.
public enum FenceAction: String, CaseIterable, Sendable {
    case on, off, reboot, status, list
    case listStatus = "list-status"
    case monitor, metadata
    case validateAll = "validate-all"
    case manpage

    /// `meta-data` is accepted for `metadata`, as fence-agents does.
    public init?(argument: String) {
        if argument == "meta-data" {
            self = .metadata
        } else {
            self.init(rawValue: argument)
        }
    }

    /// Actions about one target: they need `plug` (or `port`, or at least `nodename`).
    public var needsTarget: Bool {
        switch self {
        case .on, .off, .reboot, .status: true
        default: false
        }
    }

    /// Actions that change a target's power.
    public var changesPower: Bool {
        switch self {
        case .on, .off, .reboot: true
        default: false
        }
    }
}
