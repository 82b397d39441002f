import FenceAgent
import OCF

/// How a device fences: its deadlines, its pauses, and what a missing domain means.
public struct PowerSettings: Sendable {
    /// Each connection and query, at most (connect_timeout).
    public var connectTimeout: Duration
    /// Each power change and its verification, at most (power_timeout).
    public var powerTimeout: Duration
    /// Between off and on in a reboot (power_wait).
    public var powerWait: Duration
    /// Before an off or a reboot (delay).
    public var delay: Duration
    /// A domain no hypervisor defines counts as off (missing_as_off).
    public var missingAsOff: Bool
    /// A reboot is a hardware reset, not off then on (reboot_method=reset).
    public var rebootByReset: Bool

    public init(connectTimeout: Duration, powerTimeout: Duration, powerWait: Duration = .zero, delay: Duration = .zero,
                missingAsOff: Bool = false, rebootByReset: Bool = false) {
        self.connectTimeout = connectTimeout
        self.powerTimeout = powerTimeout
        self.powerWait = powerWait
        self.delay = delay
        self.missingAsOff = missingAsOff
        self.rebootByReset = rebootByReset
    }
}

/// The fence actions over a device's hypervisors: every power change verified through the
/// hypervisor, a domain defined on several hypervisors (a migration that left it defined on
/// both) off only when every one agrees, each call within its deadline, and the connections
/// closed within connect_timeout once the result is known (a libvirtd that freezes after a
/// verified off must not turn a done fence into a timeout).
public final class PowerSequence {
    public typealias Connect = (_ hypervisor: String) throws -> any Hypervisor

    let settings: PowerSettings
    let log: Log
    /// The hypervisors, as the device names them (their URIs), in order.
    let names: [String]
    let connect: Connect
    private var connections: [(name: String, hypervisor: any Hypervisor)] = []

    /// - Parameter connect: opens one hypervisor (the caller bounds it by connect_timeout),
    ///   throwing a `FenceFailure` that says why not.
    public init(settings: PowerSettings, hypervisors names: [String], log: Log, connect: @escaping Connect) {
        self.settings = settings
        self.names = names
        self.log = log
        self.connect = connect
    }

    /// Runs the action, then closes the connections within connect_timeout (reporting the
    /// result if a close hangs).
    public func perform(_ action: FenceAction, target: String?) throws(FenceFailure) -> FenceResult {
        let outcome: Result<FenceResult, FenceFailure>
        do throws(FenceFailure) {
            outcome = .success(try run(action, target: target))
        } catch {
            outcome = .failure(error)
        }
        switch outcome {
        case .success(let result): close(reporting: result)
        case .failure(let failure):
            log.error(failure.reason)
            close(reporting: FenceResult(exitCode: 1, output: ""))
        }
        return try outcome.get()
    }

    private func run(_ action: FenceAction, target: String?) throws(FenceFailure) -> FenceResult {
        switch action {
        case .monitor:
            for (name, hypervisor) in try all() {
                try query("asking \(name) for its version") { try hypervisor.ping() }
            }
            return .success
        case .list, .listStatus:
            return try list(withStatus: action == .listStatus)
        case .status:
            return try status(of: try required(target))
        case .off:
            try pause(settings.delay, "delay before fencing")
            return try off(try required(target))
        case .on:
            return try on(try required(target))
        case .reboot:
            try pause(settings.delay, "delay before fencing")
            return settings.rebootByReset ? try reset(try required(target)) : try reboot(try required(target))
        case .metadata, .manpage, .validateAll:
            return .success
        }
    }

    private func required(_ target: String?) throws(FenceFailure) -> String {
        guard let target else { throw FenceFailure("no plug given (the domain to act on)") }
        return target
    }

    // MARK: Actions

    /// Every domain of every hypervisor, once (by name); ON when any hypervisor runs it.
    func list(withStatus: Bool) throws(FenceFailure) -> FenceResult {
        var order: [String] = []
        var seen: [String: (uuid: String, active: Bool)] = [:]
        for (name, hypervisor) in try all() {
            let domains = try query("listing the domains of \(name)") {
                try hypervisor.domains().map { domain in (domain.name, domain.uuid, withStatus ? try domain.isActive() : false) }
            }
            for (domain, uuid, active) in domains {
                if seen[domain] == nil { order.append(domain) }
                seen[domain] = (uuid, active || seen[domain]?.active == true)
            }
        }
        let lines = order.map { name in
            let entry = seen[name]!
            return withStatus ? "\(name),\(entry.uuid),\(entry.active ? "ON" : "OFF")" : "\(name),\(entry.uuid)"
        }
        return FenceResult(output: lines.map { $0 + "\n" }.joined())
    }

