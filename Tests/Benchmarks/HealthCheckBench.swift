import Addresses
import Glibc
import HealthCheck
import LVS
import Labs
import Netlink
import OCF
import OCFTesting

// The health checker against keepalived's HTTP_GET and ldirectord's negotiate check, in one
// run, on the same farm: 1000 real servers (1000 addresses of one namespace, behind one nginx)
// of one IPVS service, checked over HTTP every second.
// - CPU seconds and peak RSS of the checking process over 60 s of steady checking;
// - detection latency: a real server's address is deleted (it stops answering: its checks
//   time out) and the time until the kernel's weight for it is 0 is measured, 20 times
//   (4 rounds of 5 servers at once), p50 and p99.
// Each tool gets the same settings: interval 1 s (BENCH_INTERVAL), timeout 1 s, two failures to fail a server.
// Under TCG emulation every number is slower than on hardware; the comparison is what carries over.

struct HealthCheckBench {
    static let servers = 1000
    static let vip = "10.200.0.1"
    /// Kept after the run (the peers' logs and configurations): lab-logs/healthcheck-bench, also
    /// from the guest.
    let directory = labLogsDirectory + "/healthcheck-bench"
    /// What is read or written at speed (nginx's pages, the agents' state) stays on a local
    /// file system: lab-logs in the guest is a share of the host's, slow under emulation.
    let local = "/tmp/tandem-hc-bench-\(getpid())"
    let window = Duration.seconds(Int(getenv("BENCH_WINDOW").map { String(cString: $0) } ?? "") ?? 60)
    /// Seconds between two checks of a server (the workload is 1; under emulation a
    /// thousand HTTP checks a second is more than the guest can carry, so BENCH_INTERVAL=5).
    let interval = Int(getenv("BENCH_INTERVAL").map { String(cString: $0) } ?? "") ?? 1
    let identity = IPVSService.Identity.address(.tcp, IPAddress(HealthCheckBench.vip)!, port: 80)

    let director: NetworkNamespace
    let farm: NetworkNamespace
    let addresses: [IPAddress]
    var neighbourLimits: [(Sysctl, Int)] = []

    struct Result {
        var cpuSeconds: Double
        var peakRSS: Int
        var latencies: [Double]
        var undetected: Int
        /// Servers seen at weight 0 during the steady window, when nothing had failed.
        var falseFailures: Int
        var note: String
    }

    init() throws {
        director = try NetworkNamespace.create()
        farm = try NetworkNamespace.create()
        try RouteSocket(in: director).addVethPair(InterfaceName("tofarm")!, peer: InterfaceName("fromdir")!, peerNamespace: farm)
        try VethLab.configure(director, [InterfaceName("tofarm")!], addresses: [(InterfaceName("tofarm")!, "10.100.255.254/16")])
        addresses = (1...HealthCheckBench.servers).map { IPAddress("10.100.\($0 / 250).\($0 % 250 + 1)")! }
        // A primary address that stays: deleting a subnet's primary would take every secondary with it.
        try VethLab.configure(farm, [InterfaceName("fromdir")!], addresses: [(InterfaceName("fromdir")!, "10.100.255.253/16")])
        for address in addresses { try VethLab.add("\(address)/16", on: InterfaceName("fromdir")!, in: farm) }
        // A thousand real servers are a thousand neighbours: above gc_thresh2/3 (512/1024 by
        // default, for every namespace together) the director would churn and drop neighbour
        // entries. Directors are tuned so; the values are put back when the run ends.
        for (name, value) in [("gc_thresh1", 4096), ("gc_thresh2", 8192), ("gc_thresh3", 16384)] {
            let sysctl = Sysctl("net/ipv4/neigh/default/\(name)")
            if let old = try sysctl.read() { neighbourLimits.append((sysctl, old)) }
            try sysctl.write(value)
        }
        mkdir(labLogsDirectory, 0o755)
        _ = try? Command("/bin/rm", ["-rf", directory]).run(deadline: .now + .seconds(60))
        mkdir(directory, 0o755)
        mkdir(local, 0o755)
    }

    var realservers: String { addresses.map { "\($0):80 masq" }.joined(separator: ", ") }

