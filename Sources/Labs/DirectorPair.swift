import Addresses
import Glibc
import Netlink
import OCF
import OCFTesting

/// A director pair of the seeds, for real: two Pacemaker nodes of the lab as directors, two
/// plain hosts as real servers (nginx serving seed 002's `ldirector.html` "Test Page" and its
/// name) and the lab's client, all on the lab's bridge.
///
/// - `directRouting` (seed 002): `crm-examples/director-pair-dr.crm`; the real servers hold the
///   VIP on `lo` (the vip agent's real-server mode) and answer the client directly.
/// - `nat` (seed 000): `crm-examples/web-lvs-nat.crm`; the real servers live in the example's
///   192.168.0.0/24 (their lab address removed) and route through the pair's gateway VIP, as
///   NAT needs; the directors forward (ip_forward=1, as the seed's sysctl.conf) and send no
///   ICMP redirects (one LAN here, where the seed has two).
///
/// The Tandem stack is `cluster-properties.crm` and the example as they are, with the lab's
/// public addresses (192.168.1.x becomes 198.18.0.x; the VIP .105 or .35; every eth1 becomes
/// eth0) and the lab's power switch as fence device. The stock stack (DR only) is the same pair
/// with IPaddr2, ldirectord (the same check) and the kernel's sync daemons started on both
/// nodes (master and backup), as seed 002's LVSSyncDaemonSwap had them.
public final class DirectorPair {
    public enum Stack: String, Sendable { case tandem, stock }
    public enum Setup: String, Sendable { case directRouting, nat }

    public static let directors = ["node1", "node2"]
    public static let realServers = ["host1", "host2"]
    public static let clientAddress = IPAddress("198.18.0.100")!

    public let lab: PacemakerLab
    public let stack: Stack
    public let setup: Setup
    /// The VIP clients use.
    public let vip: IPAddress
    /// The VIP's resource in the example: the first member of the group.
    public var vipResource: String { setup == .directRouting ? "vip-web" : "vip-public" }
    /// The real servers' addresses in the IPVS service, by lab host.
    public let realServerAddresses: [String: String]
    public private(set) var webServers: [String: WebServer] = [:]
    public let client: NetworkNamespace
    let workDirectory: String

    /// Brings the lab up, the real servers, and loads the stack's configuration (it does not
    /// wait for it to run: `waitServing`).
    public init(_ setup: Setup = .directRouting, stack: Stack = .tandem, name: String) throws {
        self.setup = setup
        self.stack = stack
        precondition(setup == .directRouting || stack == .tandem, "the stock stack is configured for LVS-DR only")
        switch setup {
        case .directRouting:
            vip = IPAddress("198.18.0.105")!
            realServerAddresses = ["host1": "198.18.0.101", "host2": "198.18.0.102"]
        case .nat:
            vip = IPAddress("198.18.0.35")!
            realServerAddresses = ["host1": "192.168.0.2", "host2": "192.168.0.3"]
        }
        lab = try PacemakerLab(nodes: 2, hosts: 2, name: name)
        workDirectory = lab.directory + "-work"
        mkdir(workDirectory, 0o755)
        client = try lab.namespace("client")
        for host in Self.realServers {
            let namespace = try lab.namespace(host)
            switch setup {
            case .directRouting:
                let realServer = AgentRunner(agent: "vip", namespace: namespace, instance: "rs-vip", stateDirectory: workDirectory)
                let started = try realServer.run("start", ["ip": vip.description, "lvs_dr_realserver": "true"])
                guard started.exitCode == .success else { throw LabError("real-server VIP on \(host): \(started)") }
            case .nat:
                let own = host == "host1" ? "198.18.0.101/24" : "198.18.0.102/24"
                for command in [["ip", "addr", "del", own, "dev", "eth0"],
                                ["ip", "addr", "add", realServerAddresses[host]! + "/24", "dev", "eth0"],
                                ["ip", "route", "add", "default", "via", "192.168.0.1"]] {
                    let result = try lab.exec(host, command)
                    guard result.status == 0 else { throw LabError("\(host): \(command.joined(separator: " ")): \(result.errorOutput)") }
                }
            }
            webServers[host] = try WebServer(in: namespace, directory: workDirectory + "/" + host,
                                            page: "Test Page \(host)", accessLog: false)
        }
        if setup == .nat {
            // Forwarding on; and, the lab being one LAN (the seed has a private network on eth1),
            // no ICMP redirects: a director forwarding a reply out the interface it came in on
            // would tell the real server to reach the client directly, past the NAT.
            let settings = ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0"]
            for node in Self.directors {
                let result = try lab.exec(node, ["sysctl", "-q", "-w"] + settings)
                guard result.status == 0 else { throw LabError("\(node): sysctl: \(result.errorOutput)") }
            }
        }
        try lab.configure(try configuration())
        if stack == .stock { try startSyncDaemons() }
    }

