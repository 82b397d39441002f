import Addresses
import Glibc
@testable import LVS
import Netlink
import OCF
import Testing

@Suite struct PlanTests {
    let spec = try! ServiceSpec(parsing: "tcp:192.0.2.10:80")
    var desired: DesiredService {
        DesiredService(service: IPVSService(identity: spec.identity, scheduler: "wlc"),
                       destinations: try! RealServers.parse("10.0.0.2:80 masq 2, 10.0.0.3:80 masq", for: spec))
    }

    @Test func absentServiceIsCreatedWithItsRealServers() {
        let plan = desired.plan(actual: nil, actualDestinations: [])
        #expect(plan.operations.count == 3)
        #expect(plan.operations.first == .addService(desired.service))
    }

    @Test func matchingKernelNeedsNothing() {
        let plan = desired.plan(actual: desired.service, actualDestinations: desired.destinations)
        #expect(plan.isEmpty && plan.differences.isEmpty)
    }

    @Test func driftIsFoundAndRepaired() {
        var service = desired.service
        service.scheduler = "rr"
        var destinations = desired.destinations
        destinations[0].weight = 7
        destinations.remove(at: 1)
        destinations.append(IPVSDestination(address: IPAddress("10.0.0.9")!, port: 80, forwarding: .masquerade))
        let plan = desired.plan(actual: service, actualDestinations: destinations)
        #expect(plan.differences.count == 4, "\(plan.differences)")
        #expect(plan.operations.contains(.updateService(desired.service)))
        #expect(plan.operations.contains(.deleteDestination(spec.identity, IPVSDestination.Key(address: IPAddress("10.0.0.9")!, port: 80))))
        #expect(plan.operations.contains(.addDestination(spec.identity, desired.destinations[1])))
        #expect(plan.operations.contains(.updateDestination(spec.identity, desired.destinations[0])))
    }

    @Test func countersAreNotDrift() {
        var busy = desired.destinations
        busy[0].activeConnections = 12
        busy[1].inactiveConnections = 3
        #expect(desired.plan(actual: desired.service, actualDestinations: busy).isEmpty)
    }

    @Test func healthCheckerOverridesAreNotDrift() {
        let fallback = IPVSDestination(address: IPAddress("10.0.0.99")!, port: 80, forwarding: .masquerade, weight: 1)
        let overrides = HealthOverrides([
            desired.destinations[0].key: .weight(0),
            desired.destinations[1].key: .removed,
            fallback.key: .fallback(fallback),
        ])
        var quiesced = desired.destinations[0]
        quiesced.weight = 0
        // What the health checker made of the table is exactly what the plan expects.
        #expect(desired.plan(actual: desired.service, actualDestinations: [quiesced, fallback], overrides: overrides).isEmpty)
        // Without the overrides, the same table is drift.
        #expect(desired.plan(actual: desired.service, actualDestinations: [quiesced, fallback]).differences.count == 3)
    }

    @Test func drainSetsEveryWeightToZero() {
        let operations = desired.drain(desired.destinations)
        #expect(operations.count == 2)
        for case .updateDestination(_, let destination) in operations { #expect(destination.weight == 0) }
    }
}

@Suite struct HealthOverridesTests {
    @Test func roundTripAndRefusal() throws {
        let spec = try ServiceSpec(parsing: "tcp:[2001:db8::10]:443")
        let directory = "/tmp/tandem-lvstests-\(getpid())"
        try StateDirectory(path: directory).create()
        let store = HealthOverrides.Store(service: spec, namespace: nil, directory: directory)
        let fallback = try RealServers.parse("[2001:db8::99] masq 2", for: spec)[0]
        let overrides = HealthOverrides([
            IPVSDestination.Key(address: IPAddress("2001:db8::2")!, port: 443): .weight(0),
            IPVSDestination.Key(address: IPAddress("2001:db8::3")!, port: 443): .removed,
            fallback.key: .fallback(fallback),
        ])
        try store.withLock(deadline: .now + .seconds(5)) { try store.save(overrides) }
        let (loaded, ignored) = try store.load()
        #expect(loaded == overrides && ignored.isEmpty)

        try store.file.write([("[2001:db8::2]:443", "weight 99999"), ("[2001:db8::3]:443", "quiet"), ("nonsense", "removed")])
        let (refused, skipped) = try store.load()
        #expect(refused.entries.isEmpty && skipped.count == 3)

        try store.save(HealthOverrides())
        #expect(try store.file.read() == nil, "no overrides, no file")
    }