    func run() throws -> Int32 {
        let server = try WebServer(in: farm, directory: local + "/nginx", port: 80, accessLog: false)
        // The farm must answer from the director before anything is measured.
        for address in [addresses[0], addresses[addresses.count / 2], addresses[addresses.count - 1]] {
            guard let connection = try TCPConnection.open(from: director, to: address, port: 80, deadline: .now + .seconds(10)) else {
                throw LabError("\(address):80 does not answer from the director")
            }
            connection.close()
        }
        defer {
            server.kill()
            for (sysctl, value) in neighbourLimits { try? sysctl.write(value) }
        }
        print("health checking of \(Self.servers) real servers over HTTP every \(interval) s, one service (\(window) of steady checking)\n")
        print("| checker | CPU s in \(window.components.seconds) s | peak RSS MB | healthy servers failed | detection p50 s | detection p99 s | undetected | notes |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        let tools: [(String, () throws -> Result?)] = [
            ("Tandem healthcheck", measureTandem), ("keepalived HTTP_GET", measureKeepalived), ("ldirectord negotiate", measureLdirectord),
        ]
        // BENCH_ONLY=tandem,keepalived: the rows whose names contain one of these words.
        let only = getenv("BENCH_ONLY").map { String(cString: $0).split(separator: ",").map(String.init) }
        for (name, measure) in tools where only.map({ $0.contains { name.lowercased().contains($0) } }) ?? true {
            // A peer that cannot do the work is a row saying so, not the end of the run.
            let result: Result?
            do { result = try measure() } catch {
                print("| \(name) | n/a | n/a | n/a | n/a | n/a | n/a | \(error) |")
                fflush(nil)
                continue
            }
            guard let result else { print("| \(name) | n/a | n/a | n/a | n/a | n/a | n/a | not installed |"); continue }
            print("| \(name) | \(format(result.cpuSeconds)) | \(format(Double(result.peakRSS) / 1024)) | \(result.falseFailures) | "
                + "\(format(percentile(result.latencies, 0.5))) | \(format(percentile(result.latencies, 0.99))) | "
                + "\(result.undetected) of \(result.latencies.count + result.undetected) | \(result.note) |")
            fflush(nil)
        }
        print("\nbound for detection: interval × fall + timeout + 0.1 s = \(interval * 2 + 1).1 s")
        return 0
    }

    // MARK: The three checkers

    func measureTandem() throws -> Result {
        let state = local + "/state"
        let ipvs = AgentRunner(agent: "ipvs", namespace: director, instance: "bench", stateDirectory: state)
        var checker = AgentRunner(agent: "healthcheck", namespace: director, instance: "bench-check", stateDirectory: state)
        checker.environment["TANDEM_LIBEXEC_DIR"] = AgentRunner.agentDirectory
        checker.environment["HA_LOGFILE"] = directory + "/healthcheck.log"
        let service = ["service": "tcp:\(Self.vip):80", "realservers": realservers]
        // The same check as keepalived's HTTP_GET below: GET /, status 200.
        let check = ["services": "tcp:\(Self.vip):80", "check": "http", "http_status": "200", "interval": "\(interval)s",
                     "timeout": "1s", "fall": "2", "rise": "2"]
        let launched = ContinuousClock.now
        guard try ipvs.run("start", service, timeout: .seconds(120)).exitCode == .success else { throw LabError("ipvs start failed") }
        let start = try checker.run("start", check, timeout: .seconds(120))
        guard start.exitCode == .success else { throw LabError("healthcheck start failed: \(start)") }
        defer {
            _ = try? checker.run("stop", check, timeout: .seconds(120))
            _ = try? ipvs.run("stop", service, timeout: .seconds(120))
        }
        let daemons = Background.processes(running: AgentRunner.agentDirectory + "/healthcheckd",
                                           withArgument: DaemonFiles(directory: state, instance: "bench-check").configuration.path)
        guard let daemon = daemons.first else { throw LabError("no healthcheckd") }
        let setup = ContinuousClock.now - launched
        let thresholds = (1...3).compactMap { try? Sysctl("net/ipv4/neigh/default/gc_thresh\($0)").read() }
        var result = try steady([daemon.pid])
        let neighbours = try director.perform { (readFile("/proc/thread-self/net/arp") ?? "").split(separator: "\n").count - 1 }
        print("(neighbour limits \(thresholds), \(neighbours) ARP entries in the director)")
        (result.latencies, result.undetected) = try detections(rounds: 4, limit: .seconds(10 * interval + 20))
        result.note = "set up in \(seconds(setup)) s (ipvs start, then healthcheck start: first round applied); all checks concurrent on one epoll thread"
        return result
    }

