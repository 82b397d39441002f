import Addresses
import Glibc
import Labs
import Netlink
import OCF
import OCFTesting
import Testing

/// Seed 002 end to end: the LVS-DR director pair of `crm-examples/director-pair-dr.crm` under a
/// real two-node Pacemaker with fencing (the lab's power switch), a real IPVS kernel, real web
/// servers and a client sending a request every 20 ms through the VIP. One lab for the five
/// scenarios, run one after the other (a lab costs a minute under emulation).
///
/// Connection sync: the kernel sends a connection to the backup only once the director has seen
/// its third packet (sync_threshold 3); in LVS-DR the director sees the client's packets only. A
/// kept connection has made one request and read its answer (SYN, ACK, request, ACK: four),
/// and the scenarios wait until the standby's kernel lists every kept connection before they
/// disturb the active director: a connection younger than that cannot survive, with any stack.
@Suite(.serialized, .enabled(if: IPVSFacility.available && PacemakerLabFacility.available))
struct DirectorPairTests {
    let slow = PacemakerLab.slowness

    @Test func seed002DirectorPairUnderPacemaker() throws {
        let pair = try DirectorPair(name: "director-pair")
        defer { pair.down() }
        var active = try pair.waitServing(timeout: .seconds(180 * slow))
        print("director pair: serving from \(active)")
        let stream = RequestStream(pair: pair)
        defer { stream.stop() }

        try realServerFailure(pair, stream, active: active)
        active = try plannedSwitchOver(pair, stream, from: active)
        try standbyReboot(pair, stream, active: active)
        active = try crash(pair, stream, active: active)
        try partition(pair, stream, active: active)
    }