    /// The stock stack's connection sync: master and backup daemons on both directors (the
    /// kernel runs both at once; a master's own messages do not come back to it). A reboot
    /// forgets them: call again after one.
    public func startSyncDaemons(on nodes: [String] = DirectorPair.directors) throws {
        for node in nodes {
            for state in ["master", "backup"] {
                let result = try lab.exec(node, ["ipvsadm", "--start-daemon", state, "--mcast-interface", "eth0", "--syncid", "1"])
                guard result.status == 0 || result.errorOutput.contains("File exists") else {
                    throw LabError("\(node): ipvsadm --start-daemon \(state): \(result.errorOutput)")
                }
            }
        }
    }

    deinit { down() }

    /// Tears the lab down (logs kept under `lab-logs/`).
    public func down() {
        webServers.values.forEach { $0.kill() }
        lab.down()
    }

    /// The crm configuration loaded for the stack.
    public func configuration() throws -> String {
        // The lab's power switch would boot a fenced node again within seconds (hardware takes
        // minutes), racing the survivor's start of the resources: fenced directors stay off
        // until the caller boots them (`lab.boot`), as after a real power-off.
        let fencing = """
            primitive fencing stonith:fence_lab params pcmk_host_list="node1 node2" pcmk_reboot_action=off \\
                op monitor interval=60s
            """
        switch stack {
        case .tandem:
            let example = setup == .directRouting ? "director-pair-dr.crm" : "web-lvs-nat.crm"
            return try Self.example("cluster-properties.crm") + "\n" + fencing + "\n" + Self.labAddresses(Self.example(example))
        case .stock:
            // Under emulation perl and the shell are slow: ldirectord's start takes about 20 s
            // there (1 s on hardware), so the stock stack gets generous timeouts.
            let configFile = workDirectory + "/ldirectord.cf"
            try writeFile(configFile, Self.ldirectordConfiguration)
            return try Self.example("cluster-properties.crm") + "\n" + fencing + "\n" + """
                primitive vip-web IPaddr2 params ip=198.18.0.105 cidr_netmask=24 nic=eth0 \\
                    op start timeout=120s op stop timeout=120s op monitor interval=10s timeout=60s
                primitive web-lvs ldirectord params configfile=\(configFile) \\
                    op start timeout=120s op stop timeout=120s op monitor interval=10s timeout=60s
                group director vip-web web-lvs
                """
        }
    }

    /// seed 002's ldirectord.cf with the lab's addresses (the check as director-pair-dr.crm's).
    static let ldirectordConfiguration = """
        checktimeout=2
        checkinterval=2
        autoreload=no
        quiescent=yes
        virtual=198.18.0.105:80
            real=198.18.0.101:80 gate
            real=198.18.0.102:80 gate
            fallback=127.0.0.1:80 gate
            service=http
            request="ldirector.html"
            receive="Test Page"
            scheduler=wlc
            protocol=tcp
            checktype=negotiate

        """

    /// A crm example of the repository.
    public static func example(_ name: String) throws -> String {
        guard let text = readFile(repositoryRoot + "/crm-examples/" + name) else { throw LabError("no crm example \(name)") }
        return text
    }

    /// An example's addresses made the lab's: 192.168.1.x → 198.18.0.x, every eth1 → eth0.
    public static func labAddresses(_ text: String) -> String {
        text.replacing("192.168.1.", with: "198.18.0.").replacing("=eth1", with: "=eth0")
    }

    // MARK: What the cluster does

    /// The node the director group runs on, as `node` sees it (nil: stopped or unknown).
    public func activeDirector(asSeenBy node: String? = nil) -> String? {
        for viewer in node.map({ [$0] }) ?? Self.directors {
            guard let result = try? lab.exec(viewer, ["crm_resource", "--locate", "--resource", "director"], timeout: .seconds(30)),
                  result.status == 0 else { continue }
            // "resource director is running on: node2"
            if let line = result.output.split(separator: "\n").first(where: { $0.contains("is running on:") }),
               let name = line.split(separator: " ").last {
                return String(name)
            }
        }
        return nil
    }

