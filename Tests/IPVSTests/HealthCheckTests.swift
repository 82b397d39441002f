import Addresses
import Glibc
import HealthCheck
import LVS
import Labs
import Netlink
import OCF
import OCFTesting
import Testing

/// ocf:tandem:healthcheck for real: its daemon checks nginx servers in the real-server
/// namespaces of an LVSLab and changes the IPVS table of the director, next to ocf:tandem:ipvs.
@Suite(.serialized, .enabled(if: IPVSFacility.available))
struct HealthCheckTests {
    static let vip = IPAddress("203.0.113.10")!
    let service = "tcp:203.0.113.10:80"
    let identity = try! ServiceSpec(parsing: "tcp:203.0.113.10:80").identity
    let rs1 = IPVSDestination.Key(address: LVSLab.realServerAddresses[0], port: 80)
    let rs2 = IPVSDestination.Key(address: LVSLab.realServerAddresses[1], port: 80)

    /// A director with the VIP, two nginx real servers, and runners for ipvs and healthcheck
    /// sharing one state directory.
    final class World {
        let lab: LVSLab
        let directory: String
        let servers: [WebServer]
        let ipvs: AgentRunner
        var checker: AgentRunner
        let authority: CertificateAuthority?

        init(name: String, tls: Bool = false, expiredOnSecond: Bool = false) throws {
            lab = try LVSLab()
            try lab.addVIP(HealthCheckTests.vip)
            directory = "/tmp/tandem-hc-\(name)-\(getpid())"
            mkdir(directory, 0o755)
            let authority = tls ? try CertificateAuthority(directory: directory + "/ca") : nil
            self.authority = authority
            let directory = self.directory
            servers = try lab.realServers.enumerated().map { index, namespace in
                let certificate = try authority?.issue(for: LVSLab.realServerAddresses[index], name: "rs\(index + 1)",
                                                       expired: expiredOnSecond && index == 1)
                return try WebServer(in: namespace, directory: "\(directory)/rs\(index + 1)", port: 80,
                                     tlsPort: tls ? 443 : nil, certificate: certificate)
            }
            ipvs = AgentRunner(agent: "ipvs", namespace: lab.director, instance: "web", stateDirectory: directory + "/state")
            checker = AgentRunner(agent: "healthcheck", namespace: lab.director, instance: "web-check",
                                  stateDirectory: directory + "/state")
            checker.environment["TANDEM_LIBEXEC_DIR"] = AgentRunner.agentDirectory
            checker.environment["HA_LOGFILE"] = directory + "/healthcheck.log"
        }

        func weights(_ identity: IPVSService.Identity) throws -> [IPVSDestination.Key: Int32] {
            let table = try IPVSSocket(in: lab.director)
            return Dictionary(uniqueKeysWithValues: try table.destinations(of: identity).map { ($0.key, $0.weight) })
        }

        /// Waits until `condition` holds on the weights, up to `limit`; returns how long it took.
        func waitForWeights(_ identity: IPVSService.Identity, within limit: Duration,
                            _ condition: ([IPVSDestination.Key: Int32]) -> Bool) throws -> Duration? {
            let start = ContinuousClock.now
            while ContinuousClock.now - start < limit {
                if condition(try weights(identity)) { return ContinuousClock.now - start }
                sleep(for: .milliseconds(10))
            }
            return nil
        }

        var log: String { readFile(directory + "/healthcheck.log") ?? "" }

        /// The checker daemons of this world's instance.
        func daemons() -> [ProcessIdentity] {
            Background.processes(running: AgentRunner.agentDirectory + "/healthcheckd",
                                 withArgument: DaemonFiles(directory: directory + "/state", instance: "web-check").configuration.path)
        }

        /// Starts the checker with `parameters` (its first round applied), reads the weights of
        /// `identity`, stops it: the verdicts of one configuration.
        func verdicts(_ identity: IPVSService.Identity, _ parameters: [String: String]) throws -> [IPVSDestination.Key: Int32] {
            let start = try checker.run("start", parameters)
            #expect(start.exitCode == .success, "\(start)")
            let weights = try self.weights(identity)
            #expect(try checker.run("stop", parameters).exitCode == .success)
            return weights
        }
    }

    /// Every weight each real server had in the kernel while it watched (read every 5 ms on a
    /// thread of its own).
    final class WeightWatcher {
        private let sampler: Sampler<[IPVSDestination]>

        init(world: World, identity: IPVSService.Identity) throws {
            let table = try IPVSSocket(in: world.lab.director)
            sampler = Sampler(interval: .milliseconds(5)) { _ in (try? table.destinations(of: identity)) ?? [] }
        }

        /// Stops watching; the weights seen, each once, in the order first seen.
        func finish() -> [IPVSDestination.Key: [Int32]] {
            sampler.stop()
            var seen: [IPVSDestination.Key: [Int32]] = [:]
            for sample in sampler.samples() {
                for destination in sample.value where seen[destination.key]?.contains(destination.weight) != true {
                    seen[destination.key, default: []].append(destination.weight)
                }
            }
            return seen
        }
    }

    let ipvsParameters = ["service": "tcp:203.0.113.10:80", "scheduler": "rr",
                          "realservers": "192.168.100.2:80 masq 2, 192.168.100.3:80 masq 3"]
    let checkParameters = ["services": "tcp:203.0.113.10:80", "check": "http", "http_path": "/ldirector.html",
                           "http_body": "Test Page", "interval": "500ms", "fast_interval": "200ms", "timeout": "300ms",
                           "rise": "2", "fall": "2"]

