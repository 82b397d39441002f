import Glibc
import HealthCheck
import LVS
import Netlink
import OCF
import OCFNetlink
import POSIX

/// What the agent works with on the node: the kernel's IPVS tables and the checker daemon.
struct HealthCheckHost {
    let kernel: any Kernel
    /// The daemon's executable: `$TANDEM_LIBEXEC_DIR/healthcheckd`, installed in /usr/libexec/tandem.
    let daemon: String

    init(kernel: any Kernel, environment: Environment) {
        self.kernel = kernel
        daemon = (environment["TANDEM_LIBEXEC_DIR"] ?? "/usr/libexec/tandem") + "/healthcheckd"
    }
}

/// `ocf:tandem:healthcheck`: a checker daemon that keeps the IPVS weights of real servers in
/// line with their health.
final class HealthCheckAgent: ResourceAgent {
    static let name = "healthcheck"
    static let version = tandemVersion
    static let shortDescription = "Real-server health checks that keep IPVS weights honest"
    static let longDescription = """
        Runs a checker daemon that checks every real server of one or more IPVS services (run by ocf:tandem:ipvs \
        on the same node) concurrently, each check with its own deadline, and judges each server with rise and fall: \
        a failed server is quiesced (weight 0) or removed, a returning one gets its configured weight back, ramped \
        over slow_start; a fallback server stands in while all have failed. A real server several services share is \
        checked once. The daemon changes weights through the same override files and lock the ipvs agent reads, so \
        a drift repair never undoes a verdict. start returns once the first round of checks is applied; stop ends \
        the daemon and gives every real server its configured weight back except the ones it found dead, which stay \
        out for its next start (a restart never sends them traffic; if no checker starts within 60 s, the ipvs agent \
        gives them back); monitor fails when the daemon's heartbeat is more than 10 s old or verdicts wait more \
        than 10 s for the kernel (and at depth 10 when the kernel differs from its verdicts).
        """
    static let actions = [
        ActionAdvertisement(.start, timeout: 30),
        ActionAdvertisement(.stop, timeout: 30),
        ActionAdvertisement(.monitor, timeout: 20, interval: 10),
        ActionAdvertisement(.monitor, timeout: 20, interval: 60, depth: 10),
        ActionAdvertisement(.reloadAgent, timeout: 20),
        ActionAdvertisement(.validateAll, timeout: 20),
        ActionAdvertisement(.metaData, timeout: 5),
    ]

    let parameters: HealthCheckParameters
    let context: AgentContext
    let host: HealthCheckHost
    let kernel: any Kernel

    init(parameters: HealthCheckParameters, context: AgentContext, host: HealthCheckHost) throws {
        self.parameters = parameters
        self.context = context
        self.host = host
        kernel = context.traced(host.kernel)
    }

    var log: Log { context.log }
    var files: DaemonFiles { DaemonFiles(directory: context.state.path, instance: context.instance) }
    var recordFile: StateFile { context.stateFile(agent: Self.name) }

    // MARK: validate-all

    func validate() throws {
        _ = try kernel.ipvsTable(in: parameters.netns)
        guard access(host.daemon, X_OK) == 0 else {
            throw OCFError.notInstalled("the checker daemon \(host.daemon) is not installed")
        }
        if let directory = parameters.maintenanceDirectory, !isDirectory(directory) {
            throw OCFError.notInstalled("maintenance_dir: \(directory) is not a directory on this node")
        }
        if let caFile = parameters.tlsCAFile, access(caFile, R_OK) != 0 {
            throw OCFError.notInstalled("tls_ca_file: \(caFile) cannot be read on this node")
        }
        if let file = parameters.mysqlDefaultsFile, parameters.check == .mysql {
            var information = stat()
            guard stat(file, &information) == 0, access(file, R_OK) == 0 else {
                throw OCFError.notInstalled("mysql_defaults_file: \(file) cannot be read on this node")
            }
            if information.st_mode & 0o077 != 0 {
                log.warning("mysql_defaults_file: \(file) holds a password and others may read it (chmod 600)")
            }
        }
        if let program = parameters.externalCommand, parameters.check == .external, access(program, X_OK) != 0 {
            throw OCFError.notInstalled("external_command: \(program) is not an executable on this node")
        }
    }

