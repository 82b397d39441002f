import Addresses
import AgentRecords
import Glibc
import HealthCheck
import LVS
import Netlink
import OCF
import POSIX

/// Reads the state directory and the kernel, and changes nothing: no lock is taken, no file
/// written, so it is safe beside any action.
///
/// The records are read with the agents' own codecs (`AgentRecords`, the health-check contract
/// in `LVS.HealthOverrides`, the checker's `DaemonFiles`).
public struct StatusCollector {
    let directory: String
    let kernel: any Kernel
    var status: NodeStatus
    /// Each namespace's IPVS table, asked once (`nil` key: the node's own).
    var tables: [String?: Result<any IPVSTable, NetlinkError>] = [:]

    public static func collect(stateDirectory: String, kernel: any Kernel) -> NodeStatus {
        var collector = StatusCollector(directory: stateDirectory, kernel: kernel, status: NodeStatus(stateDirectory: stateDirectory))
        collector.run()
        return collector.status
    }

    mutating func run() {
        let names: [String]
        do {
            names = try StatusCollector.fileNames(in: directory)
        } catch {
            // No state directory: nothing was ever started here since boot.
            if error.errno != ENOENT { status.problems.append("\(error)") }
            return
        }
        var addressRecords: [(String, AddressRecord?)] = []
        var serviceRecords: [(String, ServiceRecord?)] = []
        var syncRecords: [(String, SyncDaemonRecord?)] = []
        var checkers: [Checker] = []
        for name in names where !name.hasSuffix(".lock") {
            if name.hasPrefix("healthcheck-") && name.hasSuffix(".conf") {
                if let checker = loadChecker(configuration: name) { checkers.append(checker) }
                continue
            }
            guard name.hasPrefix(AddressRecord.prefix)
                    || (name.hasPrefix(ServiceRecord.prefix) && !name.hasPrefix("ipvs-health-") && !name.hasPrefix("ipvs-desired-")),
                  let values = read(name)
            else { continue }
            // The keys tell the records apart: an ipvs resource may well be named `sync-…`.
            // A record of the right kind that does not read is listed as a problem.
            if name.hasPrefix(AddressRecord.prefix), AddressRecord.recognises(values) {
                addressRecords.append((String(name.dropFirst(AddressRecord.prefix.count)), AddressRecord(values)))
            } else if name.hasPrefix(SyncDaemonRecord.prefix), SyncDaemonRecord.recognises(values) {
                syncRecords.append((String(name.dropFirst(SyncDaemonRecord.prefix.count)), SyncDaemonRecord(values)))
            } else if name.hasPrefix(ServiceRecord.prefix), ServiceRecord.recognises(values) {
                serviceRecords.append((String(name.dropFirst(ServiceRecord.prefix.count)), ServiceRecord(values)))
            }
        }
        if !addressRecords.isEmpty { collectAddresses(addressRecords) }
        for (resource, record) in serviceRecords { collectService(resource: resource, record, checkers: checkers) }
        for (resource, record) in syncRecords { collectSyncDaemons(resource: resource, record) }
    }

    // MARK: Addresses

    mutating func collectAddresses(_ records: [(String, AddressRecord?)]) {
        let held: [InterfaceAddress]
        do {
            held = try kernel.routes(in: nil).addresses()
        } catch {
            status.problems.append("reading the addresses: \(error)")
            held = []
        }
        for (resource, record) in records {
            guard let record else {
                status.problems.append("\(directory)/\(AddressRecord.prefix)\(resource): not a record this version reads")
                continue
            }
            // A real server's address sits on lo, and its network interface must not answer for it.
            let realServer = record.realServerInterface != nil || record.interface == "lo"
            status.addresses.append(AddressStatus(
                resource: resource, address: "\(record.address)/\(record.prefixLength)", interface: record.interface,
                held: held.contains(where: record.matches),
                announcedOn: realServer ? nil : record.interface, arpRestrictedOn: record.realServerInterface?.rawValue,
                announcing: record.announcer?.isRunning == true))
        }
    }

    // MARK: IPVS services

    /// A healthcheck resource: what it checks and what its daemon last wrote.
    struct Checker {
        let resource: String
        let parameters: HealthCheckParameters
        let status: DaemonStatus?
    }

    mutating func loadChecker(configuration name: String) -> Checker? {
        let base = String(name.dropLast(5))
        do {
            guard let configuration = try DaemonConfiguration.load(from: StateFile(path: directory + "/" + name)) else { return nil }
            let parameters = try HealthCheckParameters.load(from: configuration.environment)
            let daemonStatus = try DaemonStatus.load(from: StateFile(path: directory + "/" + base + ".status"))
            return Checker(resource: configuration.instance, parameters: parameters, status: daemonStatus)
        } catch {
            status.problems.append("\(directory)/\(name): \(error)")
            return nil
        }
    }

