import Addresses
import Glibc
import HealthCheck
import LVS
import NIOPosix
import Netlink
import OCF
import POSIX
import Probes
import StateFiles

/// The checker daemon of `ocf:tandem:healthcheck`: checks every real server of its services on
/// one event loop, judges them with rise and fall (`Engine`), and keeps the kernel's weights
/// and the override files in step, under the override contract's lock.
///
/// Threads: the control loop (this one: timers, verdicts, netlink, files), the probers' threads
/// (every check), and a signal thread. Only the control loop touches the engine.
final class CheckerDaemon {
    /// One service: its override store and what was last applied.
    struct ServiceSlot {
        let spec: ServiceSpec
        let store: HealthOverrides.Store
        /// The configured real servers as the ipvs agent published them; `nil` when none runs it.
        var configured: [IPVSDestination]?
        /// The published text, to notice a change cheaply.
        var publishedText: String?
        /// The published file as last read (it is not read again until it changes).
        var publishedSignature: StateFile.Signature?
        /// Needs its overrides written and applied.
        var dirty = true
        /// The overrides the kernel has from the last apply; `nil` when unknown (at start, after
        /// a refused request or a new configuration): the next apply reads the kernel.
        var applied: HealthOverrides?
    }

    let files: DaemonFiles
    let configurationFile: StateFile
    var configuration: DaemonConfiguration
    /// The configuration generation the kernel reflects: a reload's counts once its first
    /// sync is through (reload-agent waits for it in the status file).
    var appliedGeneration: Int
    var parameters: HealthCheckParameters
    var engine: Engine
    var prober: Prober
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let mailbox = Mailbox()
    var services: [ServiceSlot]
    var fallback: [ServiceSpec: IPVSDestination] = [:]
    var table: (any IPVSTable)?
    let log: Log
    let identity: String
    var rounds = 0
    var ready: Int32?
    var lastStatusWrite = ContinuousClock.now - .seconds(60)
    var lastRefresh = ContinuousClock.now - .seconds(60)
    var lastAttribute: String?
    /// Publishes the node attribute off the control loop, retrying until attrd takes it.
    var attributes: AttributePublisher?
    /// The servers a stopped checker held out are taken over once, at the first refresh.
    var tookOverHeld = false
    /// Since when verdicts wait for the kernel, when it last took them all, and why not.
    var pendingSince: ContinuousClock.Instant?
    var lastSynced: ContinuousClock.Instant?
    var syncProblem: String?
    /// Each target's services (indices into `services`), rebuilt when the real servers change.
    var servicesOfTarget: [Target: [Int]] = [:]
    /// A verdict, the configuration or the round count changed since the status was written.
    var statusChanged = true
    /// A sync changed the kernel: the status is written in the same pass.
    var statusDue = false
    var nextRampMark = ContinuousClock.now
    /// The control loop runs at most this often: checks that fall due, or finish, within one
    /// tick are handled together (with a thousand real servers a second, once each would cost
    /// a pass over all of them a thousand times a second).
    static let tick = Duration.milliseconds(10)
    static let syncPause = Duration.milliseconds(100)
    /// The status file is rewritten at most this often (a thousand verdicts changing at once
    /// make one write, not one per tick), and at least every two seconds (the heartbeat: the
    /// agent's monitor allows five at least; a thousand targets make a write cost).
    static let statusPause = Duration.milliseconds(250)
    static let heartbeatPause = Duration.seconds(2)
    /// Checks running at once, at most: a bound on sockets and on what one burst can ask of
    /// the network (the descriptor limit is raised to match).
    static let maximumInFlight = 1024
    /// Descriptors kept for the daemon itself (files, netlink, the event loops, threads).
    static let reservedDescriptors = 48
    /// The checks this daemon runs at once: `maximumInFlight`, fewer when the descriptor limit
    /// cannot take that many (a check that cannot open its socket would fail a healthy server:
    /// checks wait their turn instead).
    let inFlightLimit: Int
    var lastSync = ContinuousClock.now - .seconds(1)

