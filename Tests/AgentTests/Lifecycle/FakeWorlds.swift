import Addresses
import Glibc
import LVS
import Netlink
import OCF
import OCFNetlink
import OCFTesting
import Synchronization
@testable import ipvs
@testable import ipvs_sync
@testable import vip

// The three agents on fake kernels, in-process: each world holds one instance under test and
// knows how to put it in every state of the lifecycle matrix by hand.

/// A state directory of its own for each world.
func temporaryStateDirectory(_ name: String) -> String {
    let path = "/tmp/tandem-agenttests-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    mkdir(path, 0o755)
    return path
}

/// What fake worlds share: the kill simulation and concurrent runs.
protocol FakeWorld: LifecycleWorld {
    var steps: StepCounter { get }
    var directory: String { get }
    /// The fakes' state, without the state directory.
    func captureFakes() -> Snapshot
    func restoreFakes(_ snapshot: Snapshot)
    /// After a kill: what the dead agent's death ends (its unreleased announcers).
    func agentDied()
}

extension FakeWorld {
    func startKilled(at point: Int) throws -> Bool {
        let killed = simulateKill(at: point, steps: steps, capture: { (self.captureFakes(), StateDirectorySnapshot(self.directory)) },
                                  restore: { self.restoreFakes($0.0); $0.1.restore(to: self.directory) }) {
            _ = try? run(.start, parameters: parameters, probe: false)
        }
        if killed { agentDied() }
        return killed
    }

    func concurrently(_ first: (Action, [String: String], Bool), _ second: (Action, [String: String], Bool)) throws
        -> (ActionResult, ActionResult) {
        nonisolated(unsafe) let world = self
        let failed = ActionResult(status: 255, reason: "the world threw", log: "")
        return runConcurrently({ (try? world.run(first.0, parameters: first.1, probe: first.2)) ?? failed },
                               { (try? world.run(second.0, parameters: second.1, probe: second.2)) ?? failed })
    }

    func agentDied() {}
    func settle() throws {}
}

/// The kernel and the state directory: all an IPVS agent's instance can leave.
struct KernelSnapshot: Equatable {
    var kernel: FakeKernel.State
    var files: StateDirectorySnapshot
}

/// A fake world whose agent needs nothing but a kernel (ipvs, ipvs-sync).
protocol FakeKernelWorld: FakeWorld where Snapshot == KernelSnapshot {
    associatedtype Agent: ResourceAgent where Agent.Host == any Kernel
    var kernel: FakeKernel { get }
    /// The kernel as the world began.
    var initial: FakeKernel.State { get }
    var runner: InProcessRunner<Agent> { get }
}

extension FakeKernelWorld {
    func run(_ action: Action, parameters: [String: String], probe: Bool) throws -> ActionResult {
        runner.run(action, parameters: parameters, probe: probe, host: kernel)
    }

    func snapshot() throws -> KernelSnapshot { captureFakes() }
    func captureFakes() -> KernelSnapshot { KernelSnapshot(kernel: kernel.snapshot, files: StateDirectorySnapshot(directory)) }
    func restoreFakes(_ snapshot: KernelSnapshot) { kernel.restore(snapshot.kernel) }

    func reset() throws {
        kernel.restore(initial)
        StateDirectorySnapshot.empty.restore(to: directory)
    }

    func removeFacility() throws { kernel.byHand { $0.namespaces[nil]?.ipvs = nil } }
}

// MARK: ipvs

final class FakeIPVSWorld: FakeKernelWorld {
    let agent = "ipvs"
    let steps = StepCounter()
    let kernel: FakeKernel
    let directory = temporaryStateDirectory("ipvs")
    let initial: FakeKernel.State
    let runner: InProcessRunner<IPVSServiceAgent>
    let parameters = ["service": "tcp:192.0.2.10:80", "scheduler": "wlc", "realservers": "10.0.0.1 masq, 10.0.0.2 masq 2"]
    let reloadedParameters = ["service": "tcp:192.0.2.10:80", "scheduler": "rr", "realservers": "10.0.0.1 masq 5, 10.0.0.2 masq 2, 10.0.0.3 masq"]
    let identity = IPVSService.Identity.address(.tcp, IPAddress("192.0.2.10")!, port: 80)