    /// ON when any hypervisor runs it; OFF when every one that defines it has it off.
    func status(of target: String) throws(FenceFailure) -> FenceResult {
        let found = try locate(target)
        guard !found.isEmpty else {
            guard settings.missingAsOff else { throw notFound(target) }
            return FenceResult(exitCode: 2, output: "Status: OFF\n")
        }
        for (_, domain) in found where try isActive(domain) { return FenceResult(output: "Status: ON\n") }
        return FenceResult(exitCode: 2, output: "Status: OFF\n")
    }

    /// Off wherever it runs, verified on every hypervisor.
    func off(_ target: String) throws(FenceFailure) -> FenceResult {
        let found = try locate(target)
        guard !found.isEmpty else {
            guard settings.missingAsOff else { throw notFound(target) }
            log.info("domain \(target) does not exist: counted as off (missing_as_off)")
            return FenceResult(output: "Success: Already OFF\n")
        }
        var powered = false
        for (name, domain) in found where try isActive(domain) {
            try powerOff(domain, on: name)
            powered = true
        }
        return FenceResult(output: powered ? "Success: Powered OFF\n" : "Success: Already OFF\n")
    }

    func on(_ target: String) throws(FenceFailure) -> FenceResult {
        let found = try locate(target)
        guard let first = found.first else { throw notFound(target) }
        for (_, domain) in found where try isActive(domain) { return FenceResult(output: "Success: Already ON\n") }
        try powerOn(first.domain, on: first.hypervisor)
        return FenceResult(output: "Success: Powered ON\n")
    }

    /// Off (everywhere), verified, then on where it ran (or on the first hypervisor that
    /// defines it). The node is fenced once it is verified off: a failed start after that is
    /// reported on stderr, and the reboot still succeeds (as fence-agents does).
    func reboot(_ target: String) throws(FenceFailure) -> FenceResult {
        let found = try locate(target)
        guard !found.isEmpty else { return try missingRebooted(target) }
        var ranOn: (hypervisor: String, domain: any PowerDomain)?
        for (name, domain) in found where try isActive(domain) {
            try powerOff(domain, on: name)
            if ranOn == nil { ranOn = (name, domain) }
        }
        let restart = ranOn ?? found[0]
        try pause(settings.powerWait, "power_wait")
        let offOnly = "Success: Rebooted (off; not started)\n"
        do throws(FenceFailure) {
            try powerOn(restart.domain, on: restart.hypervisor, whenTimedOut: (0, offOnly))
        } catch {
            log.error("\(target) is off, but starting it again failed: \(error.reason)")
            return FenceResult(output: offOnly)
        }
        return FenceResult(output: "Success: Rebooted\n")
    }

    /// A reboot of a domain no hypervisor knows: off with `missing_as_off`, and it cannot be started.
    func missingRebooted(_ target: String) throws(FenceFailure) -> FenceResult {
        guard settings.missingAsOff else { throw notFound(target) }
        log.error("domain \(target) does not exist: counted as off (missing_as_off), and it cannot be started")
        return FenceResult(output: "Success: Rebooted (off; not started)\n")
    }

    /// A hardware reset wherever it runs; one that is off everywhere is started.
    func reset(_ target: String) throws(FenceFailure) -> FenceResult {
        let found = try locate(target)
        guard !found.isEmpty else { return try missingRebooted(target) }
        var reset = false
        for (name, domain) in found where try isActive(domain) {
            try power("resetting \(target) on \(name)") {
                do throws(PowerError) { try domain.reset() } catch { throw FenceFailure("resetting \(target) failed: \(error.message)") }
            }
            reset = true
        }
        guard reset else {
            try powerOn(found[0].domain, on: found[0].hypervisor)
            return FenceResult(output: "Success: Rebooted (was off, started)\n")
        }
        return FenceResult(output: "Success: Rebooted (reset)\n")
    }

    /// The domain on each hypervisor that defines it, in the device's order; every hypervisor
    /// must answer (one that cannot be asked may run it).
    func locate(_ target: String) throws(FenceFailure) -> [(hypervisor: String, domain: any PowerDomain)] {
        var found: [(hypervisor: String, domain: any PowerDomain)] = []
        for (name, hypervisor) in try all() {
            if let domain = try query("looking up \(target) on \(name)", { try hypervisor.domain(target) }) {
                found.append((name, domain))
            }
        }
        return found
    }

    // MARK: Power changes, verified