    init(configurationPath: String, ready: Int32?) throws {
        configurationFile = StateFile(path: configurationPath)
        guard let configuration = try DaemonConfiguration.load(from: configurationFile) else {
            throw DaemonError("no configuration at \(configurationPath)")
        }
        self.configuration = configuration
        appliedGeneration = configuration.generation
        self.ready = ready
        let environment = CheckerDaemon.logEnvironment(configuration)
        // stderr is HA_LOGFILE already (or /dev/null): the log writes the dated lines itself.
        log = Log(agent: "healthcheck", environment: environment, sink: .logsOnly)
        identity = ProcessIdentity(pid: getpid())?.description ?? "\(getpid())"
        files = DaemonFiles(directory: configuration.stateDirectory, instance: configuration.instance)
        let parameters = try HealthCheckParameters.load(from: configuration.environment)
        self.parameters = parameters
        targetRule = TargetRule(parameters)
        checksExternally = parameters.check == .external
        engine = Engine(settings: CheckerDaemon.hysteresis(parameters))
        prober = try Prober(loop: group.next(), spec: try parameters.checkSpec(), timeout: parameters.timeout.duration)
        let directory = configuration.stateDirectory
        services = parameters.services.services.map { spec in
            ServiceSlot(spec: spec, store: HealthOverrides.Store(service: spec, namespace: parameters.netns?.path, directory: directory))
        }
        fallback = CheckerDaemon.fallbacks(parameters)
        let log = self.log
        attributes = parameters.attribute.map { AttributePublisher(name: $0, log: log) }
        var limit = rlimit()
        let descriptors = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int(min(limit.rlim_cur, 1 << 20)) : 1024
        // An external program takes two pipes; every other check one socket.
        let perCheck = parameters.check == .external ? 2 : 1
        inFlightLimit = max(1, min(CheckerDaemon.maximumInFlight, (descriptors - CheckerDaemon.reservedDescriptors) / perCheck))
        if inFlightLimit < CheckerDaemon.maximumInFlight {
            log.info("the descriptor limit (\(descriptors)) allows \(inFlightLimit) checks at once; more real servers are checked in turn")
        }
    }

    /// The daemon's log: the agent's environment (HA_LOGFACILITY, HA_debug) for its instance.
    static func logEnvironment(_ configuration: DaemonConfiguration) -> Environment {
        var variables = Environment.current().variables
        variables["OCF_RESOURCE_INSTANCE"] = configuration.instance
        return Environment(variables)
    }

    static func hysteresis(_ parameters: HealthCheckParameters) -> Hysteresis {
        Hysteresis(rise: parameters.rise, fall: parameters.fall, interval: parameters.interval.duration,
                   fastInterval: parameters.fastInterval.duration, slowStart: .seconds(parameters.slowStart))
    }

    static func fallbacks(_ parameters: HealthCheckParameters) -> [ServiceSpec: IPVSDestination] {
        guard let text = parameters.fallback else { return [:] }
        var result: [ServiceSpec: IPVSDestination] = [:]
        for service in parameters.services.services {
            result[service] = try? RealServers.parse(text, for: service, allowLoopback: true).first
        }
        return result
    }

    /// The target that checks a real server.
    func target(of destination: IPVSDestination) -> Target { targetRule.target(of: destination) }

    /// What `target(of:)` needs from the parameters, read once (it runs for every real server
    /// several times a second).
    var targetRule: TargetRule
    var checksExternally: Bool

    // MARK: The control loop