    init() {
        kernel = FakeKernel(ipvs: true, steps: steps)
        kernel.addNamespace("/run/netns/lvs")
        initial = kernel.snapshot
        runner = InProcessRunner(IPVSServiceAgent.self, stateDirectory: directory)
    }

    /// rs2 deleted by hand.
    func drift() throws {
        kernel.byHand { state in
            state.namespaces[nil]?.ipvs?.destinations[identity]?.removeAll { $0.address == IPAddress("10.0.0.2") }
        }
    }

    /// The service made by hand, with another real server.
    func holdByAnother() throws {
        kernel.ipvsByHand([.addService(IPVSService(identity: identity, scheduler: "rr")),
                           .addDestination(identity, IPVSDestination(address: IPAddress("10.0.0.9")!, port: 80, forwarding: .directRouting))])
    }

    func isDrifted() throws -> Bool {
        let destinations = kernel.ipvsState()?.destinations[identity] ?? []
        return !destinations.contains { $0.address == IPAddress("10.0.0.2") }
    }

    func reloadApplied() throws -> Bool {
        guard let table = kernel.ipvsState(), let service = table.services.first(where: { $0.identity == identity }) else { return false }
        let weights = Dictionary(uniqueKeysWithValues: (table.destinations[identity] ?? []).map { ($0.address.description, $0.weight) })
        return service.scheduler == "rr" && weights == ["10.0.0.1": 5, "10.0.0.2": 2, "10.0.0.3": 1]
    }
}

// MARK: ipvs-sync

final class FakeSyncWorld: FakeKernelWorld {
    let agent = "ipvs-sync"
    let steps = StepCounter()
    let kernel: FakeKernel
    let directory = temporaryStateDirectory("ipvs-sync")
    let initial: FakeKernel.State
    let runner: InProcessRunner<SyncDaemonAgent>
    let parameters = ["interface": "sync0", "syncid": "7"]
    var reloadedParameters: [String: String] { parameters }

    init() {
        kernel = FakeKernel(ipvs: true, steps: steps)
        kernel.addLink("sync0")
        kernel.addLink("eth0")
        kernel.addNamespace("/run/netns/lvs")
        kernel.addLink("sync0", in: "/run/netns/lvs")
        initial = kernel.snapshot
        runner = InProcessRunner(SyncDaemonAgent.self, stateDirectory: directory)
    }

    /// The daemons stopped by hand.
    func drift() throws { kernel.byHand { $0.namespaces[nil]?.ipvs?.daemons = [] } }

    /// Another resource's backup daemon (sync ID 99).
    func holdByAnother() throws {
        kernel.ipvsByHand([.startDaemon(IPVSSyncDaemon(state: .backup, interface: "sync0", syncID: 99))])
    }

    func isDrifted() throws -> Bool { kernel.ipvsState()?.daemons.contains { $0.syncID == 7 } != true }
    func reloadApplied() throws -> Bool { true }

}

// MARK: vip

/// Announcements as a fake: rounds are counted, background announcers are entries that wait
/// for their release, send, and end when terminated (or at once, unreleased, when the agent dies).
final class FakeAnnouncements: Announcements, @unchecked Sendable {
    enum Phase: Equatable { case waiting, sending, done }
    struct Announcer: Equatable {
        let identity: ProcessIdentity
        let address: IPAddress
        var phase: Phase
    }

    let steps: StepCounter
    private let state = Mutex((rounds: 0, announcers: [Announcer](), nextPID: pid_t(4_000_000)))

    init(steps: StepCounter) { self.steps = steps }

