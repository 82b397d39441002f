// tandem-demo: seed 002's LVS-DR director pair, live. `make demo` runs it inside the IPVS guest
// (.ci/vm): two Pacemaker directors, two web servers, a client; a web server killed and taken
// out, the active director crashed and the failover measured, then everything torn down.
// Every step says what it waits for; a failure says what did not happen, and the lab's logs
// stay in lab-logs/demo.
import Glibc
import Labs
import OCFTesting

let slow = PacemakerLab.slowness
let started = ContinuousClock.now

// fflush(nil): the output goes through run-in-vm's pipe, where stdio would hold it back.
func step(_ text: String) { print("\n[\(seconds(started.duration(to: .now)))] \(text)"); fflush(nil) }
func say(_ text: String) { print("    " + text); fflush(nil) }
func show(_ text: String) {
    print(text.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n"))
    fflush(nil)
}
func fail(_ text: String) throws -> Never { throw LabError(text) }

/// Ten requests through the VIP, on new connections: which web server answered each.
func sample(_ pair: DirectorPair) -> String {
    (0..<10).map { _ in pair.request(timeout: .seconds(1)) ?? "(no answer)" }.joined(separator: " ")
}

var pair: DirectorPair?
do {
    guard geteuid() == 0 else { try fail("the demo needs root") }
    step("Starting a two-node Pacemaker cluster (node1, node2: the directors), two web servers (host1, host2: "
        + "LVS-DR real servers, the VIP on lo) and a client; waiting until both nodes are online")
    let setup = try DirectorPair(name: "demo")
    pair = setup
    step("Loaded crm-examples/cluster-properties.crm and director-pair-dr.crm (192.168.1.x as 198.18.0.x), "
        + "fencing through the lab's power switch; waiting until the director group runs and both web servers answer")
    var active = try setup.waitServing(timeout: .seconds(180 * slow))
    show(setup.crmMon(on: active))
    step("The client asks http://\(setup.vip)/ ten times: the active director \(active) spreads the requests")
    show(sample(setup))
    show(setup.ipvsTable(on: active))

    let stream = RequestStream(pair: setup)
    defer { stream.stop() }
    step("Killing the web server on host2; waiting until the health check quiesces it (weight 0)")
    let killed = ContinuousClock.now
    setup.webServers["host2"]?.kill()
    guard try waitUntil(deadline: .now + .seconds(30 * slow), { try setup.weight(on: active, of: "host2") == 0 }) else {
        try fail("host2 was not quiesced within \(30 * slow) s")
    }
    say("host2 quiesced \(seconds(killed.duration(to: .now))) s after it died; the client now gets:")
    show(sample(setup))
    step("Starting host2's web server again; waiting until it gets traffic")
    let restored = ContinuousClock.now
    try setup.webServers["host2"]?.start()
    guard let back = stream.waitForAnswer(after: restored, timeout: .seconds(30 * slow), from: "host2") else {
        try fail("host2 got no request within \(30 * slow) s of coming back")
    }
    say("host2 answers again \(seconds(restored.duration(to: back.time))) s after it came back")

    let standby = setup.other(than: active)
    step("Opening 10 long-lived connections through the VIP; waiting until the standby \(standby) holds them (ipvs-sync)")
    let kept = try setup.keptConnections(count: 10, syncedTo: standby, timeout: .seconds(20 * slow))
    say("\(standby)'s kernel lists all \(kept.count) connections")

    step("Pulling the plug on the active director \(active); waiting for the client's requests to fail and come back")
    let crashed = ContinuousClock.now
    try setup.lab.crash(active)
    guard let outage = stream.waitForOutage(after: crashed, timeout: .seconds(120 * slow)) else {
        try fail("the VIP did not answer again within \(120 * slow) s:\n\(setup.lab.status())")
    }
    say("the client saw \(outage)")
    let survivors = kept.filter { $0.request(timeout: .seconds(5 * slow)) != nil }.count
    say("\(survivors) of \(kept.count) long-lived connections still answer, through \(standby)")
    let crashedDirector = active
    active = standby
    guard setup.wasFenced(crashedDirector, by: active, timeout: .seconds(60 * slow)) else {
        try fail("\(crashedDirector) was not fenced")
    }
    say("\(active)'s fencer powered \(crashedDirector) off through the lab's power switch before taking over")
    step("Powering \(crashedDirector) on again; waiting until it rejoins and the whole group runs on \(active)")
    try setup.lab.boot(crashedDirector)
    _ = try setup.waitServing(timeout: .seconds(180 * slow))
    show(setup.crmMon(on: active))
    step("Done in \(seconds(started.duration(to: .now))) s; tearing down (logs in lab-logs/demo)")
    stream.stop()
    setup.down()
    guard survivors == kept.count else { try fail("\(kept.count - survivors) long-lived connections were lost") }
} catch {
    print("\ndemo FAILED: \(error)\nThe lab's logs are kept in lab-logs/demo; tearing down.")
    pair?.down()
    exit(1)
}