    func run() -> Int32 {
        do {
            try Signals.forward(to: mailbox)
        } catch {
            // Then SIGTERM ends it with the default action: a stop still works, without a last round.
            Signals.unblock()
            log.warning("cannot start the signal thread (\(error)): a signal ends the daemon at once")
        }
        log.info("checking the real servers of \(parameters.services.ocfValue) (\(parameters.check.rawValue) every \(parameters.interval), rise \(parameters.rise), fall \(parameters.fall))")
        if case .http(let http) = try? parameters.checkSpec(), let tls = http.tls, !tls.verify {
            log.warning("TLS certificates are not verified (tls_verify=false)")
        }
        var lastPass = ContinuousClock.now - CheckerDaemon.tick
        while true {
            sleep(until: lastPass + CheckerDaemon.tick)
            let now = ContinuousClock.now
            lastPass = now
            refresh(now: now)
            for target in engine.startDue(now: now, limit: inFlightLimit - engine.inFlight) {
                let started = now
                let mailbox = self.mailbox
                // Only an external program is told its service (formatting it for every check costs).
                let service = checksExternally ? serviceName(of: target) : ""
                prober.check(target, service: service) { outcome, latency in
                    mailbox.post(.result(target, started: started, outcome, latency: latency))
                }
            }
            var wake = min(engine.nextWakeup(after: now) ?? now + .seconds(1), lastStatusWrite + CheckerDaemon.heartbeatPause,
                           lastRefresh + .milliseconds(500))
            if services.contains(where: \.dirty) { wake = min(wake, lastSync + CheckerDaemon.syncPause) }
            let events = mailbox.take(waitingUntil: wake)
            let received = ContinuousClock.now
            for event in events {
                switch event {
                case .result(let target, let started, let outcome, let latency):
                    if let transition = engine.record(outcome, for: target, started: started, now: received, latency: latency) {
                        log.info(transition.description)
                        markDirty(target)
                    }
                case .signal(SIGHUP):
                    reload()
                case .signal(let signal):
                    log.info("signal \(signal): the checker stops (the agent's stop restores the weights)")
                    return 0
                }
            }
            markRamping(now: received)
            sync()
            notePending(now: .now)
            if appliedGeneration != configuration.generation && !services.contains(where: \.dirty) {
                appliedGeneration = configuration.generation
                statusDue = true
            }
            let firstRoundApplied = ready != nil && engine.roundComplete && !services.contains(where: \.dirty)
            if firstRoundApplied {
                rounds = 1
                statusChanged = true
            }
            // The status is on disk before the agent hears "ready": its first monitor finds it.
            writeStatus(force: firstRoundApplied || statusDue)
            statusDue = false
            if firstRoundApplied { signalReady("ready") }
        }
    }

    /// Re-reads the published real servers and the maintenance directory (twice a second).
    func refresh(now: ContinuousClock.Instant) {
        guard now - lastRefresh >= .milliseconds(500) else { return }
        lastRefresh = now
        var changed = false
        for index in services.indices {
            let signature = services[index].store.desiredFile.signature()
            if signature != nil && signature == services[index].publishedSignature { continue }
            services[index].publishedSignature = signature
            let text: String?
            do {
                text = try services[index].store.desiredFile.read().map { $0["realservers"] ?? "" }
            } catch {
                log.warning("reading the real servers of \(services[index].spec): \(error)")
                continue
            }
            guard text != services[index].publishedText || (text != nil && services[index].configured == nil) else { continue }
            services[index].publishedText = text
            services[index].dirty = true
            services[index].applied = nil
            changed = true
            guard let text else {
                if services[index].configured != nil { log.warning("\(services[index].spec) is not run by an ipvs resource here any more") }
                services[index].configured = nil
                continue
            }
            do {
                services[index].configured = text.isEmpty ? [] : try RealServers.parse(text, for: services[index].spec)
            } catch {
                log.error("the real servers published for \(services[index].spec) do not parse: \(error)")
                services[index].configured = nil
            }
        }
        if changed {
            servicesOfTarget = [:]
            for (index, slot) in services.enumerated() {
                for destination in slot.configured ?? [] { servicesOfTarget[target(of: destination), default: []].append(index) }
            }
            engine.track(Set(servicesOfTarget.keys), now: now, spread: min(parameters.interval.duration, .seconds(5)))
            if !tookOverHeld { takeOverHeld() }
            statusChanged = true
        }
        if let directory = parameters.maintenanceDirectory {
            for (target, entered) in engine.setMaintenance(maintenanceTargets(in: directory), now: now) {
                log.info(entered ? "\(target) is in maintenance (a file in \(directory))" : "\(target) is out of maintenance")
                markDirty(target)
            }
        }
    }

