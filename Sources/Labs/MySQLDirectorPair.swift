import Addresses
import Glibc
import MySQLClient
import MySQLReplication
import Netlink
import OCF
import OCFTesting

/// Seed 004 for real: `crm-examples/mysql-lvs-dr.crm` in a four-node lab. node1 and node2 are
/// the directors; node3 and node4 the two masters, each with a real mariadbd (a
/// `MariaDBPair` in their network namespaces) and the example's six VIPs on `lo` as LVS-DR real
/// servers; host1 stands for the report server (no MySQL there: its checks fail and it stays
/// quiesced); the client writes and reads through the VIPs. The example is loaded as it is,
/// with `cluster-properties.crm`, the lab's power switch, and the lab's names and addresses
/// (dir1/dir2/db1/db2 become node1..node4, 192.168.2.235/.236/.237 the masters' and host1's
/// addresses, the VIPs 198.18.0.60-65; mysql-mm reaches its server at 127.0.0.1, each node's
/// own loopback, instead of a socket in /run; the login files are the pair's).
public final class MySQLDirectorPair {
    public static let directors = ["node1", "node2"]
    public static let databases = ["node3", "node4"]
    /// The rw and ro VIPs of my-frt.
    public static let writeVIP = IPAddress("198.18.0.60")!
    public static let readVIP = IPAddress("198.18.0.61")!
    static let vips = (60...65).map { "198.18.0.\($0)" }

    public let lab: PacemakerLab
    public let pair: MariaDBPair
    public let client: NetworkNamespace
    let workDirectory: String

    public init(name: String) throws {
        let lab = try PacemakerLab(nodes: 4, hosts: 1, name: name)
        self.lab = lab
        workDirectory = lab.directory + "-work"
        mkdir(workDirectory, 0o755)
        client = try lab.namespace("client")
        let namespaces = try Self.databases.map { try lab.namespace($0) }
        pair = try MariaDBPair(name: name, namespaces: namespaces, addresses: [IPAddress("198.18.0.3")!, IPAddress("198.18.0.4")!])
        for (node, namespace) in zip(Self.databases, namespaces) {
            for (index, vip) in Self.vips.enumerated() {
                let realServer = AgentRunner(agent: "vip", namespace: namespace, instance: "rs-\(node)-\(index)", stateDirectory: workDirectory)
                let started = try realServer.run("start", ["ip": vip, "lvs_dr_realserver": "true"])
                guard started.exitCode == .success else { throw LabError("real-server VIP \(vip) on \(node): \(started)") }
            }
        }
        try lab.configure(try configuration())
    }

    deinit { down() }

    public func down() {
        for server in pair.servers { server.kill(signal: SIGKILL) }
        lab.down()
    }

    /// What is loaded: cluster-properties.crm, the lab's fence device, the example with the lab's names.
    public func configuration() throws -> String {
        let fencing = """
            primitive fencing stonith:fence_lab params pcmk_host_list="node1 node2 node3 node4" pcmk_reboot_action=off \\
                op monitor interval=60s
            """
        let example = try DirectorPair.example("mysql-lvs-dr.crm")
            .replacing("192.168.2.235", with: "198.18.0.3").replacing("192.168.2.236", with: "198.18.0.4")
            .replacing("192.168.2.237", with: "198.18.0.101").replacing("192.168.2.6", with: "198.18.0.6")
            .replacing("#uname ne dir1 and #uname ne dir2", with: "#uname ne node1 and #uname ne node2")
            .replacing("#uname ne db1 and #uname ne db2", with: "#uname ne node3 and #uname ne node4")
            .replacing("socket=/run/mysqld/mysqld.sock", with: "host=127.0.0.1")
            .replacing("/etc/tandem/mysql-mm.cnf", with: pair.agentCredentials)
            .replacing("/etc/tandem/mysql-check.cnf", with: pair.checkCredentials)
        return try DirectorPair.example("cluster-properties.crm") + "\n" + fencing + "\n" + example
    }

    /// The database index (0: node3, 1: node4) whose server has read_only OFF, when exactly one has.
    public var writer: Int? {
        let states = [pair.readOnly(0), pair.readOnly(1)]
        let open = states.indices.filter { states[$0] == false }
        return open.count == 1 ? open[0] : nil
    }

    /// One write through the rw VIP from the client, on a new connection: the server ID that
    /// committed it, or nil (refused, timed out, read-only).
    public func write(note: String) -> Int? {
        let login = MySQLLogin(defaultsFile: pair.appCredentials, database: "lab", connectTimeout: .seconds(1), readTimeout: .seconds(2))
        return try? client.perform { () -> Int? in
            guard let connection = try? MySQLConnection(.tcp(host: Self.writeVIP.description, port: 3306), login: login),
                  let server = (try? connection.query("SELECT @@server_id AS id"))?.first?["id"].integer,
                  (try? connection.query("INSERT INTO t (node, note) VALUES (\(server), \(sqlQuoted(note)))")) != nil
            else { return nil }
            return Int(server)
        }
    }