    /// Seed 000: the LVS-NAT web farm of `crm-examples/web-lvs-nat.crm` (public VIP, the real
    /// servers' gateway VIP, the service, mon's check as a health check): it serves, quiesces a
    /// dead web server, and fails over when the active director crashes.
    @Test func seed000NATWebFarmUnderPacemaker() throws {
        let pair = try DirectorPair(.nat, name: "nat-farm")
        defer { pair.down() }
        let active = try pair.waitServing(timeout: .seconds(180 * slow))
        print("NAT web farm: serving from \(active)")
        let stream = RequestStream(pair: pair)
        defer { stream.stop() }
        try realServerFailure(pair, stream, active: active)
        let crashed = ContinuousClock.now
        try pair.lab.crash(active)
        let outage = try #require(stream.waitForOutage(after: crashed, timeout: .seconds(120 * slow)),
                                  "no answer through the VIP after \(active) crashed:\n\(pair.lab.status())")
        let standby = pair.other(than: active)
        #expect(waitUntil(deadline: .now + .seconds(30 * slow)) { pair.activeDirector(asSeenBy: standby) == standby })
        // Replies come back through the gateway VIP, now on the other director: both servers answer.
        var seen: Set<String> = []
        #expect(waitUntil(deadline: .now + .seconds(30 * slow)) {
            if let server = pair.request() { seen.insert(server) }
            return seen.count == 2
        }, "answers after the failover from \(seen.sorted()) only\n\(pair.diagnostics())")
        print("NAT web farm: crash of \(active): \(outage), \(tandemPart(pair, outage, on: standby))")
    }

    /// 2. A real server dies: after detection no request fails; back, it gets traffic again.
    func realServerFailure(_ pair: DirectorPair, _ stream: RequestStream, active: String) throws {
        let killed = ContinuousClock.now
        pair.webServers["host2"]?.kill()
        let quiesced = try waitUntil(deadline: .now + .seconds(30 * slow)) { try pair.weight(on: active, of: "host2") == 0 }
        #expect(quiesced, "host2 was not quiesced on \(active)")
        let detected = ContinuousClock.now
        print("real server killed: quiesced after \(killed.duration(to: detected))")
        sleep(for: .seconds(3))   // traffic to look at, not a wait for a condition
        let after = stream.outcomes(from: detected + .milliseconds(100))
        #expect(!after.isEmpty && after.allSatisfy { $0.server == "host1" },
                "after detection: \(after.filter { $0.server != "host1" }.count) of \(after.count) requests not answered by host1")

        try pair.webServers["host2"]?.start()
        let restored = ContinuousClock.now
        #expect(try waitUntil(deadline: .now + .seconds(30 * slow)) { try pair.weight(on: active, of: "host2") == 1 })
        let back = stream.waitForAnswer(after: restored, timeout: .seconds(30 * slow), from: "host2")
        #expect(back != nil, "host2 got no traffic after it came back")
        if let back { print("real server restored: answers again after \(restored.duration(to: back.time))") }
    }

    /// 4. `crm resource move`: a planned switch-over; no established connection is lost.
    func plannedSwitchOver(_ pair: DirectorPair, _ stream: RequestStream, from active: String) throws -> String {
        let standby = pair.other(than: active)
        let kept = try keptConnections(pair, count: 5, syncedTo: standby)
        let moved = ContinuousClock.now
        let move = try pair.lab.exec(active, ["crm", "resource", "move", "director", standby])
        #expect(move.status == 0, "\(move.output)\(move.errorOutput)")
        defer { _ = try? pair.lab.exec(standby, ["crm", "resource", "clear", "director"]) }
        let switched = waitUntil(deadline: .now + .seconds(120 * slow)) { (try? pair.waitServing(timeout: .seconds(5))) == standby }
        #expect(switched, "the director group did not move to \(standby):\n\(pair.lab.status())")
        let outage = stream.waitForOutage(after: moved, timeout: .seconds(1)).map { "\($0)" } ?? "no request failed"
        let survivors = kept.filter { $0.request(timeout: .seconds(5 * slow)) != nil }.count
        print("planned switch-over \(active) → \(standby): \(outage); \(survivors) of \(kept.count) established connections kept")
        #expect(survivors == kept.count, "established connections lost in a planned switch-over")
        return standby
    }

    /// 5. The standby reboots: the active director is not disturbed, and sync resumes.
    func standbyReboot(_ pair: DirectorPair, _ stream: RequestStream, active: String) throws {
        let standby = pair.other(than: active)
        let started = ContinuousClock.now
        try pair.lab.stop(standby)
        try pair.lab.boot(standby)
        _ = try pair.waitServing(timeout: .seconds(120 * slow))
        let during = stream.outcomes(from: started)
        #expect(during.allSatisfy { $0.server != nil }, "\(during.filter { $0.server == nil }.count) requests failed while the standby rebooted")
        #expect(pair.activeDirector() == active)
        // Sync resumes: a new connection reaches the rebooted standby's kernel.
        let kept = try keptConnections(pair, count: 1, syncedTo: standby)
        print("standby \(standby) rebooted in \(started.duration(to: .now)); \(during.count) requests, all answered; sync resumed")
        withExtendedLifetime(kept) {}
    }

    /// 1. The active director loses power: the other one fences it and answers; the kept
    /// connections go on through ipvs-sync.
    func crash(_ pair: DirectorPair, _ stream: RequestStream, active: String) throws -> String {
        let standby = pair.other(than: active)
        let kept = try keptConnections(pair, count: 10, syncedTo: standby)
        let crashed = ContinuousClock.now
        try pair.lab.crash(active)
        let outage = try #require(stream.waitForOutage(after: crashed, timeout: .seconds(120 * slow)),
                                  "no answer through the VIP after \(active) crashed:\n\(pair.lab.status())")
        #expect(waitUntil(deadline: .now + .seconds(30 * slow)) { pair.activeDirector(asSeenBy: standby) == standby })
        let survivors = kept.filter { $0.request(timeout: .seconds(5 * slow)) != nil }.count
        print("crash of \(active): \(outage), \(tandemPart(pair, outage, on: standby)); \(survivors) of \(kept.count) connections survived")
        #expect(survivors == kept.count, "connections lost in the failover")
        // Fenced (powered off), then powered on again: the crashed director rejoins as standby.
        #expect(try fenced(pair, active, by: standby))
        try pair.lab.boot(active)
        _ = try pair.waitServing(timeout: .seconds(120 * slow))
        #expect(try pair.directorsHoldingVIP() == [standby])
        return standby
    }

    /// 3. The active director is cut off: the other one fences it (the cut-off node cannot
    /// reach the power switch) and serves; never do both hold the VIP on the network.
    func partition(_ pair: DirectorPair, _ stream: RequestStream, active: String) throws {
        let standby = pair.other(than: active)
        let isolated = ContinuousClock.now
        try pair.lab.isolate(active)
        let outage = try #require(stream.waitForOutage(after: isolated, timeout: .seconds(120 * slow)),
                                  "no answer through the VIP after \(active) was cut off:\n\(pair.lab.status())")
        #expect(waitUntil(deadline: .now + .seconds(30 * slow)) { pair.activeDirector(asSeenBy: standby) == standby })
        #expect(try fenced(pair, active, by: standby), "the cut-off director was not fenced")
        print("partition of \(active): \(outage), \(tandemPart(pair, outage, on: standby)); \(active) fenced by \(standby)")
        try pair.lab.boot(active)
        _ = try pair.waitServing(timeout: .seconds(120 * slow))
        #expect(try pair.directorsHoldingVIP() == [standby])
    }

    /// From the controller's start of the VIP on `node` to the first answer: the agents' part.
    func tandemPart(_ pair: DirectorPair, _ outage: RequestStream.Outage, on node: String) -> String {
        let vip = pair.vipResource
        guard let decided = pair.startInitiated(of: vip, on: node, after: outage.lastAnswer.secondsOfDay) else {
            return "no start of \(vip) in \(node)'s log"
        }
        let part = outage.recovered.secondsOfDay - decided
        return "answered \(seconds(.milliseconds(Int64(part * 1000)))) s after the start of \(vip)"
    }

    // MARK: Helpers

    func keptConnections(_ pair: DirectorPair, count: Int, syncedTo standby: String) throws -> [KeptConnection] {
        try pair.keptConnections(count: count, syncedTo: standby, timeout: .seconds(20 * slow))
    }

    func fenced(_ pair: DirectorPair, _ target: String, by node: String) throws -> Bool {
        pair.wasFenced(target, by: node, timeout: .seconds(60 * slow))
    }
}