    /// What a stopping checker holds: the servers it took out and the fallback standing in,
    /// not the ones in slow start; the hold's end survives the file.
    @Test func aStoppingCheckerHoldsWhatItTookOut() throws {
        let spec = try ServiceSpec(parsing: "tcp:192.0.2.10:80")
        let directory = "/tmp/tandem-lvstests-held-\(getpid())"
        try StateDirectory(path: directory).create()
        let store = HealthOverrides.Store(service: spec, namespace: nil, directory: directory)
        let fallback = try RealServers.parse("127.0.0.1 masq 1", for: spec, allowLoopback: true)[0]
        let (quiesced, removed, ramping) = (IPVSDestination.Key(address: IPAddress("10.0.0.1")!, port: 80),
                                            IPVSDestination.Key(address: IPAddress("10.0.0.2")!, port: 80),
                                            IPVSDestination.Key(address: IPAddress("10.0.0.3")!, port: 80))
        let running = HealthOverrides([quiesced: .weight(0), removed: .removed, ramping: .weight(3), fallback.key: .fallback(fallback)])
        let held = running.held(until: 1234)
        #expect(held == HealthOverrides([quiesced: .weight(0), removed: .removed, fallback.key: .fallback(fallback)], heldUntil: 1234))
        try store.save(held)
        #expect(try store.load().0 == held)
        #expect(held.holdExpired(now: 1235) && !held.holdExpired(now: 1234) && !running.holdExpired(now: .max))
        #expect(HealthOverrides([ramping: .weight(3)]).held(until: 1234) == HealthOverrides(), "nothing out, nothing held")
        // Out for maintenance is not held (the next checker reads the file again), and with a
        // configured server serving after the stop the fallback goes.
        let partly = running.held(until: 1234, failed: { $0 != removed }, configured: [quiesced, removed, ramping])
        #expect(partly == HealthOverrides([quiesced: .weight(0)], heldUntil: 1234))
    }

    /// One override file per service and namespace, and names that can never collide: every
    /// byte but letters, digits, dot and dash is escaped.
    @Test func onePairOfFilesPerServiceAndNamespace() throws {
        let spec = try ServiceSpec(parsing: "tcp:192.0.2.10:80")
        let own = HealthOverrides.Store(service: spec, namespace: nil, directory: "/run/x")
        let named = HealthOverrides.Store(service: spec, namespace: "/run/netns/lvs", directory: "/run/x")
        let other = HealthOverrides.Store(service: spec, namespace: "/run/netns/lvs_2", directory: "/run/x")
        #expect(own.file.path == "/run/x/ipvs-health-tcp%3A192.0.2.10%3A80")
        #expect(own.lockPath == "/run/x/ipvs-health-tcp%3A192.0.2.10%3A80.lock")
        #expect(named.file.path == "/run/x/ipvs-health-tcp%3A192.0.2.10%3A80@%2Frun%2Fnetns%2Flvs")
        #expect(Set([own.file.path, named.file.path, other.file.path]).count == 3)
        #expect(HealthOverrides.Store.escape("a_b") != HealthOverrides.Store.escape("a%5Fb"))
    }

    /// The lock excludes: while the health checker holds it, the agent waits (here: gives up
    /// at its deadline), so it can never plan between the checker's file and kernel writes.
    @Test func theLockExcludes() throws {
        let spec = try ServiceSpec(parsing: "udp:192.0.2.10:53")
        let directory = "/tmp/tandem-lvstests-lock-\(getpid())"
        try StateDirectory(path: directory).create()
        let store = HealthOverrides.Store(service: spec, namespace: nil, directory: directory)
        try store.withLock(deadline: .now + .seconds(5)) {
            #expect(throws: StateError.self) { try store.withLock(deadline: .now + .milliseconds(50)) {} }
        }
        try store.withLock(deadline: .now + .seconds(5)) {}
    }
}
