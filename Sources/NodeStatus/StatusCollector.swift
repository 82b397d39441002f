import Addresses
import Glibc
import HealthCheck
import LVS
import Netlink
import OCF

/// Reads the state directory and the kernel, and changes nothing: no lock is taken, no file
/// written, so it is safe beside any action.
///
/// The record formats are the agents' (`vip`'s and `ipvs-sync`'s `Record`, the ipvs agent's
/// record and its health-check contract in `LVS.HealthOverrides`, the checker's `DaemonFiles`).
/// The vip and ipvs-sync records live in their executables, so the keys read here are named
/// once more; the status tests run the real agents, which keeps both sides in step.
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
        var addressRecords: [(String, [String: String])] = []
        var serviceRecords: [(String, [String: String])] = []
        var syncRecords: [(String, [String: String])] = []
        var checkers: [Checker] = []
        for name in names where !name.hasSuffix(".lock") {
            if name.hasPrefix("healthcheck-") && name.hasSuffix(".conf") {
                if let checker = loadChecker(configuration: name) { checkers.append(checker) }
                continue
            }
            guard name.hasPrefix("vip-") || (name.hasPrefix("ipvs-") && !name.hasPrefix("ipvs-health-") && !name.hasPrefix("ipvs-desired-")),
                  let values = read(name)
            else { continue }
            // The keys tell the records apart: an ipvs resource may well be named `sync-…`.
            if name.hasPrefix("vip-"), values["address"] != nil {
                addressRecords.append((String(name.dropFirst(4)), values))
            } else if name.hasPrefix("ipvs-sync-"), values["syncid"] != nil {
                syncRecords.append((String(name.dropFirst(10)), values))
            } else if name.hasPrefix("ipvs-"), values["service"] != nil {
                serviceRecords.append((String(name.dropFirst(5)), values))
            }
        }
        if !addressRecords.isEmpty { collectAddresses(addressRecords) }
        for (resource, values) in serviceRecords { collectService(resource: resource, values, checkers: checkers) }
        for (resource, values) in syncRecords { collectSyncDaemons(resource: resource, values) }
    }

    // MARK: Addresses

    mutating func collectAddresses(_ records: [(String, [String: String])]) {
        let held: [InterfaceAddress]
        do {
            held = try kernel.routes(in: nil).addresses()
        } catch {
            status.problems.append("reading the addresses: \(error)")
            held = []
        }
        for (resource, values) in records {
            guard let address = values["address"].flatMap(IPAddress.init), let prefix = values["prefix"].flatMap(Int.init),
                  let index = values["ifindex"].flatMap(Int32.init), let interface = values["interface"]
            else {
                status.problems.append("\(directory)/vip-\(resource): not a record this version reads")
                continue
            }
            let realServerInterface = values["realserver_interface"].flatMap { $0.isEmpty ? nil : $0 }
            // A real server's address sits on lo, and its network interface must not answer for it.
            let realServer = realServerInterface != nil || interface == "lo"
            let announcer = values["announcer"].flatMap(ProcessIdentity.init)
            status.addresses.append(AddressStatus(
                resource: resource, address: "\(address)/\(prefix)", interface: interface,
                held: held.contains { $0.address == address && $0.interfaceIndex == index && $0.prefixLength == prefix },
                announcedOn: realServer ? nil : interface, arpRestrictedOn: realServerInterface,
                announcing: announcer?.isRunning == true))
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

    mutating func collectService(resource: String, _ values: [String: String], checkers: [Checker]) {
        guard let text = values["service"], let spec = try? ServiceSpec(parsing: text) else {
            status.problems.append("\(directory)/ipvs-\(resource): not a record this version reads")
            return
        }
        let netns = values["netns"].flatMap { $0.isEmpty ? nil : $0 }
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

    mutating func collectSyncDaemons(resource: String, _ values: [String: String]) {
        guard let interface = values["interface"], let syncID = values["syncid"].flatMap(UInt8.init) else {
            status.problems.append("\(directory)/ipvs-sync-\(resource): not a record this version reads")
            return
        }
        let netns = values["netns"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        var role = "unknown"
        switch table(in: netns) {
        case .success(let table):
            do {
                // The kernel runs one master and one backup per namespace; this resource's are
                // those with its interface and sync ID.
                let states = try table.daemons().filter { $0.interface == interface && $0.syncID == syncID }.map(\.state)
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
        guard let stream = opendir(path) else { throw StateError(operation: "opendir", path: path, errno: errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            // Files only; a file system that does not say (DT_UNKNOWN) gets the benefit of the doubt.
            if entry.pointee.d_type == DT_REG || entry.pointee.d_type == DT_UNKNOWN { names.append(name) }
        }
        return names.sorted()
    }
}
