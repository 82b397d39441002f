import Addresses
import Glibc
import HealthCheck
import LVS
import Labs
import Netlink
import OCF
import OCFTesting
import Testing

/// The fault table in the IPVS guest, for real: ipvs, ipvs-sync and healthcheck with IPVS
/// unloaded, a namespace or interface gone, the state directory full or read-only, the
/// health checker's lock held, a low descriptor limit, and the wall clock stepped under every
/// agent. Each cell records what must happen and what did (`FaultTable`).
@Suite(.serialized, .enabled(if: IPVSFacility.available))
struct FaultTableTests {
    static let state = "/tmp/tandem-guest-faults-\(getpid())"
    let ipvsParameters = ["service": "tcp:192.0.2.10:80", "scheduler": "rr", "realservers": "10.0.0.1 masq, 10.0.0.2 masq 2"]
    let identity = IPVSService.Identity.address(.tcp, IPAddress("192.0.2.10")!, port: 80)

    /// A namespace with lo up and a sync0 link, as the lifecycle tests use.
    func namespace() throws -> NetworkNamespace { try RealIPVSWorld.makeNamespace() }

    func services(in namespace: NetworkNamespace) throws -> [IPVSService.Identity] {
        try IPVSSocket(in: namespace).services().map(\.identity)
    }

    // MARK: IPVS unloaded

    static var ipvsLoaded: Bool { access("/sys/module/ip_vs", F_OK) == 0 }

    /// Unloads every ip_vs module (the kernel keeps them while any namespace holds a service or
    /// a sync daemon: retried while other tests' namespaces go away).
    static func unloadIPVS() -> Bool {
        waitUntil(deadline: .now + .seconds(60)) {
            let modules = (readFile("/proc/modules") ?? "").split(separator: "\n").compactMap { line -> String? in
                let name = line.prefix { $0 != " " }
                return name.hasPrefix("ip_vs") ? String(name) : nil
            }
            guard !modules.isEmpty else { return true }
            // Schedulers first: they hold ip_vs.
            let ordered = modules.filter { $0 != "ip_vs" } + (modules.contains("ip_vs") ? ["ip_vs"] : [])
            _ = try? Command("/sbin/modprobe", ["-r"] + ordered).run(deadline: .now + .seconds(30))
            return !ipvsLoaded
        }
    }

    /// IPVS unloaded: a probe says stopped without loading it (probes change nothing), start
    /// loads it (the genetlink family lookup) and runs; the same for ipvs-sync.
    @Test func ipvsUnloaded() throws {
        for agent in ["ipvs", "ipvs-sync"] {
            let namespace = try namespace()
            let runner = AgentRunner(agent: agent, namespace: namespace, instance: "unloaded", stateDirectory: Self.state)
            let parameters = agent == "ipvs" ? ipvsParameters : ["interface": "sync0", "syncid": "9"]
            let unloaded = Self.unloadIPVS()
            let probe = try runner.run("monitor", parameters, interval: 0)
            let stillUnloaded = !Self.ipvsLoaded
            let start = try runner.run("start", parameters)
            let monitor = try runner.run("monitor", parameters)
            let stop = try runner.run("stop", parameters)
            let holds = unloaded && probe.exitCode == .notRunning && stillUnloaded && start.exitCode == .success
                && monitor.exitCode == .success && stop.exitCode == .success
            FaultTable.record(agent, "IPVS modules unloaded",
                              expected: "probe 7 without loading them; start 0 (loads ip_vs), monitor 0, stop 0",
                              observed: "\(unloaded ? "" : "COULD NOT UNLOAD; ")probe \(probe.status)\(stillUnloaded ? ", still unloaded" : ", LOADED BY THE PROBE"); start \(start.status), monitor \(monitor.status), stop \(stop.status)",
                              holds: holds)
            #expect(holds, "\(agent): \(probe)\n\(start)\n\(monitor)\n\(stop)")
        }
    }

    // MARK: A namespace or an interface gone

