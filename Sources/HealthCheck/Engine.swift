import Addresses
import LVS
import Netlink

/// What one check found.
public enum CheckOutcome: Equatable, Sendable {
    case pass
    /// Why it failed, as the log and `tandem status` say it: "HTTP status 503",
    /// "timed out after 3s", "certificate verify failed: …".
    case fail(String)

    public var passed: Bool { self == .pass }
}

/// Where one check goes: a real server's address and the port checked (0 when the check has none).
/// Services that share a real server share its target, so it is checked once.
public struct Target: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public var description: String { IPVSDestination.Key(address: address, port: port).description }
    public static func < (a: Target, b: Target) -> Bool { a.description < b.description }
}

/// A target's health, as rise and fall judge it.
public enum Health: String, Sendable {
    /// Not checked yet.
    case unknown
    case up
    case down
}

/// The settings the state machine runs on (from the parameters).
public struct Hysteresis: Equatable, Sendable {
    public var rise: Int
    public var fall: Int
    public var interval: Duration
    public var fastInterval: Duration
    public var slowStart: Duration

    public init(rise: Int, fall: Int, interval: Duration, fastInterval: Duration, slowStart: Duration = .zero) {
        self.rise = rise
        self.fall = fall
        self.interval = interval
        self.fastInterval = min(fastInterval, interval)
        self.slowStart = slowStart
    }
}

/// The state of one target.
public struct TargetState: Sendable {
    public internal(set) var health: Health = .unknown
    /// Results in a row that contradict `health` (failures while up, successes while down).
    public internal(set) var streak = 0
    public internal(set) var lastOutcome: CheckOutcome?
    /// Why the target is down (the failure that decided it), or the last failure while up.
    public internal(set) var reason = ""
    public internal(set) var lastLatency: Duration?
    public internal(set) var lastCheck: ContinuousClock.Instant?
    /// When it last came up (slow start ramps from there); `nil` for targets up from the first check.
    public internal(set) var upSince: ContinuousClock.Instant?
    public internal(set) var nextDue: ContinuousClock.Instant
    public internal(set) var inFlight = false
    /// Taken out by a maintenance file.
    public internal(set) var inMaintenance = false
    /// Out since the checker started (held by the previous one), not checked yet.
    public internal(set) var heldAtStart = false

    /// Between states: a contradicting result was seen and the fast interval applies.
    public var isChanging: Bool { streak > 0 }
    /// Whether traffic may go to it.
    public var serves: Bool { health == .up && !inMaintenance }
}

/// A change worth one log line.
public struct Transition: Equatable, Sendable, CustomStringConvertible {
    public let target: Target
    public let from: Health
    public let to: Health
    public let reason: String
    public var description: String {
        switch to {
        case .up: "\(target) is healthy (\(reason))"
        case .down: "\(target) has failed: \(reason)"
        case .unknown: "\(target) is not checked any more"
        }
    }
}

/// The health checker's state machine: targets, their rise/fall state, when each is due, and
/// the weights that follow. Pure code: time comes in as an argument, so tests drive it with any
/// clock; the daemon runs the checks and applies what this decides.
public struct Engine: Sendable {
    public var settings: Hysteresis
    public private(set) var targets: [Target: TargetState] = [:]
    /// When each target is next due, earliest first: a tick costs the targets due, not a pass
    /// over a thousand. Entries a later `record` replaced are skipped when they come up.
    private var schedule = DueQueue()
    /// Targets in slow start (their weight steps wake the daemon).
    public private(set) var ramping: Set<Target> = []

    public init(settings: Hysteresis) { self.settings = settings }

    /// Makes the target set exactly `wanted`: gone ones are forgotten, new ones are due spread
    /// over the first `spread` (a thousand checks in one burst would overflow the servers' and
    /// the director's queues and fail healthy servers; spread once, they stay spread).
    public mutating func track(_ wanted: Set<Target>, now: ContinuousClock.Instant, spread: Duration = .zero) {
        for target in targets.keys where !wanted.contains(target) {
            if targets[target]?.inFlight == true { inFlight -= 1 }
            targets[target] = nil
            ramping.remove(target)
        }
        let new = wanted.filter { targets[$0] == nil }.sorted()
        for (index, target) in new.enumerated() {
            let due = now + spread * (Double(index) / Double(new.count))
            targets[target] = TargetState(nextDue: due)
            schedule.push(due, target)
        }
    }

    /// Targets whose check should start now (not running, due), at most `limit` of them, and
    /// marks them running; the others stay due.
    public mutating func startDue(now: ContinuousClock.Instant, limit: Int = .max) -> [Target] {
        var due: [Target] = []
        while due.count < limit, let (instant, target) = schedule.first, instant <= now {
            schedule.pop()
            guard let state = targets[target], !state.inFlight, state.nextDue == instant else { continue }
            targets[target]?.inFlight = true
            due.append(target)
        }
        inFlight += due.count
        return due
    }