    @Test func aKilledServerIsQuiescedAndComesBackAfterRise() throws {
        let world = try World(name: "kill")
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        #expect(try world.checker.run("monitor", checkParameters, interval: 0).exitCode == .notRunning)
        let start = try world.checker.run("start", checkParameters)
        try #require(start.exitCode == .success, "\(start)\n\(world.log)")
        #expect(try world.weights(identity) == [rs1: 2, rs2: 3])
        #expect(try world.checker.run("monitor", checkParameters).exitCode == .success)

        // interval × fall + timeout = 1.3 s; the deadline leaves room for emulation.
        world.servers[0].kill()
        let detected = try world.waitForWeights(identity, within: .seconds(15)) { $0[rs1] == 0 && $0[rs2] == 3 }
        #expect(detected != nil, "\(world.log)")
        print("healthcheck: a killed real server was quiesced after \(detected.map { "\($0)" } ?? "-")")
        #expect(world.log.contains("192.168.100.2:80 has failed"), "\(world.log)")
        #expect(try world.ipvs.run("monitor", ipvsParameters).exitCode == .success, "a quiesced server is not drift")

        try world.servers[0].start()
        let back = try world.waitForWeights(identity, within: .seconds(15)) { $0[rs1] == 2 }
        #expect(back != nil, "\(world.log)")
        print("healthcheck: a restarted real server was back after \(back.map { "\($0)" } ?? "-")")

        world.servers[0].kill()
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[rs1] == 0 } != nil)
        let stop = try world.checker.run("stop", checkParameters)
        #expect(stop.exitCode == .success, "\(stop)")
        #expect(try world.weights(identity) == [rs1: 0, rs2: 3], "stop keeps the dead server out (held for the next start)")
        #expect(try world.checker.run("stop", checkParameters).exitCode == .success, "stop again")
        #expect(try world.checker.run("monitor", checkParameters).exitCode == .notRunning)
        #expect(Background.processes(running: AgentRunner.agentDirectory + "/healthcheckd",
                                     withArgument: DaemonFiles(directory: world.directory + "/state", instance: "web-check").configuration.path).isEmpty)
        #expect(try world.ipvs.run("stop", ipvsParameters).exitCode == .success)
    }

    /// `tandem status` beside the real agents on a director: the VIP, the service with each real
    /// server's configured and current weight and verdict (a killed one quiesced, with its
    /// reason), the sync daemon's role after promotion; as text and as JSON.
    @Test func statusViewShowsWhatRuns() throws {
        let world = try World(name: "status")
        let state = world.directory + "/state"
        let vip = AgentRunner(agent: "vip", namespace: world.lab.director, instance: "web-vip", stateDirectory: state)
        let vipParameters = ["ip": "192.168.100.50", "cidr_netmask": "24", "nic": "lan", "arp_count": "1"]
        let sync = AgentRunner(agent: "ipvs-sync", namespace: world.lab.director, instance: "sync", stateDirectory: state)
        let syncParameters = ["interface": "sync0", "syncid": "7"]
        #expect(try vip.run("start", vipParameters).exitCode == .success)
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        try #require(try world.checker.run("start", checkParameters).exitCode == .success, "\(world.log)")
        #expect(try sync.run("start", syncParameters).exitCode == .success)
        #expect(try sync.run("promote", syncParameters).exitCode == .success)
        world.servers[0].kill()
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[rs1] == 0 } != nil, "\(world.log)")

        let status = { (arguments: [String]) throws -> Command.Result in
            try Command(AgentRunner.path(of: "tandem"), ["status", "--state-dir", state] + arguments, environment: [:])
                .run(in: world.lab.director, deadline: .now + .seconds(20))
        }
        // The checker writes its status at most every 500 ms after a change: wait for the verdict there.
        var text = ""
        let shown = try waitUntil(deadline: .now + .seconds(10)) {
            text = try status([]).output
            return text.contains("192.168.100.2:80  nat  2       0    ")
        }
        #expect(shown, "\(text)")
        print("tandem status:\n\(text)")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("  web-vip   192.168.100.50/24  lan        held   GARP on lan"), "\(text)")
        #expect(lines.contains("IPVS service tcp:203.0.113.10:80 (web, rr)"), "\(text)")
        #expect(lines.contains { $0.hasPrefix("  checked by web-check: http, daemon running, status written ") }, "\(text)")
        let rs1Line = lines.first { $0.hasPrefix("  192.168.100.2:80") } ?? ""
        #expect(rs1Line.contains("  down  ") && rs1Line.lowercased().contains("refused"), "the verdict and its reason: \(text)")
        let rs2Line = lines.first { $0.hasPrefix("  192.168.100.3:80") } ?? ""
        #expect(rs2Line.hasPrefix("  192.168.100.3:80  nat  3       3    ") && rs2Line.contains("  up  ") && rs2Line.contains(" ms"), "\(text)")
        #expect(lines.contains("  sync      sync0      7       master  -"), "\(text)")

        let json = try status(["--json"])
        #expect(json.status == 0, "\(json)")
        for fragment in [#""address": "192.168.100.50/24""#, #""held": true"#, #""service": "tcp:203.0.113.10:80""#,
                         #""configured_weight": 2"#, #""current_weight": 0"#, #""health": "down""#, #""health": "up""#,
                         #""role": "master""#, #""problems": []"#] {
            #expect(json.output.contains(fragment), "\(fragment): \(json.output)")
        }
        // Nothing changed by looking: the same table, the same files.
        #expect(try world.weights(identity) == [rs1: 0, rs2: 3])
        for (runner, parameters) in [(sync, syncParameters), (world.checker, checkParameters), (world.ipvs, ipvsParameters), (vip, vipParameters)] {
            #expect(try runner.run("stop", parameters).exitCode == .success)
        }
        #expect(try status([]).output.hasPrefix("No Tandem resource runs on this node"))
    }

    @Test func theFallbackStandsInWhileEveryServerIsDown() throws {
        let world = try World(name: "fallback")
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        var parameters = checkParameters
        parameters["on_failure"] = "remove"
        parameters["fallback"] = "192.168.100.254:80 masq"
        parameters["rise"] = "1"
        let fallback = IPVSDestination.Key(address: LVSLab.routerAddress, port: 80)
        try #require(try world.checker.run("start", parameters).exitCode == .success)
        for server in world.servers { server.kill() }
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0 == [fallback: 1] } != nil, "\(world.log)")
        #expect(try world.ipvs.run("monitor", ipvsParameters).exitCode == .success, "the fallback is not drift")
        try world.servers[1].start()
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0 == [rs2: 3] } != nil, "\(world.log)")
        #expect(try world.checker.run("stop", parameters).exitCode == .success)
        #expect(try world.weights(identity) == [rs2: 3], "the dead server stays out (held), the fallback goes")
        _ = try world.ipvs.run("stop", ipvsParameters)
    }

    @Test func httpsVerifiesCertificatesAndStatusAndBody() throws {
        let world = try World(name: "tls", tls: true, expiredOnSecond: true)
        let parameters = ["service": "tcp:203.0.113.10:443", "scheduler": "rr",
                          "realservers": "192.168.100.2:443 masq, 192.168.100.3:443 masq"]
        let tlsIdentity = try ServiceSpec(parsing: "tcp:203.0.113.10:443").identity
        let tls1 = IPVSDestination.Key(address: LVSLab.realServerAddresses[0], port: 443)
        let tls2 = IPVSDestination.Key(address: LVSLab.realServerAddresses[1], port: 443)
        #expect(try world.ipvs.run("start", parameters).exitCode == .success)
        let base = ["services": "tcp:203.0.113.10:443", "check": "https", "interval": "500ms", "timeout": "2s", "rise": "1", "fall": "1"]
        func verdicts(_ extra: [String: String]) throws -> [IPVSDestination.Key: Int32] {
            try world.verdicts(tlsIdentity, base.merging(extra) { $1 })
        }
        let ca = world.authority!.certificate
        #expect(try verdicts(["tls_ca_file": ca]) == [tls1: 1, tls2: 0], "the expired certificate fails")
        #expect(try verdicts([:]) == [tls1: 0, tls2: 0], "an unknown CA fails")
        #expect(world.log.contains("TLS"), "\(world.log)")
        #expect(try verdicts(["tls_verify": "false"]) == [tls1: 1, tls2: 1], "no verification: both pass")
        #expect(try verdicts(["tls_ca_file": ca, "http_path": "/unavailable"]) == [tls1: 0, tls2: 0], "status 503")
        #expect(try verdicts(["tls_verify": "false", "http_body": "Not This"]) == [tls1: 0, tls2: 0], "wrong body")
        #expect(try verdicts(["tls_verify": "false", "http_body_regex": "^Test P[a-z]+"]) == [tls1: 1, tls2: 1])
        #expect(try verdicts(["tls_verify": "false", "http_status": "300-399"]) == [tls1: 0, tls2: 0], "200 is not expected")
        _ = try world.ipvs.run("stop", parameters)
    }

    @Test func aStoppedServerTimesOutWhileTheOtherKeepsBeingChecked() throws {
        let world = try World(name: "sigstop")
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        var parameters = checkParameters
        parameters["timeout"] = "1s"
        try #require(try world.checker.run("start", parameters).exitCode == .success)
        world.servers[0].pause()
        defer { world.servers[0].resume() }
        let paused = ContinuousClock.now
        #expect(try world.waitForWeights(identity, within: .seconds(20)) { $0[rs1] == 0 } != nil, "\(world.log)")
        let window = ContinuousClock.now - paused
        // While rs1 hangs, rs2's checks keep their pace: no gap longer than interval + a margin.
        let times = world.servers[1].requests().map(\.time).suffix(Int(window / .milliseconds(500)))
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        print("healthcheck: rs2 check gaps while rs1 hung: max \(gaps.max() ?? 0) s over \(gaps.count)")
        #expect(gaps.count >= 2)
        #expect((gaps.max() ?? 0) < 0.5 + 0.4, "\(gaps)")
        #expect(world.log.contains("timed out"), "\(world.log)")
        let stop = try world.checker.run("stop", parameters)
        #expect(stop.exitCode == .success)
        FaultTable.record("healthcheck", "a real server accepts and never answers (nginx SIGSTOPped)",
                          expected: "quiesced after its timeouts; the other checked at its pace; stop 0",
                          observed: "quiesced after \(Int(window / .milliseconds(1))) ms; the other's longest gap \(gaps.max() ?? 0) s; stop \(stop.status)",
                          holds: (gaps.max() ?? 0) < 0.9 && stop.exitCode == .success)
        _ = try world.ipvs.run("stop", ipvsParameters)
    }

    @Test func servicesSharingRealServersShareOneCheck() throws {
        let world = try World(name: "shared")
        var services: [String] = []
        for port in 8001...8006 {
            let service = "tcp:203.0.113.10:\(port)"
            services.append(service)
            let runner = AgentRunner(agent: "ipvs", namespace: world.lab.director, instance: "svc\(port)",
                                     stateDirectory: world.directory + "/state")
            #expect(try runner.run("start", ["service": service, "realservers": "192.168.100.2:80 masq, 192.168.100.3:80 masq"]).exitCode == .success)
        }
        let parameters = ["services": services.joined(separator: " "), "check": "http", "interval": "500ms", "timeout": "300ms"]
        try #require(try world.checker.run("start", parameters).exitCode == .success)
        let before = world.servers.map { $0.requests().count }
        let window = ContinuousClock.now
        sleep(for: .seconds(5))
        let elapsed = ContinuousClock.now - window
        let checks = zip(world.servers, before).map { $0.requests().count - $1 }
        let expected = elapsed / .milliseconds(500)
        print("healthcheck: six services on two servers, \(checks) checks per server in \(elapsed) (one per interval: \(expected))")
        for count in checks { #expect(Double(count) <= expected + 2, "each server checked once per interval, not per service") }
        #expect(try world.checker.run("stop", parameters).exitCode == .success)
    }

    /// A checker SIGKILLed: monitor fails; Pacemaker's stop keeps the dead server out and the
    /// restarted checker takes it over (no traffic to it at any moment), then lets it back once
    /// its check passes.
    @Test func aKilledCheckerFailsItsMonitorAndTheRestartKeepsDeadServersOut() throws {
        let world = try World(name: "killed")
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        try #require(try world.checker.run("start", checkParameters).exitCode == .success)
        world.servers[0].kill()
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[rs1] == 0 } != nil)
        let daemons = world.daemons()
        #expect(daemons.count == 1)
        for daemon in daemons { kill(daemon.pid, SIGKILL) }
        var failed = false
        let deadline = ContinuousClock.now + .seconds(10)
        while !failed && ContinuousClock.now < deadline {
            failed = try world.checker.run("monitor", checkParameters).exitCode == .genericError
            sleep(for: .milliseconds(50))
        }
        #expect(failed, "monitor fails once the daemon is gone")
        let watcher = try WeightWatcher(world: world, identity: identity)
        #expect(try world.checker.run("stop", checkParameters).exitCode == .success)
        #expect(try world.weights(identity) == [rs1: 0, rs2: 3], "the dead server stays out through the stop")
        #expect(try world.checker.run("start", checkParameters).exitCode == .success)
        #expect(try world.weights(identity) == [rs1: 0, rs2: 3], "and through the start")
        let seen = watcher.finish()[rs1] ?? []
        #expect(seen == [0], "never any weight but 0 for the dead server during the restart")
        FaultTable.record("healthcheck", "its daemon killed (SIGKILL)",
                          expected: "monitor 1; stop 0 and start 0 with the dead server out throughout",
                          observed: "monitor failed: \(failed); the dead server's weights through stop and start: \(seen)",
                          holds: failed && seen == [0])
        try world.servers[0].start()
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[rs1] == 2 } != nil, "back after its first passing check")
        #expect(try world.checker.run("stop", checkParameters).exitCode == .success)
        #expect(try world.weights(identity) == [rs1: 2, rs2: 3])
        _ = try world.ipvs.run("stop", ipvsParameters)
    }

    /// The daemon frozen (SIGSTOP) with a long interval: monitor fails within the fixed
    /// heartbeat bound (not after two intervals), stop ends it (SIGCONT and SIGTERM, or SIGKILL)
    /// and succeeds, and the dead server stays out.
    @Test func aFrozenCheckerFailsItsMonitorSoonAndStops() throws {
        let world = try World(name: "frozen")
        var parameters = checkParameters
        parameters["interval"] = "60s"
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        world.servers[0].kill()
        try #require(try world.checker.run("start", parameters).exitCode == .success)
        #expect(try world.weights(identity) == [rs1: 0, rs2: 3])
        let daemons = world.daemons()
        #expect(daemons.count == 1)
        for daemon in daemons { kill(daemon.pid, SIGSTOP) }
        let frozen = ContinuousClock.now
        var monitor = try world.checker.run("monitor", parameters)
        #expect(waitUntil(deadline: .now + .seconds(30)) {
            monitor = (try? world.checker.run("monitor", parameters)) ?? monitor
            return monitor.exitCode == .genericError
        }, "\(monitor)")
        let detected = frozen.duration(to: .now)
        print("healthcheck: a frozen daemon (interval 60 s) failed its monitor after \(detected): \(monitor.exitReason ?? "")")
        #expect(detected < .seconds(20) && monitor.exitReason?.contains("no heartbeat") == true, "\(monitor)")
        let stop = try world.checker.run("stop", parameters)
        #expect(stop.exitCode == .success, "\(stop)")
        let ended = daemons.allSatisfy { $0.isDone }
        #expect(ended)
        let weights = try world.weights(identity)
        #expect(weights == [rs1: 0, rs2: 3])
        FaultTable.record("healthcheck", "its daemon frozen (SIGSTOP), interval 60 s",
                          expected: "monitor 1 within the heartbeat bound (10 s); stop 0, daemon ended, the dead server still out",
                          observed: "\(FaultTable.outcome("monitor", monitor)) after \(Int(detected / .milliseconds(1))) ms; stop \(stop.status), daemon \(ended ? "ended" : "LEFT"), dead server weight \(weights[rs1].map(String.init) ?? "-")",
                          holds: detected < .seconds(20) && stop.exitCode == .success && ended && weights[rs1] == 0)
        _ = try world.ipvs.run("stop", ipvsParameters)
    }

    /// Verdicts that cannot reach the kernel (the override lock held by someone else): monitor
    /// fails once they have waited past the bound, with the reason; they go through once the
    /// lock is free.
    @Test func verdictsThatCannotBeAppliedFailTheMonitor() throws {
        let world = try World(name: "pending")
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        try #require(try world.checker.run("start", checkParameters).exitCode == .success)
        let store = HealthOverrides.Store(service: try ServiceSpec(parsing: service), namespace: nil, directory: world.directory + "/state")
        var lock: FileLock? = try FileLock(path: store.lockPath, deadline: .now + .seconds(10))
        world.servers[0].kill()
        var monitor = try world.checker.run("monitor", checkParameters)
        #expect(waitUntil(deadline: .now + .seconds(30)) {
            monitor = (try? world.checker.run("monitor", checkParameters)) ?? monitor
            return monitor.exitCode == .genericError
        }, "\(monitor)")
        #expect(monitor.exitReason?.contains("not applied") == true && monitor.exitReason?.contains("lock") == true, "\(monitor)")
        #expect(try world.weights(identity)[rs1] == 2, "the lock kept the verdict out of the kernel")
        FaultTable.record("healthcheck", "verdicts cannot reach the kernel (the override lock held elsewhere)",
                          expected: "monitor 1 naming it once they wait past 10 s; applied once the lock is free",
                          observed: FaultTable.outcome("monitor", monitor), holds: monitor.exitCode == .genericError)
        lock = nil
        _ = lock
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[rs1] == 0 } != nil)
        #expect(waitUntil(deadline: .now + .seconds(10)) { (try? world.checker.run("monitor", checkParameters).exitCode) == .success })
        #expect(try world.checker.run("stop", checkParameters).exitCode == .success)
        _ = try world.ipvs.run("stop", ipvsParameters)
    }

    @Test func ipvsReloadAndDriftRepairKeepTheVerdicts() throws {
        let world = try World(name: "reload")
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        try #require(try world.checker.run("start", checkParameters).exitCode == .success)
        world.servers[0].kill()
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[rs1] == 0 } != nil)
        // A reload that changes both weights: the failed server stays quiesced, the healthy one
        // gets its new weight.
        var reloaded = ipvsParameters
        reloaded["realservers"] = "192.168.100.2:80 masq 7, 192.168.100.3:80 masq 9"
        #expect(try world.ipvs.run("reload-agent", reloaded).exitCode == .success)
        #expect(try world.weights(identity) == [rs1: 0, rs2: 9])
        // A weight changed by hand on the quiesced server: the ipvs monitor repairs it to the verdict.
        var forced = try IPVSSocket(in: world.lab.director).destinations(of: identity).first { $0.key == rs1 }!.settings
        forced.weight = 5
        _ = try IPVSSocket(in: world.lab.director).apply([.updateDestination(identity, forced)])
        #expect(try world.ipvs.run("monitor", reloaded).exitCode == .success)
        #expect(try world.weights(identity) == [rs1: 0, rs2: 9])
        // Back: the server gets the weight the reload configured.
        try world.servers[0].start()
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[rs1] == 7 } != nil, "\(world.log)")
        // Depth 10: the kernel matches the verdicts.
        var deep = world.checker
        deep.environment["OCF_CHECK_LEVEL"] = "10"
        #expect(try deep.run("monitor", checkParameters).exitCode == .success)
        #expect(try world.checker.run("stop", checkParameters).exitCode == .success)
        #expect(try world.weights(identity) == [rs1: 7, rs2: 9])
        _ = try world.ipvs.run("stop", reloaded)
    }

    @Test func aMaintenanceFileTakesAServerOut() throws {
        let world = try World(name: "maintenance")
        let maintenance = world.directory + "/maintenance"
        mkdir(maintenance, 0o755)
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        var parameters = checkParameters
        parameters["maintenance_dir"] = maintenance
        parameters["degraded_on"] = "some-down"
        try #require(try world.checker.run("start", parameters).exitCode == .success)
        #expect(try world.checker.run("monitor", parameters).exitCode == .success)
        try writeFile(maintenance + "/192.168.100.3", "")
        #expect(try world.waitForWeights(identity, within: .seconds(10)) { $0[rs2] == 0 } != nil, "\(world.log)")
        // The status follows the kernel within the same pass of the daemon's loop.
        #expect(try waitUntil(deadline: .now + .seconds(5)) { try world.checker.run("monitor", parameters).exitCode == .degraded },
                "\(world.log)")
        unlink(maintenance + "/192.168.100.3")
        #expect(try world.waitForWeights(identity, within: .seconds(10)) { $0[rs2] == 3 } != nil, "\(world.log)")
        #expect(try world.checker.run("stop", parameters).exitCode == .success)
        _ = try world.ipvs.run("stop", ipvsParameters)
    }
}