    /// The directors whose eth0 carries the VIP (more than one means both answer for it).
    public func directorsHoldingVIP() throws -> [String] {
        try Self.directors.filter { node in
            let addresses = try lab.exec(node, ["ip", "-o", "-4", "addr", "show", "dev", "eth0"]).output
            return addresses.contains(" \(vip)/")
        }
    }

    /// Waits until the group runs, both real servers answer through the VIP, and (Tandem) the
    /// sync daemon runs as master beside the group and as backup on the other node.
    public func waitServing(timeout: Duration) throws -> String {
        let deadline = ContinuousClock.now + timeout
        var seen: Set<String> = []
        while ContinuousClock.now < deadline {
            if let server = request() { seen.insert(server) }
            if seen.count == Self.realServers.count, let active = activeDirector(), syncReady(active: active) { return active }
            sleep(for: .milliseconds(200))
        }
        throw LabError("the director pair did not serve within \(timeout) (answers from \(seen.sorted())):\n\(lab.status())")
    }

    func syncReady(active: String) -> Bool {
        guard stack == .tandem, setup == .directRouting else { return true }
        guard let states = try? lab.exec(active, ["crm_mon", "-1", "-r"]).output else { return false }
        return states.contains("Promoted: [ \(active) ]") && states.contains("Unpromoted: [ \(other(than: active)) ]")
    }

    public func other(than node: String) -> String { node == "node1" ? "node2" : "node1" }

    /// The IPVS connections the node's kernel holds from the client to the VIP, by client port.
    public func connections(on node: String) throws -> [UInt16: String] {
        let table = try lab.namespace(node).perform { readFile("/proc/thread-self/net/ip_vs_conn") ?? "" }
        let client = LVSLab.connectionTableForm(IPv4Address(Self.clientAddress.description)!)
        let vip = LVSLab.connectionTableForm(IPv4Address(self.vip.description)!)
        var found: [UInt16: String] = [:]
        // Pro FromIP FPrt ToIP TPrt DestIP DPrt State Expires ...
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 8, fields[1] == client, fields[3] == vip, let port = UInt16(fields[2], radix: 16) else { continue }
            found[port] = String(fields[7])
        }
        return found
    }

    /// Seconds of the day (UTC, as the lab's logs write them) at which `node`'s controller
    /// initiated the start of `resource` after `after` (seconds of the day); nil if it did not.
    public func startInitiated(of resource: String, on node: String, after: Double) -> Double? {
        guard let log = readFile(lab.directory + "/\(node)/log/pacemaker/pacemaker.log") else { return nil }
        for line in log.split(separator: "\n") where line.contains("Initiating start operation \(resource)_start_0") {
            // "Nov 30 00:48:00.664 node1 pacemaker-controld ..."
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, let time = Self.secondsOfDay(fields[2]), time > after else { continue }
            return time
        }
        return nil
    }

    static func secondsOfDay(_ text: Substring) -> Double? {
        let parts = text.split(separator: ":")
        guard parts.count == 3, let h = Double(parts[0]), let m = Double(parts[1]), let s = Double(parts[2]) else { return nil }
        return h * 3600 + m * 60 + s
    }

    /// Now, in seconds of the day (UTC).
    public static func nowSecondsOfDay() -> Double {
        let nanoseconds = realTimeNanoseconds()
        return Double(nanoseconds % 86_400_000_000_000) / 1e9
    }

    /// A real server's (lab host's) weight in `node`'s IPVS service for the VIP (nil: not listed).
    public func weight(on node: String, of host: String) throws -> Int? {
        let server = realServerAddresses[host] ?? host
        let identity = IPVSService.Identity.address(.tcp, vip, port: 80)
        let destinations = try IPVSSocket(in: try lab.namespace(node)).destinations(of: identity)
        return destinations.first { $0.address.description == server }.map { Int($0.weight) }
    }

    /// Whether `node`'s fencer records a successful fencing of `target` within `timeout`.
    public func wasFenced(_ target: String, by node: String, timeout: Duration) -> Bool {
        waitUntil(deadline: .now + timeout) {
            let history = (try? lab.exec(node, ["stonith_admin", "--history", target]).output) ?? ""
            return history.contains("of \(target) successful")
        }
    }

    /// What an admin would look at when something is wrong: the cluster, each director's IPVS
    /// table, sync daemons and addresses, and every host's neighbours (for failure messages).
    public func diagnostics() -> String {
        var text = lab.status()
        for node in Self.directors {
            for command in [["ipvsadm", "-Ln"], ["ipvsadm", "-L", "--daemon"], ["ip", "-br", "addr"]] {
                let output = (try? lab.exec(node, command, timeout: .seconds(30))).map { $0.output + $0.errorOutput } ?? "(no answer)"
                text += "\n\(node)$ \(command.joined(separator: " "))\n\(output)"
            }
        }
        for host in Self.realServers + ["client"] {
            let output = (try? lab.exec(host, ["ip", "neigh"], timeout: .seconds(30)).output) ?? "(no answer)"
            text += "\n\(host)$ ip neigh\n\(output)"
        }
        return text
    }

    /// What an admin looks at: `crm_mon -1 -r` and `ipvsadm -Ln` on a node.
    public func crmMon(on node: String) -> String { (try? lab.exec(node, ["crm_mon", "-1", "-r"]).output) ?? "" }
    public func ipvsTable(on node: String) -> String { (try? lab.exec(node, ["ipvsadm", "-Ln"]).output) ?? "" }

    /// `count` connections through the VIP, each with one answered request (its third packet
    /// seen by the director, the kernel's sync threshold), listed by the standby's kernel before
    /// this returns.
    public func keptConnections(count: Int, syncedTo standby: String, timeout: Duration) throws -> [KeptConnection] {
        var kept: [KeptConnection] = []
        for _ in 0..<count {
            guard let connection = KeptConnection(from: client, to: vip, timeout: .seconds(2)),
                  connection.request(timeout: .seconds(2)) != nil else { throw LabError("a new connection through the VIP got no answer") }
            kept.append(connection)
        }
        let ports = Set(kept.map(\.port))
        let synced = waitUntil(deadline: .now + timeout) {
            let table = (try? connections(on: standby)) ?? [:]
            return ports.allSatisfy { table[$0] == "ESTABLISHED" }
        }
        guard synced else {
            let listed = ((try? connections(on: standby)) ?? [:]).filter { ports.contains($0.key) }
            throw LabError("the standby \(standby) does not list the kept connections \(ports.sorted()) (it has \(listed))\n\(diagnostics())")
        }
        return kept
    }

    // MARK: The client

    /// One request through the VIP on a new connection: the real server that answered, or nil
    /// (refused, reset, or no answer within `timeout`).
    public func request(timeout: Duration = .milliseconds(300)) -> String? {
        HTTPProbe.get(from: client, address: vip, timeout: timeout)
    }
}