    /// Checks running now.
    public private(set) var inFlight = 0

    /// When something is next due, so the daemon knows how long it may sleep: a check, or the
    /// next step of a slow start. `nil` when nothing is scheduled.
    public mutating func nextWakeup(after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        // Entries replaced by a later record come off first.
        while let (instant, target) = schedule.first, targets[target].map({ $0.inFlight || $0.nextDue != instant }) ?? true {
            schedule.pop()
        }
        var next = schedule.first?.0
        for target in ramping {
            if let state = targets[target], let step = slowStartStep(state, after: now) { next = min(next ?? step, step) }
        }
        return next
    }

    /// Forgets the targets whose slow start is over (or that stopped serving) and returns them:
    /// their weights need one last update.
    @discardableResult
    public mutating func pruneRamps(now: ContinuousClock.Instant) -> [Target] {
        let ended = ramping.filter { target in targets[target].map { slowStartStep($0, after: now) == nil } ?? true }
        ramping.subtract(ended)
        return Array(ended)
    }

    /// Records a finished check.
    /// - Parameters:
    ///   - started: when the check began (the next one is due an interval after it, never
    ///     before this one ended).
    ///   - latency: how long the check took, as the prober measured it; `now - started` when
    ///     not given.
    /// - Returns: the transition it caused, if any.
    @discardableResult
    public mutating func record(_ outcome: CheckOutcome, for target: Target, started: ContinuousClock.Instant,
                                now: ContinuousClock.Instant, latency: Duration? = nil) -> Transition? {
        guard let index = targets.index(forKey: target), targets.values[index].inFlight else { return nil }
        inFlight -= 1
        // The state is changed where it lies in the table (no copy out and back per check).
        let transition = Engine.judge(&targets.values[index], outcome, target: target, settings: settings,
                                      started: started, now: now, latency: latency)
        let state = targets.values[index]
        schedule.push(state.nextDue, target)
        if transition?.to == .up, state.upSince != nil, settings.slowStart > .zero { ramping.insert(target) }
        return transition
    }

    /// One result applied to one target's state: rise, fall, when the next check is due.
    private static func judge(_ state: inout TargetState, _ outcome: CheckOutcome, target: Target, settings: Hysteresis,
                              started: ContinuousClock.Instant, now: ContinuousClock.Instant, latency: Duration?) -> Transition? {
        state.inFlight = false
        state.lastOutcome = outcome
        state.lastCheck = now
        state.lastLatency = latency ?? started.duration(to: now)
        let before = state.health
        var transition: Transition?
        switch (state.health, outcome) {
        case (.unknown, .pass):
            state.health = .up
            state.reason = ""
            transition = Transition(target: target, from: before, to: .up, reason: "first check passed")
        case (.unknown, .fail(let why)):
            state.health = .down
            state.reason = why
            transition = Transition(target: target, from: before, to: .down, reason: why)
        case (.up, .pass):
            state.streak = 0
        case (.up, .fail(let why)):
            state.streak += 1
            state.reason = why
            if state.streak >= settings.fall {
                state.health = .down
                state.streak = 0
                let count = settings.fall == 1 ? "" : " (\(settings.fall) checks in a row)"
                transition = Transition(target: target, from: before, to: .down, reason: why + count)
            }
        case (.down, .fail(let why)):
            state.streak = 0
            state.reason = why
            // A server held out since the start gets its first verdict said, with its reason.
            if state.heldAtStart { transition = Transition(target: target, from: .down, to: .down, reason: why) }
        case (.down, .pass):
            state.streak += 1
            if state.streak >= settings.rise {
                state.health = .up
                state.streak = 0
                state.reason = ""
                state.upSince = now
                let count = settings.rise == 1 || state.heldAtStart ? "check passed" : "\(settings.rise) checks in a row passed"
                transition = Transition(target: target, from: before, to: .up, reason: count)
            }
        }
        state.heldAtStart = false
        let pause = state.isChanging ? settings.fastInterval : settings.interval
        state.nextDue = max(started + pause, now)
        return transition
    }

