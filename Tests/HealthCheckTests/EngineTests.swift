import Addresses
import HealthCheck
import LVS
import Netlink
import Testing

/// The rise/fall state machine, driven by an injected clock (times are arguments).
struct EngineTests {
    let t0 = ContinuousClock.now
    let a = Target(address: IPAddress("192.0.2.11")!, port: 80)
    let b = Target(address: IPAddress("192.0.2.12")!, port: 80)

    func engine(rise: Int = 2, fall: Int = 3, slowStart: Duration = .zero) -> Engine {
        var engine = Engine(settings: Hysteresis(rise: rise, fall: fall, interval: .seconds(5), fastInterval: .seconds(1),
                                                 slowStart: slowStart))
        engine.track([a, b], now: t0)
        return engine
    }

    /// Runs one check of `target` at `time` (seconds after t0) lasting 10 ms.
    func check(_ engine: inout Engine, _ target: Target, at time: Double, _ outcome: CheckOutcome) -> Transition? {
        let start = t0 + .milliseconds(Int(time * 1000))
        _ = engine.startDue(now: max(start, engine.targets[target]!.nextDue))
        return engine.record(outcome, for: target, started: start, now: start + .milliseconds(10))
    }

    @Test func theFirstCheckDecides() {
        var engine = engine()
        #expect(engine.startDue(now: t0) == [a, b])
        #expect(!engine.roundComplete)
        #expect(engine.record(.pass, for: a, started: t0, now: t0)?.to == .up)
        #expect(engine.record(.fail("refused"), for: b, started: t0, now: t0)?.to == .down)
        #expect(engine.roundComplete)
    }

    /// Servers a stopped checker held out: out from the start (quiesced in the first
    /// overrides, before any check), back after one passing check whatever rise says, and the
    /// first round waits for their check too.
    @Test func heldServersStayOutUntilACheckPasses() {
        var engine = engine(rise: 3)
        engine.seedDown([a], reason: "held")
        let configured = [IPVSDestination(address: a.address, port: 80, forwarding: .masquerade, weight: 5),
                          IPVSDestination(address: b.address, port: 80, forwarding: .masquerade, weight: 5)]
        let before = engine.overrides(for: configured, target: { Target(address: $0.address, port: $0.port) }, onFailure: .quiesce,
                                      fallback: nil, now: t0)
        #expect(before.entries == [IPVSDestination.Key(address: a.address, port: 80): .weight(0)])
        #expect(engine.startDue(now: t0) == [a, b])
        #expect(engine.record(.pass, for: b, started: t0, now: t0)?.to == .up)
        #expect(!engine.roundComplete, "the held server has not been checked yet")
        #expect(engine.record(.pass, for: a, started: t0, now: t0)?.to == .up, "one pass brings it back")
        #expect(engine.roundComplete)
    }

    @Test func fallFailuresInARowTakeAServerDown() {
        var engine = engine(fall: 3)
        _ = check(&engine, a, at: 0, .pass)
        #expect(check(&engine, a, at: 5, .fail("timed out")) == nil)
        #expect(engine.targets[a]!.isChanging)
        #expect(engine.targets[a]!.nextDue == t0 + .seconds(6), "the fast interval applies between states")
        #expect(check(&engine, a, at: 6, .pass) == nil)
        #expect(!engine.targets[a]!.isChanging, "a success while up resets the count")
        _ = check(&engine, a, at: 11, .fail("x"))
        _ = check(&engine, a, at: 12, .fail("x"))
        let down = check(&engine, a, at: 13, .fail("HTTP status 503"))
        #expect(down?.to == .down)
        #expect(down?.reason.contains("HTTP status 503") == true)
        #expect(engine.targets[a]!.nextDue == t0 + .seconds(18), "settled again: the normal interval")
    }

    @Test func aFlappingServerNeverComesBackWhileRiseIsAboveOne() {
        var engine = engine(rise: 2, fall: 1)
        _ = check(&engine, a, at: 0, .fail("refused"))
        var time = 1.0
        for round in 0..<20 {
            let transition = check(&engine, a, at: time, round % 2 == 0 ? .pass : .fail("refused"))
            #expect(transition == nil)
            time += 1
        }
        #expect(engine.targets[a]!.health == .down)
        _ = check(&engine, a, at: time, .pass)
        #expect(check(&engine, a, at: time + 1, .pass)?.to == .up)
    }