/// Plain HTTP/1.1 requests through the VIP, on fresh or kept connections.
public enum HTTPProbe {
    static let request = Array("GET / HTTP/1.1\r\nHost: director\r\n\r\n".utf8)

    /// The answering real server's name ("Test Page host1" → "host1"), or nil.
    public static func get(from namespace: NetworkNamespace, address: IPAddress, connectTimeout: Duration? = nil,
                           timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        guard let fd = connect(from: namespace, to: address, deadline: min(deadline, .now + (connectTimeout ?? timeout))) else { return nil }
        defer { close(fd) }
        return exchange(fd, deadline: deadline)
    }

    /// A non-blocking connected socket (from `localPort` if given, else an ephemeral one), or nil.
    static func connect(from namespace: NetworkNamespace, to address: IPAddress, localPort: UInt16? = nil,
                        deadline: ContinuousClock.Instant) -> Int32? {
        guard let fd = try? namespace.perform({
            socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }), fd >= 0 else { return nil }
        if let localPort {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_port = localPort.bigEndian
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { close(fd); return nil }
        }
        _ = address.withSocketAddress(port: 80) { Glibc.connect(fd, $0, $1) }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if poll(&poller, 1, milliseconds(until: deadline)) == 1, getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 {
            return fd
        }
        close(fd)
        return nil
    }

    /// Sends one request on `fd` and reads the answer's body line.
    static func exchange(_ fd: Int32, deadline: ContinuousClock.Instant) -> String? {
        guard request.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == request.count else { return nil }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, milliseconds(until: deadline)) == 1 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { if count < 0 && errno == EAGAIN { continue }; return nil }
            received += buffer[..<count]
            let text = String(decoding: received, as: UTF8.self)
            if let range = text.firstRange(of: "Test Page "), let end = text[range.upperBound...].firstIndex(of: "\n") {
                return String(text[range.upperBound..<end])
            }
        }
        return nil
    }

    static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return 0 }
        return Int32(min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
    }
}

/// A client connection kept open across a failover: one request now and then, on the same
/// TCP connection (HTTP keep-alive).
///
/// Its client port is below the ephemeral range, never used before in the lab: a connection
/// reusing the port of one the director still lists (FIN_WAIT, for two minutes in LVS-DR) takes
/// over that entry and its packet count, and the kernel syncs it only at its 53rd packet.
public final class KeptConnection {
    let descriptor: Int32
    public let port: UInt16
    nonisolated(unsafe) static var nextPort: UInt16 = 20_000