    /// The `netns` namespace of a running service deleted (its table goes with it): monitor
    /// fails naming it, a probe says stopped, stop succeeds and forgets the service.
    @Test func ipvsNamespaceGone() throws {
        let name = "tandem-gone-\(getpid())"
        let added = try Command("/sbin/ip", ["netns", "add", name]).run(deadline: .now + .seconds(20))
        try #require(added.status == 0, "\(added.errorOutput)")
        defer { _ = try? Command("/sbin/ip", ["netns", "delete", name]).run(deadline: .now + .seconds(20)) }
        // IPVS takes a masq real server only where a route could reach it.
        for arguments in [["link", "set", "lo", "up"], ["route", "add", "10.0.0.0/24", "dev", "lo"]] {
            _ = try Command("/sbin/ip", ["-n", name] + arguments).run(deadline: .now + .seconds(20))
        }
        let runner = AgentRunner(agent: "ipvs", instance: "netns", stateDirectory: Self.state)
        let parameters = ipvsParameters.merging(["netns": name]) { $1 }
        let start = try runner.run("start", parameters)
        try #require(start.exitCode == .success, "\(start)")
        _ = try Command("/sbin/ip", ["netns", "delete", name]).run(deadline: .now + .seconds(20))
        let monitor = try runner.run("monitor", parameters)
        let probe = try runner.run("monitor", parameters, interval: 0)
        let stop = try runner.run("stop", parameters)
        let forgotten = (try? StateFile(path: "\(Self.state)/ipvs-netns").read()) == .some(nil)
        let holds = monitor.exitCode != .success && monitor.exitCode != .notRunning && monitor.exitReason != nil
            && probe.exitCode == .notRunning && stop.exitCode == .success && forgotten
        FaultTable.record("ipvs", "its netns deleted under it", expected: "monitor fails naming it; probe 7; stop 0, record gone",
                          observed: "\(FaultTable.outcome("monitor", monitor)); probe \(probe.status); stop \(stop.status)\(forgotten ? ", record gone" : ", RECORD LEFT")",
                          holds: holds)
        #expect(holds, "\(monitor)\n\(probe)\n\(stop)")
    }

    /// The sync interface deleted under a running sync daemon.
    @Test func syncInterfaceGone() throws {
        let namespace = try namespace()
        let runner = AgentRunner(agent: "ipvs-sync", namespace: namespace, instance: "gone", stateDirectory: Self.state)
        let parameters = ["interface": "sync0", "syncid": "11"]
        #expect(try runner.run("start", parameters).exitCode == .success)
        let deleted = try Command("/sbin/ip", ["link", "del", "sync0"]).run(in: namespace, deadline: .now + .seconds(20))
        try #require(deleted.status == 0, "\(deleted.errorOutput)")
        let monitor = try runner.run("monitor", parameters)
        let stop = try runner.run("stop", parameters)
        let daemons = try IPVSSocket(in: namespace).daemons()
        let holds = monitor.exitCode != .notRunning && (monitor.exitCode == .success || monitor.exitReason != nil)
            && stop.exitCode == .success && daemons.isEmpty
        FaultTable.record("ipvs-sync", "its interface deleted under it",
                          expected: "monitor 0 or a failure naming it (never 7); stop 0, no daemon left",
                          observed: "\(FaultTable.outcome("monitor", monitor)); stop \(stop.status), \(daemons.count) daemon(s) left",
                          holds: holds)
        #expect(holds, "\(monitor)\n\(stop)")
    }

    // MARK: The state directory