    /// The real servers the override files have out when the daemon starts (held by the
    /// stopped checker of a restart, or left by a killed one) stay out until a check passes.
    func takeOverHeld() {
        tookOverHeld = true
        var held = Set<Target>()
        for slot in services {
            guard let (overrides, _) = try? slot.store.load(), !overrides.holdExpired() else { continue }
            for destination in slot.configured ?? [] {
                switch overrides.entries[destination.key] {
                case .weight(0)?, .removed?: held.insert(target(of: destination))
                default: break
                }
            }
        }
        guard !held.isEmpty else { return }
        engine.seedDown(held, reason: "out before the checker started; back when a check passes")
        log.info("\(held.count) real server(s) the previous checker had taken out stay out until a check passes")
    }

    /// The targets named by files in the maintenance directory: `ADDR` names every port of a
    /// real server, `ADDR:PORT` one.
    func maintenanceTargets(in directory: String) -> Set<Target> {
        let names = Set(directoryNames(directory).filter { !$0.hasPrefix(".") })
        guard !names.isEmpty else { return [] }
        var result = Set<Target>()
        for target in engine.targets.keys {
            let address = target.address.description
            if names.contains(address) || names.contains(target.description) || names.contains("[\(address)]") { result.insert(target) }
        }
        // With ping or none, targets have no port: a file ADDR:PORT for a configured port counts.
        for slot in services {
            for destination in slot.configured ?? [] where names.contains(destination.key.description) {
                result.insert(target(of: destination))
            }
        }
        return result
    }

    func serviceName(of target: Target) -> String {
        servicesOfTarget[target]?.first.map { services[$0].spec.description } ?? ""
    }

    func markDirty(_ target: Target) {
        for index in servicesOfTarget[target] ?? [] { services[index].dirty = true }
        statusChanged = true
    }

    /// Services with a real server in slow start get their weights recomputed.
    /// At most once a second (a ramp's steps are at least a second apart), and once more when a
    /// ramp ends.
    func markRamping(now: ContinuousClock.Instant) {
        guard !engine.ramping.isEmpty, now >= nextRampMark else { return }
        nextRampMark = now + .seconds(1)
        for target in engine.ramping { markDirty(target) }
        engine.pruneRamps(now: now)
    }

    // MARK: Applying