    /// One read through the ro VIP: the server ID that answered.
    public func read() -> Int? {
        let login = MySQLLogin(defaultsFile: pair.appCredentials, database: "lab", connectTimeout: .seconds(1), readTimeout: .seconds(2))
        return try? client.perform { () -> Int? in
            guard let connection = try? MySQLConnection(.tcp(host: Self.readVIP.description, port: 3306), login: login),
                  let server = (try? connection.query("SELECT @@server_id AS id FROM t LIMIT 1"))?.first?["id"].integer
            else { return nil }
            return Int(server)
        }
    }

    /// The notes of lab.t on a server (root over its socket).
    public func notes(on index: Int) throws -> Set<String> {
        Set(try pair.sql(index, "SELECT note FROM lab.t").split(separator: "\n").map(String.init))
    }

    public func crmMon() -> String { (try? lab.exec("node1", ["crm_mon", "-1", "-r", "-A"]).output) ?? "" }

    /// IPVS weights of the rw service on the node running the director group.
    public func writeWeights(on node: String) -> String {
        (try? lab.exec(node, ["ipvsadm", "-Ln", "-t", "\(Self.writeVIP):3306"]).output) ?? ""
    }

    public func diagnostics() -> String {
        var text = crmMon() + "\n" + pair.diagnostics()
        for node in Self.directors { text += "\n\(node):\n" + writeWeights(on: node) }
        return text
    }
}

/// Writes through the rw VIP every `interval` on a thread of its own, each on a new
/// connection with a unique note: what an application sees of a writer failover, and the
/// notes the pair acknowledged (committed).
public final class WriteStream: @unchecked Sendable {
    public struct Outcome: Sendable {
        public let time: ContinuousClock.Instant
        public let note: String
        /// The server ID that committed it; nil when the write failed.
        public let server: Int?
    }

    private let sampler: Sampler<(note: String, server: Int?)>

    public init(lab: MySQLDirectorPair, interval: Duration = .milliseconds(50)) {
        let prefix = "w-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-"
        sampler = Sampler(interval: interval) { count in
            let note = prefix + String(count)
            return (note, lab.write(note: note))
        }
    }

    public func stop() { sampler.stop() }

    public func outcomes(from start: ContinuousClock.Instant) -> [Outcome] {
        sampler.samples(from: start).map { Outcome(time: $0.time, note: $0.value.note, server: $0.value.server) }
    }

    /// Every note a server acknowledged.
    public var acknowledged: Set<String> { Set(outcomes(from: .now - .seconds(100_000)).filter { $0.server != nil }.map(\.note)) }

    /// Waits until a write started at or after `start` is committed by `server`.
    public func waitForWrite(after start: ContinuousClock.Instant, by server: Int, timeout: Duration) -> Outcome? {
        sampler.waitFor(after: start, timeout: timeout) { $0.server == server }
            .map { Outcome(time: $0.time, note: $0.value.note, server: $0.value.server) }
    }
}

/// Polls both servers' read_only (root over their sockets) on a thread of its own, and notes
/// every moment both were writable: A, then B, then A again, all three OFF.
public final class ReadOnlyWatch: @unchecked Sendable {
    private let sampler: Sampler<Bool>

    public init(pair: MariaDBPair, interval: Duration = .milliseconds(20)) {
        let sockets = pair.servers.map(\.socket)
        let login = MySQLLogin(defaultsFile: nil, connectTimeout: .seconds(1), readTimeout: .seconds(1))
        // The sampler's thread alone uses them.
        var connections: [MySQLConnection?] = [nil, nil]
        func writable(_ index: Int) -> Bool {
            if connections[index] == nil { connections[index] = try? MySQLConnection(.socket(sockets[index]), login: login) }
            guard let value = (try? connections[index]?.query("SELECT @@global.read_only AS ro"))??.first?["ro"].integer else {
                connections[index] = nil
                return false
            }
            return value == 0
        }
        sampler = Sampler(interval: interval) { _ in writable(0) && writable(1) && writable(0) }
    }

    public func stop() { sampler.stop() }

    /// How many samples were taken, and when both servers were writable.
    public var result: (samples: Int, bothWritable: [ContinuousClock.Instant]) {
        let samples = sampler.samples()
        return (samples.count, samples.filter(\.value).map(\.time))
    }
}