    /// Full or read-only under a running service and sync daemon: monitors go on, a new start
    /// fails naming the error before it changes anything, stop removes what runs.
    @Test(arguments: ["full", "read-only"]) func stateDirectory(_ fault: String) throws {
        for agent in ["ipvs", "ipvs-sync"] {
            let namespace = try namespace()
            let directory = try FaultyDirectory("\(Self.state)-\(agent)-\(fault == "full" ? "full" : "ro")")
            let running = AgentRunner(agent: agent, namespace: namespace, instance: "running", stateDirectory: directory.path)
            let other = AgentRunner(agent: agent, namespace: namespace, instance: "other", stateDirectory: directory.path)
            let first = agent == "ipvs" ? ipvsParameters : ["interface": "sync0", "syncid": "12"]
            let second = agent == "ipvs" ? ["service": "tcp:192.0.2.11:80", "realservers": "10.0.0.1 masq"]
                : ["interface": "sync0", "syncid": "12", "state": "backup"]
            #expect(try running.run("start", first).exitCode == .success)
            if fault == "full" { try directory.fill() } else { try directory.makeReadOnly() }
            let monitor = try running.run("monitor", first)
            let before = try IPVSSocket(in: namespace).daemons().count + (try services(in: namespace).count)
            let start = try other.run("start", second)
            let after = try IPVSSocket(in: namespace).daemons().count + (try services(in: namespace).count)
            let stop = try running.run("stop", first)
            let left = try IPVSSocket(in: namespace).daemons().count + (try services(in: namespace).count)
            try? directory.repair()
            let clear = (start.exitReason ?? "").contains(fault == "full" ? "No space left" : "Read-only file system")
            let holds = monitor.exitCode == .success && start.exitCode != .success && clear && before == after
                && stop.exitCode == .success && left == 0
            FaultTable.record(agent, "state directory \(fault)",
                              expected: "monitor 0; a new start fails naming the error, nothing changed; stop 0, nothing left",
                              observed: "\(FaultTable.outcome("monitor", monitor)); \(FaultTable.outcome("start", start))\(before == after ? ", nothing changed" : ", CHANGED"); stop \(stop.status)\(left == 0 ? ", nothing left" : ", \(left) LEFT")",
                              holds: holds)
            #expect(holds, "\(agent): \(monitor)\n\(start)\n\(stop)")
        }
    }

    // MARK: The lock that never comes

    /// The health checker's override lock held by a process that never lets go (a frozen
    /// checker): ipvs monitor reports the service degraded without a repair, never a failure
    /// that would restart it and drop its connections; a start that must write under the lock
    /// fails naming the holder; stop needs no lock.
    @Test func theOverrideLockNeverComes() throws {
        let namespace = try namespace()
        let directory = Self.state + "-lock"
        let runner = AgentRunner(agent: "ipvs", namespace: namespace, instance: "locked", stateDirectory: directory)
        #expect(try runner.run("start", ipvsParameters).exitCode == .success)
        let store = HealthOverrides.Store(service: try ServiceSpec(parsing: "tcp:192.0.2.10:80"), namespace: nil, directory: directory)
        var lock: FileLock? = try FileLock(path: store.lockPath, deadline: .now + .seconds(5))
        let monitor = try runner.run("monitor", ipvsParameters)
        let start = try runner.run("start", ipvsParameters, timeout: .seconds(10))
        let stop = try runner.run("stop", ipvsParameters)
        lock = nil
        _ = lock
        let left = try services(in: namespace)
        let holds = monitor.exitCode == .degraded && (monitor.exitReason ?? "").contains("pid \(getpid())")
            && start.exitCode == .genericError && (start.exitReason ?? "").contains("stayed locked") && stop.exitCode == .success && left.isEmpty
        FaultTable.record("ipvs", "the health checker's lock never comes (held by a frozen process)",
                          expected: "monitor 190 naming the holder, no repair; start 1 naming it; stop 0",
                          observed: "\(FaultTable.outcome("monitor", monitor)); \(FaultTable.outcome("start", start)); stop \(stop.status)",
                          holds: holds)
        #expect(holds, "\(monitor)\n\(start)\n\(stop)")
    }

    // MARK: Descriptors

    @Test func lowDescriptorLimit() throws {
        for agent in ["ipvs", "ipvs-sync"] {
            let namespace = try namespace()
            let runner = AgentRunner(agent: agent, namespace: namespace, instance: "fds", stateDirectory: Self.state)
            let parameters = agent == "ipvs" ? ipvsParameters : ["interface": "sync0", "syncid": "13"]
            let start = try runner.run("start", parameters, descriptorLimit: 16)
            let monitor = try runner.run("monitor", parameters, descriptorLimit: 16)
            let stop = try runner.run("stop", parameters, descriptorLimit: 16)
            let holds = start.exitCode == .success && monitor.exitCode == .success && stop.exitCode == .success
            FaultTable.record(agent, "descriptor limit 16", expected: "start, monitor, stop 0",
                              observed: "start \(start.status), monitor \(monitor.status), stop \(stop.status)", holds: holds)
            #expect(holds, "\(agent): \(start)\n\(monitor)\n\(stop)")
        }
    }
}