    /// Applies the maintenance files present: the targets named are taken out.
    /// - Returns: the targets that entered (`true`) or left (`false`) maintenance.
    public mutating func setMaintenance(_ names: Set<Target>, now: ContinuousClock.Instant) -> [(Target, Bool)] {
        var changes: [(Target, Bool)] = []
        for (target, state) in targets {
            let wanted = names.contains(target)
            guard wanted != state.inMaintenance else { continue }
            targets[target]?.inMaintenance = wanted
            // A server back from maintenance ramps up like one back from failure.
            if !wanted && state.health == .up {
                targets[target]?.upSince = now
                if settings.slowStart > .zero { ramping.insert(target) }
            }
            changes.append((target, wanted))
        }
        return changes.sorted { $0.0 < $1.0 }
    }

    /// Whether every target has been checked at least once (start waits for this).
    public var roundComplete: Bool { targets.values.allSatisfy { $0.lastOutcome != nil } }

    /// Takes tracked targets as failed before their first check (servers a stopped checker held
    /// out): they stay out until a check passes, one is enough.
    public mutating func seedDown(_ seeded: Set<Target>, reason: String) {
        for target in seeded {
            guard let state = targets[target], state.health == .unknown else { continue }
            targets[target]?.health = .down
            targets[target]?.reason = reason
            targets[target]?.streak = max(0, settings.rise - 1)
            targets[target]?.heldAtStart = true
        }
    }

    // MARK: Weights

    /// The overrides one service needs: failed real servers quiesced or removed, returning
    /// ones ramped, the fallback added while none serves. Real servers not checked yet keep
    /// their configured weight.
    /// - Parameters:
    ///   - destinations: the service's configured real servers (the ipvs agent's).
    ///   - target: the target that checks a real server.
    public func overrides(for destinations: [IPVSDestination], target: (IPVSDestination) -> Target,
                          onFailure: FailureAction, fallback: IPVSDestination?,
                          now: ContinuousClock.Instant) -> HealthOverrides {
        var overrides = HealthOverrides()
        var anyServes = false
        for destination in destinations {
            guard let state = targets[target(destination)], state.health != .unknown || state.inMaintenance else {
                anyServes = true
                continue
            }
            if state.serves {
                anyServes = true
                if let weight = rampedWeight(destination.weight, state, now: now) {
                    overrides.entries[destination.key] = .weight(weight)
                }
            } else {
                overrides.entries[destination.key] = onFailure == .quiesce ? .weight(0) : .removed
            }
        }
        if !anyServes, !destinations.isEmpty, let fallback,
           !destinations.contains(where: { $0.key == fallback.key }) {
            overrides.entries[fallback.key] = .fallback(fallback)
        }
        return overrides
    }

    /// The weight of a server in slow start, `nil` once it has its configured weight.
    func rampedWeight(_ configured: Int32, _ state: TargetState, now: ContinuousClock.Instant) -> Int32? {
        guard settings.slowStart > .zero, configured > 0, let since = state.upSince else { return nil }
        let elapsed = since.duration(to: now)
        guard elapsed < settings.slowStart else { return nil }
        let fraction = elapsed / settings.slowStart
        let weight = Int32((Double(configured) * fraction).rounded(.up))
        return weight >= configured ? nil : max(1, weight)
    }

    /// When a ramping target's weight next changes by a step (a tenth of slow_start, at least
    /// one second apart).
    func slowStartStep(_ state: TargetState, after now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard settings.slowStart > .zero, state.serves, let since = state.upSince else { return nil }
        let end = since + settings.slowStart
        guard end > now else { return nil }
        let step = max(settings.slowStart / 10, .seconds(1))
        var next = since + step
        while next <= now { next += step }
        return min(next, end)
    }
}

/// A binary min-heap of (instant, target), ordered by instant.
struct DueQueue: Sendable {
    private var items: [(ContinuousClock.Instant, Target)] = []

    var first: (ContinuousClock.Instant, Target)? { items.first }

    mutating func push(_ instant: ContinuousClock.Instant, _ target: Target) {
        items.append((instant, target))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].0 < items[parent].0 else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left].0 < items[smallest].0 { smallest = left }
            if right < items.count && items[right].0 < items[smallest].0 { smallest = right }
            guard smallest != parent else { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// Which target checks a real server: its address, and the port checked — none for ping and
/// none (services on several ports of one server then share one verdict), `check_port` when
/// set, else the real server's own. The daemon keys its verdicts by it; `tandem status` finds
/// them with it.
public struct TargetRule: Equatable, Sendable {
    public let portless: Bool
    public let fixedPort: UInt16?

    public init(_ parameters: HealthCheckParameters) {
        portless = parameters.check == .ping || parameters.check == .none
        fixedPort = parameters.checkPort.map { UInt16($0) }
    }

    public func target(of destination: IPVSDestination) -> Target { target(of: destination.key) }

    public func target(of key: IPVSDestination.Key) -> Target {
        Target(address: key.address, port: portless ? 0 : fixedPort ?? key.port)
    }
}