    /// Destroys the domain and waits until the hypervisor reports it inactive (or gone: a
    /// transient domain disappears when destroyed).
    func powerOff(_ domain: any PowerDomain, on hypervisor: String) throws(FenceFailure) {
        let name = domain.name
        try power("powering off \(name) on \(hypervisor)") {
            var failure: PowerError?
            do throws(PowerError) { try domain.destroy() } catch { failure = error }
            while true {
                do throws(PowerError) {
                    if try !domain.isActive() { return }
                } catch where error.kind == .noDomain {
                    self.log.info("\(name) disappeared when destroyed (a transient domain): it is off")
                    return
                } catch {
                    throw FenceFailure("cannot verify that \(name) is off: \(error.message)")
                }
                if let failure, failure.kind != .operationInvalid {
                    throw FenceFailure("powering off \(name) failed: \(failure.message)")
                }
                sleep(for: .milliseconds(50))
            }
        }
        log.info("\(name) is off on \(hypervisor)")
    }

    /// Starts the domain and waits until the hypervisor reports it active.
    /// - Parameter whenTimedOut: the exit code and output if power_timeout passes (a failure by default).
    func powerOn(_ domain: any PowerDomain, on hypervisor: String, whenTimedOut: (Int32, String) = (1, "")) throws(FenceFailure) {
        let name = domain.name
        try power("powering on \(name) on \(hypervisor)", whenTimedOut: whenTimedOut) {
            do throws(PowerError) { try domain.create() } catch where error.kind == .operationInvalid {
                // Already active (started meanwhile): verified below.
            } catch {
                throw FenceFailure("powering on \(name) failed: \(error.message)")
            }
            while true {
                do throws(PowerError) {
                    if try domain.isActive() { return }
                } catch {
                    throw FenceFailure("cannot verify that \(name) runs: \(error.message)")
                }
                sleep(for: .milliseconds(50))
            }
        }
        log.info("\(name) is on on \(hypervisor)")
    }

    // MARK: Connections and calls, each with a deadline

    /// A connection to every hypervisor, in the device's order, each opened on first use.
    func all() throws(FenceFailure) -> [(name: String, hypervisor: any Hypervisor)] {
        for name in names where !connections.contains(where: { $0.name == name }) {
            let hypervisor: any Hypervisor
            do {
                hypervisor = try Watchdog.within(settings.connectTimeout, "connecting to \(name)", log: log) { try connect(name) }
            } catch let failure as FenceFailure {
                throw failure
            } catch {
                throw FenceFailure("cannot connect to \(name): \(error)")
            }
            connections.append((name, hypervisor))
        }
        return connections
    }

    /// Closes each connection within connect_timeout; if one hangs (its libvirtd froze after
    /// the work was done), the process reports `result` and exits.
    func close(reporting result: FenceResult) {
        for (name, hypervisor) in connections {
            Watchdog.within(settings.connectTimeout, "closing the connection to \(name)", log: log, exitCode: result.exitCode,
                            output: result.output, warning: "the action was done already") {
                hypervisor.close()
            }
        }
        connections = []
    }

    func isActive(_ domain: any PowerDomain) throws(FenceFailure) -> Bool {
        try query("reading the state of \(domain.name)") { try domain.isActive() }
    }

    /// One query over an open connection, within connect_timeout. (The body throws
    /// `PowerError`; a plain closure spares every call its annotation.)
    func query<T>(_ what: String, _ body: () throws -> T) throws(FenceFailure) -> T {
        do {
            return try Watchdog.within(settings.connectTimeout, what, log: log) { try body() }
        } catch let error as PowerError {
            throw FenceFailure("\(what) failed: \(error.message)")
        } catch {
            throw FenceFailure("\(what) failed: \(error)")
        }
    }

    /// A power change and its verification, within power_timeout. (The body throws `FenceFailure`.)
    func power(_ what: String, whenTimedOut: (Int32, String) = (1, ""), _ body: () throws -> Void) throws(FenceFailure) {
        do {
            try Watchdog.within(settings.powerTimeout, what, log: log, exitCode: whenTimedOut.0, output: whenTimedOut.1) { try body() }
        } catch let failure as FenceFailure {
            throw failure
        } catch {
            throw FenceFailure("\(what) failed: \(error)")
        }
    }

    func pause(_ duration: Duration, _ why: String) throws(FenceFailure) {
        guard duration > .zero else { return }
        log.info("waiting \(duration.components.seconds) s (\(why))")
        sleep(for: duration)
    }

    func notFound(_ target: String) -> FenceFailure {
        FenceFailure("domain \(target) not found on \(names.joined(separator: " ")) (set missing_as_off=1 to count a missing domain as off)")
    }
}