    /// Writes the override files and brings the kernel in line, for every service that
    /// changed, as one netlink batch under the services' locks.
    func sync() {
        // A verdict after a quiet spell goes to the kernel at once; verdicts that land within
        // 100 ms of a sync wait for the next one, together (a thousand servers failing together
        // make one batch, not a thousand).
        let now = ContinuousClock.now
        guard now - lastSync >= CheckerDaemon.syncPause else { return }
        let dirty = services.indices.filter { services[$0].dirty && services[$0].configured != nil || services[$0].dirty && services[$0].publishedText == nil }
        guard !dirty.isEmpty else { return }
        lastSync = now
        let ordered = dirty.sorted { services[$0].store.lockPath < services[$1].store.lockPath }
        var locks: [FileLock] = []
        do {
            for index in ordered { locks.append(try FileLock(path: services[index].store.lockPath, deadline: .now + .seconds(2))) }
        } catch {
            log.warning("the override lock is busy (\(error)); trying again")
            syncProblem = "the override lock is busy: \(error)"
            return
        }
        defer { withExtendedLifetime(locks) {} }
        do {
            if table == nil { table = try LiveKernel(deadline: .now + .seconds(5)).ipvs(in: parameters.netns?.path) }
            guard let table else { return }
            var operations: [IPVSOperation] = []
            let now = ContinuousClock.now
            var owners: [Int] = []
            var wantedBy: [Int: HealthOverrides] = [:]
            for index in ordered {
                let slot = services[index]
                let previous = try slot.applied ?? slot.store.load().0
                guard let configured = slot.configured else {
                    try slot.store.save(HealthOverrides())
                    services[index].dirty = false
                    services[index].applied = nil
                    continue
                }
                let wanted = engine.overrides(for: configured, target: target(of:), onFailure: parameters.onFailure,
                                              fallback: fallback[slot.spec], now: now)
                if wanted != previous || slot.applied == nil { try slot.store.save(wanted) }
                wantedBy[index] = wanted
                let batch: [IPVSOperation]
                if let applied = slot.applied {
                    batch = WeightSync.changes(service: slot.spec.identity, configured: configured, from: applied, to: wanted)
                } else if try table.service(slot.spec.identity) != nil {
                    let actual = try table.destinations(of: slot.spec.identity)
                    batch = WeightSync.operations(service: slot.spec.identity, configured: configured, overrides: wanted,
                                                  previous: previous, actual: actual)
                } else {
                    // No service (yet): the ipvs agent creates it with the overrides in the file.
                    batch = []
                    wantedBy[index] = nil
                }
                operations += batch
                owners += Array(repeating: index, count: batch.count)
            }
            for operation in operations { log.debug(operation.description) }
            let outcomes = try table.apply(operations)
            // What the kernel now has, the status says at once (monitor and `tandem status`
            // never see a new weight with an old verdict for long).
            if !operations.isEmpty { statusDue = true }
            var refused = Set<Int>()
            for (position, failure) in outcomes.enumerated() {
                guard let failure else { continue }
                refused.insert(owners[position])
                log.warning("\(operations[position]): \(failure.function): \(failure.message); reading the table again")
                syncProblem = "\(operations[position]): \(failure.function): \(failure.message)"
            }
            if refused.isEmpty {
                lastSynced = .now
                syncProblem = nil
            }
            for index in ordered {
                // A refused request means the kernel was not as assumed: the next apply reads it.
                services[index].applied = refused.contains(index) ? nil : wantedBy[index]
                services[index].dirty = refused.contains(index)
            }
        } catch let error as NetlinkError {
            log.warning("IPVS: \(error); trying again on a new socket")
            syncProblem = "IPVS: \(error)"
            table = nil
            for index in services.indices { services[index].applied = nil }
        } catch {
            log.warning("applying the verdicts: \(error); trying again")
            syncProblem = "\(error)"
        }
        updateAttribute()
    }

    /// Notes whether verdicts wait for the kernel (the status says since when: monitor fails
    /// when they wait too long).
    func notePending(now: ContinuousClock.Instant) {
        let waiting = services.contains { $0.dirty }
        if waiting && pendingSince == nil {
            pendingSince = now
            statusChanged = true
        } else if !waiting && pendingSince != nil {
            pendingSince = nil
            statusChanged = true
        }
    }

    /// Healthy and configured real servers of each service.
    func counts() -> [String: (healthy: Int, total: Int)] {
        var result: [String: (healthy: Int, total: Int)] = [:]
        for slot in services {
            let configured = slot.configured ?? []
            let healthy = configured.filter { engine.targets[target(of: $0)]?.serves == true }.count
            result[slot.spec.description] = (healthy, configured.count)
        }
        return result
    }

    /// The node attribute follows the fewest healthy servers of any service (published off
    /// the loop, retried until attrd takes it).
    func updateAttribute() {
        guard let attributes, engine.roundComplete else { return }
        let value = String(counts().values.map(\.healthy).min() ?? 0)
        guard value != lastAttribute else { return }
        attributes.publish(value)
        lastAttribute = value
    }