    mutating func collectService(resource: String, _ record: ServiceRecord?, checkers: [Checker]) {
        guard let record else {
            status.problems.append("\(directory)/\(ServiceRecord.prefix)\(resource): not a record this version reads")
            return
        }
        let spec = ServiceSpec(identity: record.service)
        let netns = record.namespace
        let store = HealthOverrides.Store(service: spec, namespace: netns, directory: directory)
        var desired: [IPVSDestination] = []
        var overrides = HealthOverrides()
        do {
            desired = try store.loadDesired() ?? []
            overrides = try store.load().0
        } catch {
            status.problems.append("\(spec): \(error)")
        }
        var service: IPVSService?
        var inKernel: [IPVSDestination] = []
        switch table(in: netns) {
        case .success(let table):
            do {
                service = try table.service(spec.identity)
                if service != nil { inKernel = try table.destinations(of: spec.identity) }
            } catch {
                status.problems.append("reading \(spec) from IPVS: \(error)")
            }
        case .failure(let error):
            status.problems.append("IPVS\(netns.map { " in \($0)" } ?? ""): \(error)")
        }
        let checker = checkers.first { checker in
            checker.parameters.netns?.path == netns && checker.parameters.services.services.contains(spec)
        }
        let rule = checker.map { TargetRule($0.parameters) }
        // The configured servers first, in their order; then what only the kernel has (a
        // fallback server the checker added, or something added by hand).
        var keys = desired.map(\.key)
        for destination in inKernel where !keys.contains(destination.key) { keys.append(destination.key) }
        var servers: [RealServerStatus] = []
        for key in keys {
            let configured = desired.first { $0.key == key }
            let current = inKernel.first { $0.key == key }
            guard let any = current ?? configured else { continue }
            var server = RealServerStatus(
                address: key.description, forwarding: StatusCollector.name(of: any.forwarding),
                configuredWeight: configured?.weight, currentWeight: current?.weight,
                activeConnections: current?.activeConnections ?? 0, inactiveConnections: current?.inactiveConnections ?? 0,
                health: nil, reason: "", latencyMicroseconds: nil)
            if let checker, let rule, configured != nil {
                let report = checker.status?.targets[rule.target(of: any).description]
                server.health = report.map { $0.inMaintenance ? "maintenance" : $0.health.rawValue } ?? Health.unknown.rawValue
                server.reason = report?.reason ?? ""
                server.latencyMicroseconds = report?.latencyMicroseconds
            }
            if case .fallback? = overrides.entries[key] { server.health = "fallback" }
            // Out since a checker stopped, until the next one checks it (or the hold ends).
            if checker == nil, let until = overrides.heldUntil, !overrides.holdExpired(), overrides.entries[key] != nil {
                server.health = "held"
                server.reason = "kept out by a stopped checker for \(max(0, until - bootTimeMilliseconds()) / 1000) s more"
            }
            servers.append(server)
        }
        status.services.append(ServiceStatus(
            resource: resource, service: spec.description, netns: netns, inKernel: service != nil, scheduler: service?.scheduler,
            checker: checker.map { checker in
                CheckerStatus(resource: checker.resource, check: checker.parameters.check.rawValue,
                              running: checker.status.flatMap { ProcessIdentity($0.daemon) }?.isRunning == true,
                              heartbeatAge: checker.status.map { DaemonStatus.now() - $0.heartbeat },
                              firstRoundDone: (checker.status?.rounds ?? 0) > 0, fatal: checker.status?.fatal)
            },
            realServers: servers))
    }

    // MARK: Sync daemons

    mutating func collectSyncDaemons(resource: String, _ record: SyncDaemonRecord?) {
        guard let record else {
            status.problems.append("\(directory)/\(SyncDaemonRecord.prefix)\(resource): not a record this version reads")
            return
        }
        let netns = record.netns, interface = record.daemon.interface, syncID = record.daemon.syncID
        var role = "unknown"
        switch table(in: netns) {
        case .success(let table):
            do {
                // The kernel runs one master and one backup per namespace; this resource's are
                // those with its interface and sync ID.
                let states = try table.daemons().filter(record.owns).map(\.state)
                role = switch (states.contains(.master), states.contains(.backup)) {
                case (true, true): "master+backup"
                case (true, false): "master"
                case (false, true): "backup"
                case (false, false): "stopped"
                }
            } catch {
                status.problems.append("reading the sync daemons: \(error)")
            }
        case .failure(let error):
            status.problems.append("IPVS\(netns.map { " in \($0)" } ?? ""): \(error)")
        }
        status.syncDaemons.append(SyncDaemonStatus(resource: resource, netns: netns, interface: interface, syncID: Int(syncID), role: role))
    }

    // MARK: Helpers

    mutating func table(in netns: String?) -> Result<any IPVSTable, NetlinkError> {
        if let table = tables[netns] { return table }
        let table: Result<any IPVSTable, NetlinkError>
        do {
            table = .success(try kernel.ipvs(in: netns))
        } catch {
            table = .failure(error)
        }
        tables[netns] = table
        return table
    }

    mutating func read(_ name: String) -> [String: String]? {
        do {
            return try StateFile(path: directory + "/" + name).read()
        } catch {
            status.problems.append("\(error)")
            return nil
        }
    }

    static func name(of forwarding: IPVSDestination.ForwardingMethod) -> String {
        switch forwarding {
        case .masquerade: "nat"
        case .localNode: "local"
        case .tunnel: "tunnel"
        case .directRouting: "dr"
        case .bypass: "bypass"
        }
    }

    /// The directory's file names, sorted (so the view lists resources in a stable order).
    static func fileNames(in path: String) throws(StateError) -> [String] {
        let entries: [(name: String, type: UInt8)]
        do { entries = try directoryEntries(path) } catch { throw StateError(operation: "opendir", path: path, errno: error.code) }
        // Files only; a file system that does not say (DT_UNKNOWN) gets the benefit of the doubt.
        return entries.filter { $0.type == DT_REG || $0.type == DT_UNKNOWN }.map(\.name).sorted()
    }
}