    var rounds: Int { state.withLock { $0.rounds } }
    /// Announcers that may still send.
    var live: [Announcer] { state.withLock { $0.announcers.filter { $0.phase != .done } } }
    var all: [Announcer] { state.withLock { $0.announcers } }
    func restore(_ announcers: [Announcer]) { state.withLock { $0.announcers = announcers } }
    func reset() { state.withLock { $0 = (0, [], 4_000_000) } }

    func announce(_ address: IPAddress, on link: Link, mode: ARPMode) throws {
        try steps.change { state.withLock { $0.rounds += 1 } }
    }

    func start(_ address: IPAddress, on link: Link, mode: ARPMode, rounds: Int, interval: Duration, log: Log) throws -> PendingAnnouncer? {
        let identity = try steps.change { () throws(NetlinkError) -> ProcessIdentity? in
            state.withLock { state in
                state.rounds += 1
                guard rounds > 1 else { return nil }
                state.nextPID += 1
                let identity = ProcessIdentity(pid: state.nextPID, startTime: 1)
                state.announcers.append(Announcer(identity: identity, address: address, phase: .waiting))
                return identity
            }
        }
        guard let identity else { return nil }
        return PendingAnnouncer(identity: identity, release: { [self] in
            _ = try? steps.change { set(identity, .sending, from: .waiting) }
        }, cancel: { [self] in set(identity, .done, from: .waiting) })
    }

    func terminate(_ announcer: ProcessIdentity, by deadline: ContinuousClock.Instant) -> Bool {
        guard !steps.killed else { return false }
        set(announcer, .done, from: nil)
        return true
    }

    /// The agent died: announcers it never released exit (their gate reads end of file).
    func agentDied() {
        state.withLock { state in
            for index in state.announcers.indices where state.announcers[index].phase == .waiting { state.announcers[index].phase = .done }
        }
    }

    private func set(_ identity: ProcessIdentity, _ phase: Phase, from: Phase?) {
        state.withLock { state in
            for index in state.announcers.indices where state.announcers[index].identity == identity
                && (from == nil || state.announcers[index].phase == from) {
                state.announcers[index].phase = phase
            }
        }
    }
}

final class FakeVIPWorld: FakeWorld {
    struct Snapshot: Equatable, CustomStringConvertible {
        var kernel: FakeKernel.State
        var sysctls: [Sysctl: Int]
        var files: StateDirectorySnapshot
        /// Announcers that could still send.
        var liveAnnouncers: [FakeAnnouncements.Announcer]
        var description: String {
            "addresses \(kernel.namespaces[nil]?.addresses.map(\.description) ?? []), sysctls \(sysctls.filter { $0.value != 0 }), "
                + "\(files), live announcers \(liveAnnouncers.count)"
        }
    }

    let agent = "vip"
    let steps = StepCounter()
    let kernel: FakeKernel
    let sysctls: FakeSysctls
    let announcements: FakeAnnouncements
    let directory = temporaryStateDirectory("vip")
    let initial: FakeKernel.State
    let initialSysctls: [Sysctl: Int]
    let runner: InProcessRunner<VirtualIP>
    let realServer: Bool
    let parameters: [String: String]
    let reloadedParameters: [String: String]
    var host: VIPHost { VIPHost(kernel: kernel, sysctls: sysctls, announcements: announcements) }