extension HealthCheckTests {
    /// Real servers rs1, rs2 and one that does not exist (nothing answers for it).
    var threeServers: [String: String] {
        ["service": "tcp:203.0.113.10:80", "scheduler": "rr",
         "realservers": "192.168.100.2:80 masq 2, 192.168.100.3:80 masq 3, 192.168.100.9:80 masq 4"]
    }
    var absent: IPVSDestination.Key { IPVSDestination.Key(address: IPAddress("192.168.100.9")!, port: 80) }

    @Test func pingTCPExpectAndExternalChecks() throws {
        let world = try World(name: "kinds")
        #expect(try world.ipvs.run("start", threeServers).exitCode == .success)
        let base = ["services": service, "interval": "500ms", "timeout": "1s", "rise": "1", "fall": "1"]
        let testtool = AgentRunner.agentDirectory + "/tandem-testtool"
        let cases: [(String, [String: String], [IPVSDestination.Key: Int32])] = [
            ("ping", ["check": "ping"], [rs1: 2, rs2: 3, absent: 0]),
            ("tcp", ["check": "tcp"], [rs1: 2, rs2: 3, absent: 0]),
            ("tcp-expect", ["check": "tcp-expect", "tcp_send": "GET /ldirector.html HTTP/1.0\\r\\n\\r\\n", "tcp_expect": "Test Page"],
             [rs1: 2, rs2: 3, absent: 0]),
            ("tcp-expect, wrong answer", ["check": "tcp-expect", "tcp_send": "GET / HTTP/1.0\\r\\n\\r\\n", "tcp_expect": "Other Page"],
             [rs1: 0, rs2: 0, absent: 0]),
            ("external", ["check": "external", "external_command": testtool, "external_arguments": "external-check .3"],
             [rs1: 0, rs2: 3, absent: 0]),
            ("external, too slow", ["check": "external", "external_command": "/bin/sleep", "external_arguments": "10", "timeout": "300ms"],
             [rs1: 0, rs2: 0, absent: 0]),
            ("none", ["check": "none"], [rs1: 2, rs2: 3, absent: 4]),
        ]
        for (name, extra, expected) in cases {
            let parameters = base.merging(extra) { $1 }
            let start = try world.checker.run("start", parameters)
            #expect(start.exitCode == .success, "\(name): \(start)")
            let weights = try world.weights(identity)
            #expect(weights == expected, "\(name): \(weights)\n\(world.log)")
            #expect(try world.checker.run("stop", parameters).exitCode == .success, "\(name)")
            #expect(try world.weights(identity) == expected, "\(name): stop keeps the failed servers out")
        }
        #expect(world.log.contains("killed after"), "\(world.log)")
        _ = try world.ipvs.run("stop", threeServers)
    }