    @Test func overridesQuiesceOrRemoveAndTheFallbackStandsIn() {
        var engine = engine(fall: 1)
        let service = try! ServiceSpec(parsing: "tcp:192.0.2.10:80")
        let destinations = try! RealServers.parse("192.0.2.11 masq 3, 192.0.2.12 masq 5", for: service)
        let fallback = try! RealServers.parse("127.0.0.1:8080 masq", for: service, allowLoopback: true).first!
        _ = check(&engine, a, at: 0, .pass)
        _ = check(&engine, b, at: 0, .fail("refused"))
        let quiesced = engine.overrides(for: destinations, target: { Target(address: $0.address, port: $0.port) },
                                        onFailure: .quiesce, fallback: fallback, now: t0 + .seconds(1))
        #expect(quiesced.entries == [destinations[1].key: .weight(0)])
        _ = check(&engine, a, at: 5, .fail("refused"))
        let removed = engine.overrides(for: destinations, target: { Target(address: $0.address, port: $0.port) },
                                       onFailure: .remove, fallback: fallback, now: t0 + .seconds(6))
        #expect(removed.entries[destinations[0].key] == .removed)
        #expect(removed.entries[fallback.key] == .fallback(fallback), "every server down: the fallback is added")
    }

    @Test func slowStartRampsTheConfiguredWeight() {
        var engine = engine(rise: 1, fall: 1, slowStart: .seconds(10))
        let service = try! ServiceSpec(parsing: "tcp:192.0.2.10:80")
        let destinations = try! RealServers.parse("192.0.2.11 masq 100", for: service)
        _ = check(&engine, a, at: 0, .fail("refused"))
        _ = check(&engine, a, at: 5, .pass)
        let target: (IPVSDestination) -> Target = { Target(address: $0.address, port: $0.port) }
        let up = t0 + .seconds(5) + .milliseconds(10)
        let weights = [1, 3, 5, 9, 11].map { seconds in
            engine.overrides(for: destinations, target: target, onFailure: .quiesce, fallback: nil, now: up + .seconds(seconds))
                .entries[destinations[0].key]
        }
        #expect(weights == [.weight(10), .weight(30), .weight(50), .weight(90), nil])
        #expect(engine.nextWakeup(after: up + .milliseconds(500))! <= up + .seconds(1))
    }

    @Test func maintenanceTakesAServerOutAndBack() {
        var engine = engine(rise: 1, fall: 1)
        _ = check(&engine, a, at: 0, .pass)
        #expect(engine.setMaintenance([a], now: t0 + .seconds(1)).map(\.1) == [true])
        #expect(engine.targets[a]!.serves == false)
        #expect(engine.setMaintenance([], now: t0 + .seconds(2)).map(\.1) == [false])
        #expect(engine.targets[a]!.serves)
    }
}

struct WeightSyncTests {
    let service = try! ServiceSpec(parsing: "tcp:192.0.2.10:80")

    @Test func onlyTheCheckersServersAreTouched() throws {
        let configured = try RealServers.parse("192.0.2.11 masq 3, 192.0.2.12 masq 5", for: service)
        let byHand = try RealServers.parse("192.0.2.99 masq 1", for: service)
        let fallback = try RealServers.parse("127.0.0.1:8080 masq", for: service, allowLoopback: true)[0]
        var overrides = HealthOverrides()
        overrides.entries[configured[0].key] = .weight(0)
        let operations = WeightSync.operations(service: service.identity, configured: configured, overrides: overrides,
                                               previous: HealthOverrides([fallback.key: .fallback(fallback)]),
                                               actual: configured + byHand + [fallback])
        var quiet = configured[0]
        quiet.weight = 0
        #expect(operations == [.updateDestination(service.identity, quiet), .deleteDestination(service.identity, fallback.key)])
    }

    @Test func nothingToDoWhenTheKernelMatches() throws {
        let configured = try RealServers.parse("192.0.2.11 masq 3", for: service)
        let overrides = HealthOverrides([configured[0].key: .removed])
        #expect(WeightSync.operations(service: service.identity, configured: configured, overrides: overrides,
                                      previous: overrides, actual: []).isEmpty)
    }
}

extension WeightSyncTests {
    @Test func changesWithoutReadingTheKernel() throws {
        let configured = try RealServers.parse("192.0.2.11 masq 3, 192.0.2.12 masq 5", for: service)
        let fallback = try RealServers.parse("127.0.0.1:8080 masq", for: service, allowLoopback: true)[0]
        let before = HealthOverrides([configured[0].key: .weight(0), configured[1].key: .removed])
        let after = HealthOverrides([fallback.key: .fallback(fallback)])
        let operations = WeightSync.changes(service: service.identity, configured: configured, from: before, to: after)
        #expect(operations == [.addDestination(service.identity, fallback), .updateDestination(service.identity, configured[0]),
                               .addDestination(service.identity, configured[1])])
        #expect(WeightSync.changes(service: service.identity, configured: configured, from: after, to: before)
            == [.deleteDestination(service.identity, fallback.key), .updateDestination(service.identity, {
                var quiet = configured[0]; quiet.weight = 0; return quiet }()), .deleteDestination(service.identity, configured[1].key)])
    }
}