    // MARK: start

    func start() throws {
        if let record = try Record.load(from: recordFile), let daemon = record.daemon, daemon.isRunning,
           try freshStatus(of: daemon) != nil {
            log.info("the checker daemon (\(daemon.pid)) runs already")
            return
        }
        // A daemon left by an interrupted start or a crash goes first: one daemon per instance.
        try Self.teardown(record: try Record.load(from: recordFile), context: context, kernel: kernel, daemon: host.daemon,
                          restore: false)
        // Two checkers of one service would overwrite each other's verdicts.
        if let (service, other) = try otherChecker() {
            throw OCFError.generic("\(service) is checked by another healthcheck resource already (\(other))")
        }
        var missing: [String] = []
        for service in parameters.services.services where try store(service).loadDesired() == nil {
            missing.append(service.description)
        }
        guard missing.isEmpty else {
            throw OCFError.generic("\(missing.joined(separator: ", ")) not run by an ocf:tandem:ipvs resource on this node (order it before this one)")
        }
        try context.state.create()
        let configuration = DaemonConfiguration(parameters: DaemonConfiguration.parameters(from: context.environment),
                                                stateDirectory: context.state.path, instance: context.instance, generation: 1)
        try configuration.save(to: files.configuration)
        // Recorded before the daemon exists: a stop after a killed start still finds its services
        // (and the daemon, by its command line).
        var record = Record(daemon: nil, services: parameters.services, netns: parameters.netns?.path,
                            attribute: parameters.attribute, generation: 1)
        try record.save(to: recordFile)

        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw OCFError.generic("pipe: \(Errno.current)") }
        // The daemon keeps the write end (Background.launch closes every other descriptor).
        let writeEnd = pipeEnds[1]
        defer { close(pipeEnds[0]) }
        // What the daemon cannot log itself (a crash) lands in the cluster's log file too.
        let logFile = context.environment["HA_LOGFILE"] ?? context.environment["HA_logfile"]
        let launched = Background.launch(host.daemon, [files.configuration.path, String(writeEnd)], output: logFile,
                                         keeping: [writeEnd])
        close(writeEnd)
        guard let daemon = launched else { throw OCFError.generic("fork: \(Errno.current)") }
        record.daemon = daemon
        try record.save(to: recordFile)
        let answer = readLine(from: pipeEnds[0], deadline: context.deadline - .milliseconds(500))
        switch answer {
        case "ready"?:
            log.info("checking the real servers of \(parameters.services.ocfValue) (daemon \(daemon.pid))")
        case let line? where line.hasPrefix("error: "):
            throw OCFError.generic("the checker daemon could not start: \(line.dropFirst(7))")
        case nil where daemon.isDone:
            throw OCFError.generic("the checker daemon exited during its first round of checks")
        default:
            throw OCFError.generic("the first round of checks was not applied within the start timeout")
        }
    }

    /// One line from the daemon, or `nil` at end of file or when the deadline passes.
    private func readLine(from fd: Int32, deadline: ContinuousClock.Instant) -> String? {
        var bytes: [UInt8] = []
        while !bytes.contains(UInt8(ascii: "\n")) {
            guard let chunk = try? FileDescriptor(fd).read(upTo: 512, until: deadline) else { return nil }
            guard !chunk.isEmpty else { break }
            bytes += chunk
        }
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    // MARK: stop

    func stop() throws {
        var record = try Record.load(from: recordFile)
        if record == nil {
            record = Record(daemon: nil, services: parameters.services, netns: parameters.netns?.path,
                            attribute: parameters.attribute, generation: 0)
        }
        try Self.teardown(record: record, context: context, kernel: kernel, daemon: host.daemon, restore: true)
    }

    static func stop(unparsableConfiguration problems: ParameterProblems, context: AgentContext, host: HealthCheckHost) throws {
        let record = try Record.load(from: context.stateFile(agent: name))
        if record == nil { context.log.info("no checker was recorded as started") }
        try teardown(record: record, context: context, kernel: context.traced(host.kernel), daemon: host.daemon, restore: true)
    }

    /// Ends every daemon of this instance (the recorded one and any found by its command line),
    /// then, with `restore`, ends its overrides (the failed real servers stay out, held for its
    /// next start), removes the node attribute, and forgets the instance.
    static func teardown(record: Record?, context: AgentContext, kernel: any Kernel, daemon executable: String,
                         restore: Bool) throws {
        let files = DaemonFiles(directory: context.state.path, instance: context.instance)
        var daemons = Background.processes(running: executable, withArgument: files.configuration.path)
        if let recorded = record?.daemon, !daemons.contains(recorded) { daemons.append(recorded) }
        let margin = restore ? Duration.seconds(2) : .milliseconds(500)
        for daemon in daemons where !daemon.isDone {
            guard daemon.terminate(by: context.deadline - margin) else {
                throw OCFError.generic("the checker daemon \(daemon.pid) did not end, even after SIGKILL")
            }
            context.log.info("stopped the checker daemon (\(daemon.pid))")
        }
        guard restore else { return }
        if let record {
            // The daemon's last verdicts say which servers are out for failing (not maintenance).
            let status = try? DaemonStatus.load(from: files.status)
            let rule = (try? HealthCheckParameters.load(from: context.environment)).map(TargetRule.init)
            let failed: (IPVSDestination.Key) -> Bool = { key in
                guard let status, let rule else { return true }
                return status.targets[rule.target(of: key).description]?.health == .down
            }
            // The daemon is gone: that is what stop must prove. Weights are the ipvs agent's
            // service; one that cannot be set now is left as it is (and said so), never a failed
            // stop (that would get the node fenced).
            for service in record.services.services {
                do {
                    try holdFailedServers(of: service, namespace: record.netns, failed: failed, context: context, kernel: kernel)
                } catch {
                    context.log.warning("the overrides of \(service) stay as they are: \((error as? OCFError)?.reason ?? "\(error)")")
                }
            }
            if let attribute = record.attribute {
                do {
                    try context.nodeAttributes.delete(attribute)
                } catch {
                    context.log.warning("removing node attribute \(attribute): \(error)")
                }
            }
        }
        context.forget(files.status)
        context.forget(files.configuration)
        context.forget(context.stateFile(agent: name))
    }

    /// Under the contract's lock: the real servers the checker took out stay out, held for
    /// `HealthOverrides.holdAfterStop` (a restart must not send traffic to a server it found
    /// dead; its next start takes them over, else the ipvs agent gives them back); every other
    /// override ends (a server in slow start gets its configured weight). Nothing to change in
    /// the kernel without IPVS or the service.
    static func holdFailedServers(of service: ServiceSpec, namespace: String?, failed: (IPVSDestination.Key) -> Bool,
                                  context: AgentContext, kernel: any Kernel) throws {
        let store = HealthOverrides.Store(service: service, namespace: namespace, directory: context.state.path)
        try store.withLock(deadline: min(context.deadline, .now + .seconds(5))) {
            let (previous, _) = try store.load()
            let configured = (try? store.loadDesired()) ?? nil
            let held = previous.holdExpired() ? HealthOverrides()
                : previous.held(until: bootTimeMilliseconds() + HealthOverrides.holdAfterStop, failed: failed,
                                configured: configured?.map(\.key))
            try store.save(held)
            if !held.entries.isEmpty {
                let names = held.entries.keys.map(\.description).sorted().joined(separator: ", ")
                context.log.info("\(names) of \(service) stay out for \(HealthOverrides.holdAfterStop / 1000) s (held for the checker's next start)")
            }
            guard previous.entries != held.entries else { return }
            let table: any IPVSTable
            switch try IPVSPresence.check(kernel, in: namespace.map { NamespaceReference(path: $0) }) {
            case .present(let opened): table = opened
            case .absent: return
            }
            let identity = service.identity
            guard try netlink("reading \(identity)", { try table.service(identity) }) != nil else { return }
            let actual = try netlink("reading the real servers of \(identity)") {
                try table.destinations(of: identity)
            }
            // Without the ipvs agent's configuration, the overridden servers are left to its next start.
            let operations = WeightSync.operations(service: identity, configured: configured ?? [], overrides: held,
                                                   previous: previous, actual: actual)
                .filter { operation in
                    if configured != nil { return true }
                    if case .deleteDestination = operation { return true }
                    return false
                }
            let outcomes = try netlink("restoring the weights of \(identity)") {
                try table.apply(operations)
            }
            if let failure = outcomes.compactMap({ $0 }).first {
                throw OCFError.generic("restoring the weights of \(identity): \(failure.function): \(failure.message)")
            }
            if !operations.isEmpty { context.log.info("gave the other real servers of \(identity) their configured weights back") }
        }
    }

    // MARK: monitor

    func monitor() throws -> MonitorResult {
        guard let record = try Record.load(from: recordFile) else {
            return .notRunning
        }
        guard let daemon = runningDaemon(record) else {
            // A start killed before it launched the daemon left only its record: nothing runs
            // and nothing was changed.
            if record.daemon == nil { return .notRunning }
            throw OCFError.generic("the checker daemon (\(record.daemon.map { "\($0.pid)" } ?? "-")) is not running")
        }
        guard let status = try DaemonStatus.load(from: files.status), status.daemon == daemon.description else {
            // Launched and still in its first round of checks (its start was interrupted).
            guard !context.isProbe else { return .running }
            throw OCFError.generic("the checker daemon (\(daemon.pid)) has not finished its first round of checks")
        }
        guard try freshStatus(of: daemon) != nil else {
            let cause = context.state.writeProblem.map { " (\($0))" } ?? ""
            throw OCFError.generic("the checker daemon (\(daemon.pid)) shows no heartbeat for \((DaemonStatus.now() - status.heartbeat) / 1000) s\(cause)")
        }
        if let fatal = status.fatal { throw OCFError.generic("the checker daemon failed: \(fatal)") }
        if let pending = status.pendingSince, DaemonStatus.now() - pending > DaemonStatus.pendingLimit {
            throw OCFError.generic("verdicts not applied to the kernel for \((DaemonStatus.now() - pending) / 1000) s: \(status.syncProblem ?? "no reason given")")
        }
        if context.checkLevel >= 10 && !context.isProbe {
            for service in record.services.services { try compareKernel(service, netns: record.netns) }
        }
        let down = status.targets.filter { !$0.value.serves }.map(\.key).sorted()
        switch parameters.degradedOn {
        case .someDown where !down.isEmpty:
            return .degraded("real server(s) down: \(down.joined(separator: ", "))")
        case .allDown:
            let empty = status.services.filter { $0.value.total > 0 && $0.value.healthy == 0 }.map(\.key).sorted()
            if !empty.isEmpty { return .degraded("no healthy real server in \(empty.joined(separator: ", "))") }
        default:
            break
        }
        return .running
    }

    /// The daemon's status if its heartbeat is recent enough (`DaemonStatus.heartbeatLimit`,
    /// whatever the check interval: the daemon writes it every two seconds, checks or not).
    func freshStatus(of daemon: ProcessIdentity) throws -> DaemonStatus? {
        guard let status = try DaemonStatus.load(from: files.status), status.daemon == daemon.description else { return nil }
        return DaemonStatus.now() - status.heartbeat <= DaemonStatus.heartbeatLimit ? status : nil
    }

    /// Depth 10: the kernel's real servers match the configuration with the checker's overrides.
    func compareKernel(_ service: ServiceSpec, netns: String?) throws {
        let store = self.store(service)
        try store.withLock(deadline: context.deadline) {
            guard let configured = try store.loadDesired() else { return }
            let (overrides, _) = try store.load()
            let table = try kernel.ipvsTable(in: parameters.netns)
            let identity = service.identity
            guard try netlink("reading \(identity)", { try table.service(identity) }) != nil else { return }
            let actual = try netlink("reading the real servers of \(identity)") {
                try table.destinations(of: identity)
            }
            let differences = WeightSync.operations(service: identity, configured: configured, overrides: overrides,
                                                    previous: overrides, actual: actual)
            if let first = differences.first {
                throw OCFError.generic("the kernel differs from the checker's verdicts in \(identity): \(first)"
                                       + (differences.count > 1 ? " (and \(differences.count - 1) more)" : ""))
            }
        }
    }

    // MARK: reload-agent

    func reloadAgent() throws {
        guard var record = try Record.load(from: recordFile), let daemon = record.daemon, daemon.isRunning else {
            log.info("the checker is not running; the new parameters apply at its next start")
            return
        }
        guard record.services == parameters.services else {
            throw OCFError.generic("services cannot change with a reload (restart the resource)")
        }
        record.generation += 1
        if let old = record.attribute, old != parameters.attribute {
            do { try context.nodeAttributes.delete(old) } catch { log.warning("removing node attribute \(old): \(error)") }
        }
        record.attribute = parameters.attribute
        let configuration = DaemonConfiguration(parameters: DaemonConfiguration.parameters(from: context.environment),
                                                stateDirectory: context.state.path, instance: context.instance,
                                                generation: record.generation)
        try configuration.save(to: files.configuration)
        try record.save(to: recordFile)
        kill(daemon.pid, SIGHUP)
        while ContinuousClock.now < context.deadline - .milliseconds(500) {
            if let status = try DaemonStatus.load(from: files.status), status.generation >= record.generation {
                log.info("the checker runs the new parameters")
                return
            }
            guard daemon.isRunning else { throw OCFError.generic("the checker daemon ended during the reload") }
            sleep(for: .milliseconds(20))
        }
        throw OCFError.generic("the checker daemon did not take the new parameters in time")
    }

    // MARK: Shared

    /// The daemon of this instance: the recorded one, or one found by its command line (a
    /// start killed between launching it and recording it).
    func runningDaemon(_ record: Record) -> ProcessIdentity? {
        if let daemon = record.daemon, daemon.isRunning { return daemon }
        return Background.processes(running: host.daemon, withArgument: files.configuration.path).first(where: \.isRunning)
    }

    /// A service of this resource that a running checker of another instance checks, and that
    /// checker's status file.
    func otherChecker() throws -> (String, String)? {
        let ours = Set(parameters.services.services.map(\.description))
        let netns = parameters.netns?.path ?? ""
        for name in directoryNames(context.state.path) where name.hasPrefix("healthcheck-") && name.hasSuffix(".status") {
            let path = context.state.path + "/" + name
            guard path != files.status.path, let status = try DaemonStatus.load(from: StateFile(path: path)),
                  status.netns == netns, ProcessIdentity(status.daemon)?.isRunning == true,
                  let shared = status.services.keys.sorted().first(where: ours.contains) else { continue }
            return (shared, name)
        }
        return nil
    }

    func store(_ service: ServiceSpec) -> HealthOverrides.Store {
        HealthOverrides.Store(service: service, namespace: parameters.netns?.path, directory: context.state.path)
    }

    private func isDirectory(_ path: String) -> Bool {
        var information = stat()
        return stat(path, &information) == 0 && information.st_mode & S_IFMT == S_IFDIR
    }
}

/// What a start recorded: the daemon, and what a stop must restore even when the
/// configuration no longer parses.
struct Record {
    var daemon: ProcessIdentity?
    var services: ServiceList
    var netns: String?
    var attribute: String?
    var generation: Int

    static func load(from file: StateFile) throws -> Record? {
        guard let values = try file.read(), let services = try? ServiceList(ocfValue: values["services"] ?? "") else { return nil }
        let netns = values["netns"].flatMap { $0.isEmpty ? nil : try? NamespaceReference(ocfValue: $0) }
        let attribute = values["attribute"].flatMap { NodeAttributes.isValidName($0) ? $0 : nil }
        return Record(daemon: ProcessIdentity(values["daemon"] ?? ""), services: services, netns: netns?.path,
                      attribute: attribute, generation: Int(values["generation"] ?? "") ?? 0)
    }

    func save(to file: StateFile) throws {
        try file.write([("daemon", daemon?.description ?? ""), ("services", services.ocfValue), ("netns", netns ?? ""),
                        ("attribute", attribute ?? ""), ("generation", String(generation))])
    }
}