    @Test func slowStartRampsAReturningServer() throws {
        let world = try World(name: "slowstart")
        var parameters = ipvsParameters
        parameters["realservers"] = "192.168.100.2:80 masq 100, 192.168.100.3:80 masq 3"
        #expect(try world.ipvs.run("start", parameters).exitCode == .success)
        let check = checkParameters.merging(["rise": "1", "fall": "1", "slow_start": "4"]) { $1 }
        try #require(try world.checker.run("start", check).exitCode == .success)
        #expect(try world.weights(identity)[rs1] == 100, "up from the first check: no ramp at start")
        world.servers[0].kill()
        #expect(try world.waitForWeights(identity, within: .seconds(10)) { $0[rs1] == 0 } != nil)
        try world.servers[0].start()
        var seen: [Int32] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, seen.last != 100 {
            let weight = try world.weights(identity)[rs1] ?? -1
            if weight != seen.last { seen.append(weight) }
            sleep(for: .milliseconds(50))
        }
        print("healthcheck: slow start over 4 s went through weights \(seen)")
        #expect(seen.last == 100)
        #expect(seen.filter { $0 > 0 && $0 < 100 }.count >= 3, "\(seen)")
        #expect(zip(seen.dropFirst(), seen.dropFirst(2)).allSatisfy { $0 < $1 }, "the weight only grows: \(seen)")
        #expect(try world.checker.run("stop", check).exitCode == .success)
        _ = try world.ipvs.run("stop", parameters)
    }