    // MARK: Reload, status, readiness

    func reload() {
        do {
            guard let configuration = try DaemonConfiguration.load(from: configurationFile) else {
                throw DaemonError("the configuration file is gone")
            }
            let parameters = try HealthCheckParameters.load(from: configuration.environment)
            let prober = try Prober(loop: group.next(), spec: try parameters.checkSpec(), timeout: parameters.timeout.duration)
            guard parameters.services == self.parameters.services, parameters.netns == self.parameters.netns else {
                throw DaemonError("services and netns cannot change without a restart")
            }
            self.configuration = configuration
            if parameters.attribute != self.parameters.attribute {
                attributes?.retire()
                attributes = parameters.attribute.map { AttributePublisher(name: $0, log: log) }
                lastAttribute = nil
            }
            self.parameters = parameters
            targetRule = TargetRule(parameters)
            checksExternally = parameters.check == .external
            self.prober.retire()
            self.prober = prober
            statusChanged = true
            engine.settings = CheckerDaemon.hysteresis(parameters)
            fallback = CheckerDaemon.fallbacks(parameters)
            for index in services.indices {
                services[index].dirty = true
                services[index].publishedText = nil
                services[index].publishedSignature = nil
                services[index].applied = nil
            }
            lastRefresh = .now - .seconds(60)
            lastStatusWrite = .now - .seconds(60)
            log.info("reloaded the configuration (generation \(configuration.generation))")
        } catch {
            log.error("reload refused: \(error); the checker goes on with the previous configuration")
        }
    }

    func writeStatus(force: Bool = false) {
        let now = ContinuousClock.now
        let due = statusChanged ? lastStatusWrite + CheckerDaemon.statusPause : lastStatusWrite + CheckerDaemon.heartbeatPause
        guard now >= due || force else { return }
        statusChanged = false
        var status = DaemonStatus(daemon: identity, heartbeat: 0, generation: appliedGeneration, rounds: rounds,
                                  services: counts())
        status.netns = parameters.netns?.path ?? ""
        let boot = DaemonStatus.now()
        func bootTime(_ instant: ContinuousClock.Instant) -> Int64 { boot - Int64(instant.duration(to: now) / .milliseconds(1)) }
        status.synced = lastSynced.map(bootTime)
        status.pendingSince = pendingSince.map(bootTime)
        status.syncProblem = pendingSince == nil ? nil : syncProblem
        for (target, state) in engine.targets {
            status.targets[target.description] = TargetReport(
                health: state.health, inMaintenance: state.inMaintenance,
                latencyMicroseconds: state.lastLatency.map { Int($0 / .microseconds(1)) },
                reason: state.health == .down || state.isChanging ? state.reason : "")
        }
        status.heartbeat = DaemonStatus.now()
        // A failed write is tried again at the next heartbeat, not at every pass, and said once.
        lastStatusWrite = now
        do {
            try status.save(to: files.status)
            if statusProblem != nil { log.info("\(files.status.path) is written again") }
            statusProblem = nil
        } catch {
            if statusProblem != "\(error)" { log.error("writing \(files.status.path): \(error); monitor fails once the heartbeat is 10 s old") }
            statusProblem = "\(error)"
        }
    }

    /// Why the status file could not be written last time; `nil` when it was.
    var statusProblem: String?

    /// Tells the starting agent how the start went, once.
    func signalReady(_ message: String) {
        guard let fd = ready else { return }
        let line = Array((message + "\n").utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        ready = nil
    }
}

/// Sleeps until `instant` (at once when it has passed).
func sleep(until instant: ContinuousClock.Instant) {
    let remaining = ContinuousClock.now.duration(to: instant)
    if remaining > .zero { sleep(for: remaining) }
}

struct DaemonError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