    /// - Parameter realServer: the LVS-DR real-server form (address on lo, ARP sysctls).
    init(realServer: Bool = false) {
        self.realServer = realServer
        kernel = FakeKernel(ipvs: false, steps: steps)
        kernel.addLink("eth0")
        kernel.addLink("eth1")
        kernel.addAddress("198.18.0.1/24", on: "eth0")
        kernel.addAddress("198.19.0.1/24", on: "eth1")
        initial = kernel.snapshot
        var values: [String: Int] = [:]
        for scope in ["all", "default", "lo", "eth0", "eth1"] {
            values["net/ipv4/conf/\(scope)/arp_ignore"] = 0
            values["net/ipv4/conf/\(scope)/arp_announce"] = 0
        }
        sysctls = FakeSysctls(values, steps: steps)
        initialSysctls = sysctls.snapshot
        announcements = FakeAnnouncements(steps: steps)
        runner = InProcessRunner(VirtualIP.self, stateDirectory: directory)
        if realServer {
            parameters = ["ip": "198.18.0.60", "nic": "eth0", "lvs_dr_realserver": "true"]
            reloadedParameters = parameters.merging(["check_link": "false"]) { $1 }
        } else {
            parameters = ["ip": "198.18.0.50", "nic": "eth0", "arp_count": "3", "arp_interval_ms": "50"]
            reloadedParameters = parameters.merging(["arp_refresh_on_monitor": "true", "check_link": "false"]) { $1 }
        }
    }

    var ip: IPAddress { IPAddress(parameters["ip"]!)! }

    func run(_ action: Action, parameters: [String: String], probe: Bool) throws -> ActionResult {
        runner.run(action, parameters: parameters, probe: probe, host: host)
    }

    func snapshot() throws -> Snapshot { captureFakes() }

    func captureFakes() -> Snapshot {
        Snapshot(kernel: kernel.snapshot, sysctls: sysctls.snapshot, files: StateDirectorySnapshot(directory),
                 liveAnnouncers: announcements.live)
    }

    func restoreFakes(_ snapshot: Snapshot) {
        kernel.restore(snapshot.kernel)
        sysctls.restore(snapshot.sysctls)
        announcements.restore(announcements.all.map { announcer in
            var restored = announcer
            restored.phase = snapshot.liveAnnouncers.first { $0.identity == announcer.identity }?.phase ?? .done
            return restored
        })
    }

    func agentDied() { announcements.agentDied() }

    func reset() throws {
        kernel.restore(initial)
        sysctls.restore(initialSysctls)
        announcements.reset()
        StateDirectorySnapshot.empty.restore(to: directory)
    }

    /// The address removed by hand (network mode); the ARP sysctls put back by hand (real server).
    func drift() throws {
        if realServer {
            for scope in ["all", "eth0"] { sysctls.setByHand("net/ipv4/conf/\(scope)/arp_ignore", 0) }
        } else {
            kernel.byHand { $0.namespaces[nil]?.addresses.removeAll { $0.address == ip } }
        }
    }

    /// Network mode: the address on another interface. Real server: another real-server
    /// address, started by another instance (it shares the ARP sysctls).
    func holdByAnother() throws {
        if realServer {
            let other = InProcessRunner(VirtualIP.self, instance: "other", stateDirectory: directory)
            let start = other.run(.start, parameters: ["ip": "198.18.0.61", "nic": "eth0", "lvs_dr_realserver": "true"], host: host)
            guard start.exitCode == .success else { throw LabError("the other real-server instance did not start: \(start)") }
        } else {
            kernel.addAddress("198.18.0.50/24", on: "eth1")
        }
    }

    /// The configured interface is not on this node.
    func removeFacility() throws { kernel.removeLink("eth0") }

    func isDrifted() throws -> Bool {
        if realServer { return (try? sysctls.read(Sysctl("net/ipv4/conf/eth0/arp_ignore"))) == 0 }
        return !kernel.addresses().contains { $0.address == ip }
    }

    /// The reloaded parameters rule the next monitor: with the link down it still succeeds
    /// (check_link=false) and, in network mode, it announces (arp_refresh_on_monitor=true).
    func reloadApplied() throws -> Bool {
        kernel.setLink("eth0", up: false)
        defer { kernel.setLink("eth0", up: true) }
        let rounds = announcements.rounds
        let monitor = try run(.monitor, parameters: reloadedParameters, probe: false)
        return monitor.exitCode == .success && (realServer || announcements.rounds == rounds + 1)
    }

}

extension StateDirectorySnapshot {
    static var empty: StateDirectorySnapshot { StateDirectorySnapshot("/nonexistent-tandem-empty") }
}