    @Test func ocfTesterPasses() throws {
        let world = try World(name: "ocf-tester")
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        setenv("TANDEM_LIBEXEC_DIR", AgentRunner.agentDirectory, 1)
        setenv("HA_RSCTMP", world.directory + "/state", 1)
        defer { unsetenv("HA_RSCTMP") }
        let options = ["services=tcp:203.0.113.10:80", "check=http", "interval=500ms"]
        let arguments = ["-n", "healthcheck-ocf-tester"] + options.flatMap { ["-o", $0] } + [AgentRunner.path(of: "healthcheck")]
        let result = try Command("/usr/sbin/ocf-tester", arguments).run(in: world.lab.director, deadline: .now + .seconds(600))
        #expect(result.output.contains("healthcheck passed all tests"), "\(result.output)\(result.errorOutput)")
        print("ocf-tester (healthcheck): \(result.output.split(separator: "\n").last ?? "")")
        _ = try world.ipvs.run("stop", ipvsParameters)
    }

    /// At least 30 malformed values through validate-all and start: refused with the right code
    /// and an exit reason; no daemon started, no weight or state file changed.
    @Test func malformedInputChangesNothing() throws {
        let world = try World(name: "malformed")
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        struct Snapshot: Equatable {
            let weights: [String]
            let daemons: Int
            let stateFiles: [String: String]
        }
        let daemon = AgentRunner.agentDirectory + "/healthcheckd"
        let harness = MalformedInputHarness(
            base: ["services": service, "check": "http"],
            run: { action, parameters in try world.checker.run(action, parameters) },
            snapshot: {
                Snapshot(weights: try world.weights(identity).map { "\($0.key)=\($0.value)" }.sorted(),
                         daemons: Background.processes(running: daemon, withArgument: world.directory + "/state/healthcheck-web-check.conf").count,
                         stateFiles: StateDirectorySnapshot(world.directory + "/state").files)
            })
        // Text sent to a server or matched in its answer, and program arguments (never given
        // to a shell), may hold anything; names and a method may be long.
        let anyText: Set = ["shell metacharacters", "100 characters"]
        var cases = MalformedInputHarness<Snapshot>.typeViolations(
            for: HealthCheckParameters.declarations,
            accepting: ["tcp_send": anyText, "tcp_expect": anyText, "http_body": anyText, "http_body_regex": anyText,
                        "external_arguments": anyText, "attribute": ["100 characters"], "http_method": ["100 characters"],
                        "http_host": ["100 characters"], "tls_server_name": ["100 characters"],
                        "mysql_query": anyText, "dns_expect": ["100 characters"], "dns_name": ["100 characters"]])
        cases += [
            MalformedValue(["services": "http:203.0.113.10:80"], [.notConfigured], "unknown protocol"),
            MalformedValue(["services": "tcp:203.0.113.10:80 tcp:203.0.113.10:80"], [.notConfigured], "a service twice"),
            MalformedValue(["services": ""], [.notConfigured], "no service"),
            MalformedValue(["services": "tcp:203.0.113.10:80;reboot"], [.notConfigured], "shell metacharacters"),
            MalformedValue(["check": "smtp"], [.notConfigured], "unknown check"),
            MalformedValue(["check_port": "0"], [.notConfigured], "port 0"),
            MalformedValue(["check_port": "65536"], [.notConfigured], "port over 65535"),
            MalformedValue(["services": "fwmark:7"], [.notConfigured], "fwmark service without check_port"),
            MalformedValue(["interval": "50ms"], [.notConfigured], "interval under 100 ms"),
            MalformedValue(["interval": "5x"], [.notConfigured], "unknown unit"),
            MalformedValue(["interval": "2h"], [.notConfigured], "hours"),
            MalformedValue(["interval": "-1s"], [.notConfigured], "negative interval"),
            MalformedValue(["timeout": "5ms"], [.notConfigured], "timeout under 10 ms"),
            MalformedValue(["fast_interval": "0"], [.notConfigured], "fast interval 0"),
            MalformedValue(["rise": "0"], [.notConfigured], "rise 0"),
            MalformedValue(["fall": "101"], [.notConfigured], "fall over 100"),
            MalformedValue(["on_failure": "delete"], [.notConfigured], "unknown failure action"),
            MalformedValue(["fallback": "192.0.2.1, 192.0.2.2"], [.notConfigured], "two fallbacks"),
            MalformedValue(["fallback": "192.0.2.1 route"], [.notConfigured], "fallback with an unknown method"),
            MalformedValue(["slow_start": "3601"], [.notConfigured], "slow start over an hour"),
            MalformedValue(["attribute": "-n"], [.notConfigured], "attribute name like an option"),
            MalformedValue(["attribute": "a b"], [.notConfigured], "space in attribute name"),
            MalformedValue(["maintenance_dir": "relative/dir"], [.notConfigured], "relative maintenance directory"),
            MalformedValue(["maintenance_dir": "/nonexistent-maintenance"], [.notInstalled], "maintenance directory missing here"),
            MalformedValue(["degraded_on": "always"], [.notConfigured], "unknown degraded policy"),
            MalformedValue(["check": "tcp-expect"], [.notConfigured], "tcp-expect without tcp_expect"),
            MalformedValue(["check": "tcp-expect", "tcp_expect": "\\x4"], [.notConfigured], "short hex escape"),
            MalformedValue(["check": "tcp-expect", "tcp_expect": "ok", "tcp_send": "\\q"], [.notConfigured], "unknown escape"),
            MalformedValue(["http_method": "GET /"], [.notConfigured], "space in method"),
            MalformedValue(["http_path": "health"], [.notConfigured], "path without /"),
            MalformedValue(["http_path": "/a b"], [.notConfigured], "space in path"),
            MalformedValue(["http_host": "a/b"], [.notConfigured], "slash in host"),
            MalformedValue(["http_headers": "NoColon"], [.notConfigured], "header without a colon"),
            MalformedValue(["http_headers": "Bad Name: x"], [.notConfigured], "space in header name"),
            MalformedValue(["http_status": "99"], [.notConfigured], "status under 100"),
            MalformedValue(["http_status": "300-200"], [.notConfigured], "status range backwards"),
            MalformedValue(["http_status": "200,"], [.notConfigured], "empty status"),
            MalformedValue(["http_body_regex": "(unclosed"], [.notConfigured], "bad regular expression"),
            MalformedValue(["http_body": "Test\u{7}Page"], [.notConfigured], "control character in the body text"),
            MalformedValue(["check": "external", "external_command": "/bin/true", "external_arguments": "-v\u{1}"], [.notConfigured],
                           "control character in program arguments"),
            MalformedValue(["tls_ca_file": "/etc/ssl/certs/ca-certificates.crt"], [.notConfigured], "CA file on plain http"),
            MalformedValue(["check": "https", "tls_ca_file": "ca.pem"], [.notConfigured], "relative CA file"),
            MalformedValue(["check": "https", "tls_ca_file": "/nonexistent.pem"], [.notInstalled], "CA file missing here"),
            MalformedValue(["check": "external"], [.notConfigured], "external without a program"),
            MalformedValue(["check": "external", "external_command": "true"], [.notConfigured], "program without a path"),
            MalformedValue(["check": "external", "external_command": "/nonexistent/check"], [.notInstalled], "program missing here"),
            MalformedValue(["check": "ping", "check_port": "80"], [.notConfigured], "a port for ping"),
            MalformedValue(["check": "mysql"], [.notConfigured], "mysql without a defaults file"),
            MalformedValue(["check": "mysql", "mysql_defaults_file": "monitor.cnf"], [.notConfigured], "relative defaults file"),
            MalformedValue(["check": "mysql", "mysql_defaults_file": "/nonexistent.cnf"], [.notInstalled], "defaults file missing here"),
            MalformedValue(["mysql_database": "lab;drop"], [.notConfigured], "database name with a semicolon"),
            MalformedValue(["mysql_query": "SELECT\u{1}1"], [.notConfigured], "control character in the query"),
            MalformedValue(["mysql_max_lag": "-1"], [.notConfigured], "negative lag"),
            MalformedValue(["mysql_lag_source": "binlog"], [.notConfigured], "unknown lag source"),
            MalformedValue(["mysql_heartbeat_table": "heartbeat"], [.notConfigured], "heartbeat table without a database"),
            MalformedValue(["mysql_lag_source": "heartbeat", "mysql_max_lag": "5"], [.notConfigured], "heartbeat without a table"),
            MalformedValue(["check": "dns"], [.notConfigured], "dns without a name"),
            MalformedValue(["dns_name": "bad name.example"], [.notConfigured], "space in a domain name"),
            MalformedValue(["dns_name": String(repeating: "a", count: 64) + ".example"], [.notConfigured], "label over 63 bytes"),
            MalformedValue(["dns_type": "ANY"], [.notConfigured], "unsupported record type"),
            MalformedValue(["dns_expect": "not-an-address"], [.notConfigured], "an A answer that is no address"),
            MalformedValue(["netns": "../x"], [.notConfigured], "namespace name with a path"),
            MalformedValue(["netns": "no-such-namespace"], [.invalidArguments], "namespace missing here"),
        ]
        #expect(cases.count >= 50)
        // A service no ipvs resource runs here: start refuses, naming it; nothing starts.
        let orphan = try world.checker.run("start", ["services": "tcp:203.0.113.99:80"])
        #expect(orphan.exitCode == .genericError && orphan.exitReason?.contains("not run by an ocf:tandem:ipvs resource") == true, "\(orphan)")
        #expect(MalformedInputHarness<Snapshot>.uncovered(by: cases, declarations: HealthCheckParameters.declarations).isEmpty)
        for failure in try harness.failures(cases) { Issue.record("\(failure)") }
        _ = try world.ipvs.run("stop", ipvsParameters)
    }
}