    func measureKeepalived() throws -> Result? {
        guard access("/usr/sbin/keepalived", X_OK) == 0 else { return nil }
        var configuration = "global_defs {\n  router_id tandem_bench\n}\nvirtual_server \(Self.vip) 80 {\n  delay_loop \(interval)\n  lb_algo wlc\n"
            + "  lb_kind NAT\n  protocol TCP\n"
        for address in addresses {
            configuration += "  real_server \(address) 80 {\n    weight 1\n    inhibit_on_failure\n    HTTP_GET {\n"
                + "      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 1\n      retry 1\n"
                + "      delay_before_retry 1\n    }\n  }\n"
        }
        configuration += "}\n"
        try writeFile(directory + "/keepalived.conf", configuration)
        let launched = ContinuousClock.now
        let process = try launch("/usr/sbin/keepalived", ["--dont-fork", "--log-console", "--check", "--use-file", directory + "/keepalived.conf",
                                                          "--pid", directory + "/keepalived.pid", "--checkers_pid", directory + "/checkers.pid"],
                                 log: directory + "/keepalived.log")
        defer {
            process.terminate(patience: .seconds(55), by: .now + .seconds(60))
            _ = try? IPVSSocket(in: director).apply([.deleteService(identity)])
        }
        guard try waitForServers(count: Self.servers, within: .seconds(120), while: process) else {
            throw LabError("keepalived did not set up the service (lab-logs/healthcheck-bench/keepalived.log)")
        }
        guard let checker = waitForPidFile(directory + "/checkers.pid") else { throw LabError("no keepalived checker process") }
        let setup = ContinuousClock.now - launched
        sleep(for: .seconds(5))
        var result = try steady([checker, process.pid])
        (result.latencies, result.undetected) = try detections(rounds: 4, limit: .seconds(10 * interval + 20))
        result.note = "service set up in \(seconds(setup)) s; the checker process and its parent, one epoll loop"
        return result
    }

    func measureLdirectord() throws -> Result? {
        guard access("/usr/sbin/ldirectord", X_OK) == 0 else { return nil }
        var configuration = "checktimeout=1\nnegotiatetimeout=1\ncheckinterval=\(interval)\nfailurecount=2\nquiescent=yes\n"
            + "autoreload=no\nlogfile=\"\(directory)/ldirectord.log\"\nvirtual=\(Self.vip):80\n"
        for address in addresses { configuration += "\treal=\(address):80 masq 1\n" }
        configuration += "\tservice=http\n\trequest=\"/\"\n\treceive=\"Test Page\"\n\tchecktype=negotiate\n\tscheduler=wlc\n\tprotocol=tcp\n"
        try writeFile(directory + "/ldirectord.cf", configuration)
        let launched = ContinuousClock.now
        let process = try launch("/usr/sbin/ldirectord", ["-d", directory + "/ldirectord.cf", "start"], log: directory + "/ldirectord.out")
        defer {
            process.terminate(patience: .seconds(55), by: .now + .seconds(60))
            _ = try? IPVSSocket(in: director).apply([.deleteService(identity)])
        }
        guard try waitForServers(count: Self.servers, within: .seconds(900), while: process) else {
            throw LabError("ldirectord had not set up the \(Self.servers) real servers after 15 minutes")
        }
        let setup = ContinuousClock.now - launched
        var result = try steady([process.pid])
        (result.latencies, result.undetected) = try detections(rounds: 1, limit: .seconds(120))
        let rounds = (readFile(directory + "/ldirectord.log") ?? "").split(separator: "\n").count
        result.note = "service set up in \(seconds(setup)) s (an ipvsadm run per real server); checks in series, 5 kills only (\(rounds) log lines)"
        return result
    }