    public init?(from namespace: NetworkNamespace, to address: IPAddress, timeout: Duration) {
        let port = KeptConnection.nextPort
        KeptConnection.nextPort = port == 32_000 ? 20_000 : port + 1
        guard let fd = HTTPProbe.connect(from: namespace, to: address, localPort: port, deadline: .now + timeout) else { return nil }
        descriptor = fd
        self.port = port
    }

    deinit { close(descriptor) }

    /// One request on this connection: the real server that answered, or nil.
    public func request(timeout: Duration) -> String? {
        HTTPProbe.exchange(descriptor, deadline: .now + timeout)
    }
}

/// Requests through the VIP on new connections, one every `interval`, on a thread of their
/// own, each recorded with its time and answer: what a client sees of a failover. A request
/// gives up when its connection is not made within 150 ms (a SYN to a dead director) or it has
/// no answer within a second (a busy emulated machine is slow, not down).
public final class RequestStream: @unchecked Sendable {
    public struct Outcome: Sendable {
        public let time: ContinuousClock.Instant
        /// The same instant in seconds of the day (UTC), to compare with the cluster's logs.
        public let secondsOfDay: Double
        public let server: String?
    }

    /// A client-seen outage: the last answer before it, the first failure, the first answer after.
    public struct Outage: Sendable, CustomStringConvertible {
        public let lastAnswer: Outcome
        public let firstFailure: Outcome
        public let recovered: Outcome
        public let failedRequests: Int
        /// From the last answer before the failures to the first one after them.
        public var duration: Duration { lastAnswer.time.duration(to: recovered.time) }
        public var description: String { "\(seconds(duration)) s without an answer (\(failedRequests) requests failed)" }
    }

    private let sampler: Sampler<(secondsOfDay: Double, server: String?)>

    public init(pair: DirectorPair, interval: Duration = .milliseconds(20)) {
        let namespace = pair.client, vip = pair.vip
        sampler = Sampler(interval: interval) { _ in
            let secondsOfDay = DirectorPair.nowSecondsOfDay()
            let server = HTTPProbe.get(from: namespace, address: vip, connectTimeout: .milliseconds(150), timeout: .seconds(1))
            return (secondsOfDay, server)
        }
    }

    public func stop() { sampler.stop() }

    /// The outcomes of requests started at or after `start` (and before `end`).
    public func outcomes(from start: ContinuousClock.Instant, to end: ContinuousClock.Instant = .now) -> [Outcome] {
        sampler.samples(from: start, to: end).map { Outcome(time: $0.time, secondsOfDay: $0.value.secondsOfDay, server: $0.value.server) }
    }

    /// The first request started at or after `start` answered (by `server`, if given).
    public func firstAnswer(after start: ContinuousClock.Instant, from server: String? = nil) -> Outcome? {
        outcomes(from: start).first { $0.server != nil && (server == nil || $0.server == server) }
    }

    /// Waits until a request started at or after `start` is answered (by `server`, if given).
    public func waitForAnswer(after start: ContinuousClock.Instant, timeout: Duration, from server: String? = nil) -> Outcome? {
        sampler.waitFor(after: start, timeout: timeout) { $0.server != nil && (server == nil || $0.server == server) }
            .map { Outcome(time: $0.time, secondsOfDay: $0.value.secondsOfDay, server: $0.value.server) }
    }

    /// Waits for the first failed request started at or after `start` and for the answers to
    /// come back after it; nil if either does not happen within `timeout`.
    public func waitForOutage(after start: ContinuousClock.Instant, timeout: Duration) -> Outage? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let seen = outcomes(from: start)
            if let failure = seen.firstIndex(where: { $0.server == nil }),
               let recovered = seen[failure...].firstIndex(where: { $0.server != nil }) {
                let before = outcomes(from: start - .seconds(60), to: seen[failure].time).last { $0.server != nil }
                return Outage(lastAnswer: before ?? seen[failure], firstFailure: seen[failure], recovered: seen[recovered],
                              failedRequests: recovered - failure)
            }
            sleep(for: .milliseconds(20))
        }
        return nil
    }
}

/// Seconds with three decimals.
public func seconds(_ duration: Duration) -> String {
    let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    let fraction = String(abs(milliseconds) % 1000)
    return "\(milliseconds < 0 ? "-" : "")\(abs(milliseconds) / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}