extension HealthCheckTests {
    /// The mysql check against real MariaDB servers on rs1 and rs2, replicating from each other
    /// (master-master, GTID): login and query, a wrong password, a frozen server, replication
    /// stopped and lagging; the password never in a process's command line or a log.
    @Test func mysqlLoginQueryAndReplication() throws {
        let world = try World(name: "mysql")
        let password = "pw-\(UInt32.random(in: 100_000...999_999))-secret"
        let databases = try world.lab.realServers.enumerated().map { index, namespace in
            try MariaDBServer(in: namespace, directory: "\(world.directory)/db\(index + 1)", serverID: index + 1)
        }
        for database in databases {
            try database.sql("""
                SET sql_log_bin=0;
                CREATE USER 'monitor'@'%' IDENTIFIED BY '\(password)';
                GRANT SLAVE MONITOR, BINLOG MONITOR, PROCESS ON *.* TO 'monitor'@'%';
                CREATE USER 'repl'@'%' IDENTIFIED BY '\(password)';
                GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
                RESET MASTER;
                """)
        }
        try databases[0].replicate(from: LVSLab.realServerAddresses[1], password: password)
        try databases[1].replicate(from: LVSLab.realServerAddresses[0], password: password)
        try databases[1].sql("CREATE DATABASE lab; CREATE TABLE lab.t (id INT PRIMARY KEY)")
        let good = world.directory + "/monitor.cnf", wrong = world.directory + "/wrong.cnf"
        try writeFile(good, "[client]\nuser=monitor\npassword=\(password)\n")
        try writeFile(wrong, "[client]\nuser=monitor\npassword=not-the-password\n")
        chmod(good, 0o600)
        chmod(wrong, 0o600)

        let service = ["service": "tcp:203.0.113.10:3306", "scheduler": "rr",
                       "realservers": "192.168.100.2:3306 masq 2, 192.168.100.3:3306 masq 3"]
        let identity = try ServiceSpec(parsing: "tcp:203.0.113.10:3306").identity
        let db1 = IPVSDestination.Key(address: LVSLab.realServerAddresses[0], port: 3306)
        let db2 = IPVSDestination.Key(address: LVSLab.realServerAddresses[1], port: 3306)
        #expect(try world.ipvs.run("start", service).exitCode == .success)
        let base = ["services": "tcp:203.0.113.10:3306", "check": "mysql", "mysql_defaults_file": good,
                    "interval": "500ms", "timeout": "1s", "rise": "1", "fall": "1"]
        func verdicts(_ extra: [String: String]) throws -> [IPVSDestination.Key: Int32] {
            try world.verdicts(identity, base.merging(extra) { $1 })
        }
        #expect(try verdicts([:]) == [db1: 2, db2: 3], "\(world.log)")
        #expect(try verdicts(["mysql_defaults_file": wrong]) == [db1: 0, db2: 0])
        #expect(world.log.contains("1045"), "access denied is the reason: \(world.log)")
        #expect(try verdicts(["mysql_query": "SELECT 1 FROM DUAL WHERE 1 = 0"]) == [db1: 0, db2: 0], "a query without rows")

        // Roles: the writer is the server with read_only OFF; readers are the writer and the
        // replicas within the lag.
        try databases[1].sql("SET GLOBAL read_only = ON")
        #expect(try verdicts(["mysql_role": "writer"]) == [db1: 2, db2: 0], "\(world.log)")
        #expect(world.log.contains("read_only is ON: not the writer"), "\(world.log)")
        try databases[0].sql("SET GLOBAL read_only = ON")
        try databases[1].sql("SET GLOBAL read_only = OFF")
        #expect(try verdicts(["mysql_role": "writer"]) == [db1: 0, db2: 3], "the writer moved: \(world.log)")
        let replicating = waitUntil(deadline: .now + .seconds(30)) {
            databases.allSatisfy { $0.replicaStatus?.ioRunning == .running && $0.replicaStatus?.sqlRunning == .running }
        }
        #expect(replicating)
        #expect(try verdicts(["mysql_role": "reader"]) == [db1: 2, db2: 3], "a replica and the writer: \(world.log)")
        try databases[0].sql("STOP SLAVE IO_THREAD")
        #expect(try verdicts(["mysql_role": "reader"]) == [db1: 0, db2: 3], "a stopped replica is no reader: \(world.log)")
        #expect(world.log.contains("IO thread stopped"), "\(world.log)")
        try databases[0].sql("START SLAVE IO_THREAD; SET GLOBAL read_only = OFF")

        // Replication-aware: both replicas run.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline,
              try !databases.allSatisfy({ try $0.sql("SHOW SLAVE STATUS\\G").contains("Slave_SQL_Running: Yes") }) {
            sleep(for: .milliseconds(100))
        }
        var aware = base
        aware["mysql_max_lag"] = "1"
        try #require(try world.checker.run("start", aware).exitCode == .success)
        #expect(try world.weights(identity) == [db1: 2, db2: 3], "\(world.log)")
        // The password is in no command line while the checker runs, nor in any log.
        for entry in listDirectory("/proc") where Int(entry) != nil {
            let commandLine = readFile("/proc/\(entry)/cmdline") ?? ""
            #expect(!commandLine.contains(password), "process \(entry) shows the password")
        }

        try databases[0].sql("STOP SLAVE")
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[db1] == 0 } != nil, "\(world.log)")
        #expect(world.log.contains("thread stopped"), "\(world.log)")
        try databases[0].sql("START SLAVE")
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[db1] == 2 } != nil, "\(world.log)")

        // Lag: db1 receives a row it cannot apply while a lock is held there.
        let holder = try Command("/usr/bin/mariadb", ["--no-defaults", "-uroot", "-S", world.directory + "/db1/mysqld.sock", "-e",
                                                      "LOCK TABLES lab.t WRITE; SELECT SLEEP(6)"]).start(in: world.lab.realServers[0])
        sleep(for: .milliseconds(500))
        try databases[1].sql("INSERT INTO lab.t VALUES (1)")
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[db1] == 0 } != nil, "\(world.log)")
        #expect(world.log.contains("replication lag"), "\(world.log)")
        _ = holder.wait(deadline: .now + .seconds(30))
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[db1] == 2 } != nil, "\(world.log)")

        // Frozen: connections hang; the check's timeout fails it while db2 stays in.
        databases[1].kill(signal: SIGSTOP)
        #expect(try world.waitForWeights(identity, within: .seconds(15)) { $0[db2] == 0 && $0[db1] == 2 } != nil, "\(world.log)")
        databases[1].kill(signal: SIGCONT)
        #expect(try world.checker.run("stop", aware).exitCode == .success)
        #expect(!world.log.contains(password))
        for database in databases { database.kill(signal: SIGTERM) }
        _ = try world.ipvs.run("stop", service)
    }
}