    // MARK: Measuring

    /// Starts a peer in the director's namespace, detached, its output in a file (a pipe nobody
    /// reads would stop a chatty one).
    func launch(_ executable: String, _ arguments: [String], log: String) throws -> ProcessIdentity {
        let identity = try director.perform { Background.launch(executable, arguments, output: log) }
        guard let identity else { throw LabError("cannot start \(executable)") }
        return identity
    }

    /// CPU seconds (the processes and the children they waited for) over the window, and the
    /// largest peak RSS among them.
    func steady(_ pids: [pid_t]) throws -> Result {
        let before = pids.map(cpuTicks).reduce(0, +)
        // Once a second, the servers the checker holds at weight 0: none has failed.
        let end = ContinuousClock.now + window
        let table = try IPVSSocket(in: director)
        var failed = Set<IPAddress>()
        while ContinuousClock.now < end {
            for destination in try table.destinations(of: identity) where destination.weight == 0 { failed.insert(destination.address) }
            sleep(for: min(.seconds(1), max(.zero, ContinuousClock.now.duration(to: end))))
        }
        let after = pids.map(cpuTicks).reduce(0, +)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return Result(cpuSeconds: Double(after - before) / ticks, peakRSS: pids.map(peakRSS).max() ?? 0, latencies: [], undetected: 0,
                      falseFailures: failed.count, note: "")
    }

    /// Deletes 5 real servers' addresses at once, `rounds` times, and times each until the
    /// kernel's weight for it is 0; the addresses come back after each round.
    func detections(rounds: Int, limit: Duration) throws -> ([Double], Int) {
        var latencies: [Double] = []
        var undetected = 0
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<rounds {
            // Victims among the servers the checker holds healthy right now.
            let healthy = Set(try IPVSSocket(in: director).destinations(of: identity).filter { $0.weight > 0 }.map(\.address))
            let victims = Array(addresses.filter(healthy.contains).shuffled(using: &generator).prefix(5))
            // Each server's own kill time: the moment its address is gone.
            var killed: [IPAddress: ContinuousClock.Instant] = [:]
            for victim in victims {
                try VethLab.remove("\(victim)/16", from: InterfaceName("fromdir")!, in: farm)
                killed[victim] = .now
            }
            let first = ContinuousClock.now
            var pending = Set(victims)
            let table = try IPVSSocket(in: director)
            while !pending.isEmpty && ContinuousClock.now - first < limit {
                let weights = try table.destinations(of: identity)
                let seen = ContinuousClock.now
                for destination in weights where pending.contains(destination.address) && destination.weight == 0 {
                    pending.remove(destination.address)
                    latencies.append(milliseconds(seen - killed[destination.address]!) / 1000)
                }
                sleep(for: .milliseconds(5))
            }
            undetected += pending.count
            for victim in victims { try VethLab.add("\(victim)/16", on: InterfaceName("fromdir")!, in: farm) }
            sleep(for: .seconds(5))
        }
        return (latencies, undetected)
    }

    /// Waits until the service has `count` real servers, while `process` runs.
    func waitForServers(count: Int, within limit: Duration, while process: ProcessIdentity) throws -> Bool {
        let deadline = ContinuousClock.now + limit
        let table = try IPVSSocket(in: director)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw LabError("it exited (its log is in lab-logs/healthcheck-bench)") }
            if try table.destinations(of: identity).count == count { return true }
            sleep(for: .milliseconds(200))
        }
        return false
    }

    func waitForPidFile(_ path: String) -> pid_t? {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let text = readFile(path), let pid = pid_t(text.split(separator: "\n").first ?? "") { return pid }
            sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// utime + stime + cutime + cstime of a process, in clock ticks (fields 14–17 of its stat).
    func cpuTicks(_ pid: pid_t) -> Int {
        guard let stat = readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (11...14).compactMap { Int(fields[$0]) }.reduce(0, +)
    }

    /// VmHWM in kB.
    func peakRSS(_ pid: pid_t) -> Int {
        let status = readFile("/proc/\(pid)/status") ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    func seconds(_ duration: Duration) -> String { format(milliseconds(duration) / 1000) }

    func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
    }
}
