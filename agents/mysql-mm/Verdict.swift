import MySQLClient
import MySQLReplication
import OCF

/// What one look at the local server means for Pacemaker: the monitor's answer, the reader and
/// writer attributes and the promotion score. A pure function of what was read.
struct Verdict: Equatable {
    var result: MonitorResult
    var readable: Bool
    var writer: Bool
    /// `nil`: not promotable (the score is removed).
    var score: Int?

    /// The writer's score: above any replica's, so a healthy writer stays where it is.
    static let writerScore = 1000
    /// A replica that applied everything it received.
    static let caughtUpScore = 900
    /// A replica whose master is out of reach (the survivor of a writer's crash): promotable,
    /// and promote waits until it applied everything it received.
    static let orphanScore = 800

    /// - Parameters:
    ///   - recordedPromoted: the agent promoted this node and has not demoted it since.
    init(_ state: ServerState, health: ReplicationHealth, maxLag: Int, recordedPromoted: Bool) {
        if !state.readOnly {
            writer = true
            readable = true
            score = Self.writerScore
            if case .sqlStopped(let errno, _) = health, errno != 0 {
                result = .degradedPromoted("writer, but \(health): the pair has diverged")
            } else {
                result = .runningPromoted
            }
            return
        }
        writer = false
        if recordedPromoted {
            readable = false
            score = nil
            result = .failedPromoted("read_only was switched ON behind the agent's back")
            return
        }
        switch health {
        case .replicating(let lag) where lag.within(maxLag):
            readable = true
            if case .seconds(let seconds) = lag, seconds > 0 {
                score = Self.caughtUpScore - min(800, Int(seconds * 800 / Double(max(maxLag, 1))))
            } else {
                score = Self.caughtUpScore
            }
            result = .running
        case .replicating(let lag):
            readable = false
            score = nil
            result = .degraded("replication lag \(lag), more than max_lag \(maxLag) s")
        case .ioReconnecting(let errno, _) where health.masterUnreachable:
            readable = false
            score = Self.orphanScore
            result = .degraded("replication IO thread reconnecting (errno \(errno)): the master is out of reach")
        case .notReplica:
            readable = false
            score = nil
            result = .degraded("not a replica: this node cannot catch up with a writer")
        default:
            readable = false
            score = nil
            result = .degraded("\(health)")
        }
    }
}