extension HealthCheckTests {
    /// A real DNS server (dnsmasq) on each real server; rs2 gives another address for the name.
    func dnsServer(_ world: World, index: Int, address: String) throws -> ProcessIdentity {
        let own = LVSLab.realServerAddresses[index]
        let identity = try world.lab.realServers[index].perform {
            Background.launch("/usr/sbin/dnsmasq", [
                "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
                "--listen-address=\(own)", "--port=53", "--user=root", "--pid-file=\(world.directory)/dnsmasq\(index).pid",
                "--address=/check.example/\(address)", "--txt-record=check.example,tandem", "--mx-host=check.example,mail.check.example,10",
            ], output: "\(world.directory)/dnsmasq\(index).log")
        }
        guard let identity else { throw LabError("dnsmasq did not start") }
        // Listening once its UDP port 53 (0035) is bound in the namespace.
        guard waitUntil(deadline: .now + .seconds(30), { readFile("/proc/\(identity.pid)/net/udp")?.contains(":0035 ") == true }) else {
            throw LabError("dnsmasq on \(own) does not listen: \(readFile("\(world.directory)/dnsmasq\(index).log") ?? "")")
        }
        return identity
    }

    @Test func dnsQueriesEveryServer() throws {
        let world = try World(name: "dns")
        let servers = [try dnsServer(world, index: 0, address: "192.0.2.53"), try dnsServer(world, index: 1, address: "192.0.2.54")]
        defer { for server in servers { server.terminate(by: .now + .seconds(5)) } }
        let service = ["service": "udp:203.0.113.10:53", "scheduler": "rr",
                       "realservers": "192.168.100.2:53 masq 2, 192.168.100.3:53 masq 3"]
        let identity = try ServiceSpec(parsing: "udp:203.0.113.10:53").identity
        let dns1 = IPVSDestination.Key(address: LVSLab.realServerAddresses[0], port: 53)
        let dns2 = IPVSDestination.Key(address: LVSLab.realServerAddresses[1], port: 53)
        #expect(try world.ipvs.run("start", service).exitCode == .success)
        let base = ["services": "udp:203.0.113.10:53", "check": "dns", "dns_name": "check.example",
                    "interval": "500ms", "timeout": "1s", "rise": "1", "fall": "1"]
        func verdicts(_ extra: [String: String]) throws -> [IPVSDestination.Key: Int32] {
            try world.verdicts(identity, base.merging(extra) { $1 })
        }
        #expect(try verdicts([:]) == [dns1: 2, dns2: 3], "\(world.log)")
        #expect(try verdicts(["dns_expect": "192.0.2.53"]) == [dns1: 2, dns2: 0], "\(world.log)")
        #expect(world.log.contains("is 192.0.2.54, not 192.0.2.53"), "\(world.log)")
        #expect(try verdicts(["dns_type": "MX", "dns_expect": "10 mail.check.example"]) == [dns1: 2, dns2: 3], "\(world.log)")
        #expect(try verdicts(["dns_type": "TXT", "dns_expect": "tandem"]) == [dns1: 2, dns2: 3], "\(world.log)")
        #expect(try verdicts(["dns_name": "other.example"]) == [dns1: 0, dns2: 0], "no such name: \(world.log)")
        kill(servers[0].pid, SIGSTOP)
        #expect(try verdicts([:]) == [dns1: 0, dns2: 3], "a frozen server times out: \(world.log)")
        kill(servers[0].pid, SIGCONT)
        _ = try world.ipvs.run("stop", service)
    }

    // MARK: Faults

    /// The state directory full or read-only under a running checker: the daemon cannot write
    /// its heartbeat, so monitor fails within the bound and says why; stop ends the daemon and
    /// succeeds (what it cannot write is said, not fatal).
    @Test(arguments: ["full", "read-only"]) func aBrokenStateDirectory(_ fault: String) throws {
        let world = try World(name: "state-\(fault == "full" ? "full" : "ro")")
        let directory = try FaultyDirectory(world.directory + "/faulty")
        var ipvs = world.ipvs
        ipvs.stateDirectory = directory.path
        var checker = world.checker
        checker.stateDirectory = directory.path
        #expect(try ipvs.run("start", ipvsParameters).exitCode == .success)
        try #require(try checker.run("start", checkParameters).exitCode == .success)
        if fault == "full" { try directory.fill() } else { try directory.makeReadOnly() }
        let broken = ContinuousClock.now
        var monitor = try checker.run("monitor", checkParameters)
        let failed = waitUntil(deadline: .now + .seconds(40)) {
            monitor = (try? checker.run("monitor", checkParameters)) ?? monitor
            return monitor.exitCode == .genericError
        }
        let detected = broken.duration(to: .now)
        let stop = try checker.run("stop", checkParameters)
        let daemons = Background.processes(running: AgentRunner.agentDirectory + "/healthcheckd",
                                           withArgument: DaemonFiles(directory: directory.path, instance: "web-check").configuration.path)
        try? directory.repair()
        _ = try ipvs.run("stop", ipvsParameters)
        let named = (monitor.exitReason ?? "").contains(fault == "full" ? "full" : "read-only")
        let holds = failed && named && stop.exitCode == .success && daemons.isEmpty
        FaultTable.record("healthcheck", "state directory \(fault) under the running checker",
                          expected: "monitor 1 within the heartbeat bound, naming the directory; stop 0, daemon ended",
                          observed: "\(FaultTable.outcome("monitor", monitor)) after \(Int(detected / .milliseconds(1))) ms; stop \(stop.status), \(daemons.count) daemon(s) left",
                          holds: holds)
        #expect(holds, "\(monitor)\n\(stop)\n\(world.log)")
    }

    /// A low descriptor limit (64, soft and hard) with 60 real servers, 58 of them addresses
    /// nobody has: checks take turns within the limit, and the two healthy servers are never
    /// failed for a socket they could not get.
    @Test func aLowDescriptorLimitNeverFailsAHealthyServer() throws {
        let world = try World(name: "fds")
        let ghosts = (10..<68).map { "192.168.100.\($0):80 masq 1" }
        let parameters = ["service": "tcp:203.0.113.10:80", "scheduler": "rr",
                          "realservers": (["192.168.100.2:80 masq 2", "192.168.100.3:80 masq 3"] + ghosts).joined(separator: ", ")]
        #expect(try world.ipvs.run("start", parameters).exitCode == .success)
        let check = checkParameters.merging(["check": "tcp", "interval": "1s", "timeout": "1s"]) { $1 }
        let start = try world.checker.run("start", check, descriptorLimit: 64, timeout: .seconds(60))
        let watcher = try WeightWatcher(world: world, identity: identity)
        // A few rounds of checks under the limit.
        sleep(for: .seconds(6))
        let seen = watcher.finish()
        let monitor = try world.checker.run("monitor", check)
        let stop = try world.checker.run("stop", check)
        _ = try world.ipvs.run("stop", parameters)
        let healthyKept = seen[rs1] == [2] && seen[rs2] == [3]
        let turns = world.log.contains("checks at once")
        let holds = start.exitCode == .success && healthyKept && turns && monitor.exitCode == .success && stop.exitCode == .success
        FaultTable.record("healthcheck", "descriptor limit 64 with 60 real servers (58 unreachable)",
                          expected: "start 0; checks in turn within the limit; the healthy servers never failed",
                          observed: "start \(start.status); \(turns ? "checks in turn" : "NO LIMIT SEEN"); healthy servers' weights \(seen[rs1] ?? []) and \(seen[rs2] ?? []); monitor \(monitor.status), stop \(stop.status)",
                          holds: holds)
        #expect(holds, "\(start)\n\(seen)\n\(world.log)")
    }

    /// The wall clock stepped an hour forward and back under every agent running (the VIP,
    /// the service, the checker, a sync daemon): nothing in Tandem counts on the wall clock, so
    /// every monitor stays 0 and no verdict changes.
    @Test func aClockStepChangesNothing() throws {
        let world = try World(name: "clock")
        #expect(try world.ipvs.run("start", ipvsParameters).exitCode == .success)
        try #require(try world.checker.run("start", checkParameters).exitCode == .success)
        let vip = AgentRunner(agent: "vip", namespace: world.lab.director, instance: "clock-vip", stateDirectory: world.directory + "/state")
        let sync = AgentRunner(agent: "ipvs-sync", namespace: world.lab.director, instance: "clock-sync", stateDirectory: world.directory + "/state")
        let vipParameters = ["ip": "192.168.100.77", "nic": "lan", "cidr_netmask": "24", "arp_count": "1"]
        let syncParameters = ["interface": "sync0", "syncid": "21"]
        #expect(try vip.run("start", vipParameters).exitCode == .success)
        #expect(try sync.run("start", syncParameters).exitCode == .success)
        let watcher = try WeightWatcher(world: world, identity: identity)
        func monitors() throws -> [Int32] {
            try [world.checker.run("monitor", checkParameters), world.ipvs.run("monitor", ipvsParameters),
                 vip.run("monitor", vipParameters), sync.run("monitor", syncParameters)].map(\.status)
        }
        let before = try monitors()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let step = { (seconds: Int) in
            _ = try? Command("/bin/date", ["-s", "@\(now.tv_sec + seconds)"]).run(deadline: .now + .seconds(10))
        }
        step(3600)
        sleep(for: .seconds(3))
        let forward = try monitors()
        clock_gettime(CLOCK_REALTIME, &now)
        step(-3600)
        sleep(for: .seconds(3))
        let back = try monitors()
        let seen = watcher.finish()
        for (runner, parameters) in [(sync, syncParameters), (vip, vipParameters)] { _ = try runner.run("stop", parameters) }
        _ = try world.checker.run("stop", checkParameters)
        _ = try world.ipvs.run("stop", ipvsParameters)
        let steady = seen[rs1] == [2] && seen[rs2] == [3]
        let holds = before == [0, 0, 0, 0] && forward == before && back == before && steady
        for agent in ["vip", "ipvs", "ipvs-sync", "healthcheck"] {
            FaultTable.record(agent, "wall clock stepped +1 h, then back",
                              expected: "every monitor 0 before, after the step and after the step back; no verdict changes",
                              observed: "monitors \(before), \(forward), \(back) (healthcheck, ipvs, vip, ipvs-sync); weights \(steady ? "unchanged" : "CHANGED: \(seen)")",
                              holds: holds)
        }
        #expect(holds, "\(before) \(forward) \(back) \(seen)\n\(world.log)")
    }

}