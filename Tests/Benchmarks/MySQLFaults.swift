import Glibc
import Labs
import MySQLClient
import MySQLReplication
import OCF
import OCFTesting

// The faults of mysql-mm's reliability work, against ocf:heartbeat:mysql's answer to the same
// on the same pair: a demote of the writer while a session holds LOCK TABLES … WRITE (a
// backup's --lock-tables), and monitor then demote of a writer whose socket file was removed
// while mysqld runs on (its TCP port open). What matters: how long, and whether the server is
// read-only afterwards (a demote that leaves it writable makes two writers).
extension MySQLBench {
    struct FaultOutcome {
        let status: Int32
        let milliseconds: Double
        let readOnly: Bool?
        var cell: String {
            let state = readOnly.map { $0 ? "read-only" : "**writable**" } ?? "not answering"
            return "\(status) after \(format(milliseconds)) ms, \(state)"
        }
    }

    func faults(_ pair: MariaDBPair, tandem: [AgentRunner], attributes: [RecordedAttributes]) throws -> [(String, Bool)] {
        let writer = 0
        func readOnly(socket: String) -> Bool? {
            let login = MySQLLogin(defaultsFile: nil, connectTimeout: .seconds(3), readTimeout: .seconds(3))
            return try? ServerState.read(MySQLConnection(.socket(socket), login: login)).readOnly
        }
        func open(socket: String) throws {
            let login = MySQLLogin(defaultsFile: nil, connectTimeout: .seconds(3), readTimeout: .seconds(3))
            try MySQLConnection(.socket(socket), login: login).query("SET GLOBAL read_only = OFF")
        }
        func timed(_ body: () throws -> Int32) rethrows -> (Int32, Double) {
            let started = ContinuousClock.now
            let status = try body()
            return (status, milliseconds(started.duration(to: .now)))
        }
        func holdLock() throws -> RunningCommand {
            let holder = try Command("/usr/bin/mariadb", ["--defaults-file=\(pair.appCredentials)", "-S", pair.servers[writer].socket, "-e",
                                                          "LOCK TABLES lab.t WRITE; SELECT SLEEP(600)"]).start()
            let held = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(600)'"
            guard waitUntil(deadline: .now + .seconds(10), { pair.value(writer, held) == "1" }) else { throw LabError("no lock holder") }
            return holder
        }
        func releaseLocks() {
            let ids = (try? pair.sql(writer, "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(600)'")) ?? ""
            for id in ids.split(separator: "\n") { _ = try? pair.sql(writer, "KILL \(id)") }
        }
        let socket = pair.servers[writer].socket
        /// heartbeat:mysql's demote as Pacemaker runs it with notify=true, which that agent needs:
        /// the pre-demote notification sets read_only and kills the clients, then demote.
        func theirDemote() throws -> Int32 {
            var names = utsname()
            uname(&names)
            let node = withUnsafeBytes(of: names.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let notify = try heartbeat("notify", pair, writer, role: "writer", attributes: attributes[writer], extra: [
                "CRM_meta_notify_type": "pre", "CRM_meta_notify_operation": "demote", "CRM_meta_notify_demote_uname": node,
            ])
            let demote = try heartbeat("demote", pair, writer, role: "writer", attributes: attributes[writer])
            return notify.status != 0 ? notify.status : demote.status
        }

        // A demote behind a table lock, each agent with the same 30 s operation timeout.
        try open(socket: socket)
        var holder = try holdLock()
        let (ours, ourTime) = try timed { try tandem[writer].run("demote", pair.parameters(writer), timeout: .seconds(30)).status }
        let oursLock = FaultOutcome(status: ours, milliseconds: ourTime, readOnly: readOnly(socket: socket))
        releaseLocks()
        _ = holder.wait(deadline: .now + .seconds(10))
        try open(socket: socket)
        holder = try holdLock()
        let (theirs, theirTime) = try timed { try theirDemote() }
        let theirsLock = FaultOutcome(status: theirs, milliseconds: theirTime, readOnly: readOnly(socket: socket))
        releaseLocks()
        _ = holder.wait(deadline: .now + .seconds(10))

        // The socket file removed (moved aside, to put it back), mysqld running on, writable.
        let hidden = socket + ".moved"
        try open(socket: socket)
        rename(socket, hidden)
        defer { rename(hidden, socket) }
        let (ourMonitor, _) = try timed { try tandem[writer].run("monitor", pair.parameters(writer)).status }
        let (ourDemote, ourDemoteTime) = try timed { try tandem[writer].run("demote", pair.parameters(writer)).status }
        let oursSocket = FaultOutcome(status: ourDemote, milliseconds: ourDemoteTime, readOnly: readOnly(socket: hidden))
        try open(socket: hidden)
        let (theirMonitor, _) = try timed { try heartbeat("monitor", pair, writer, role: "writer", attributes: attributes[writer]).status }
        let (theirDemote, theirDemoteTime) = try timed { try theirDemote() }
        let theirsSocket = FaultOutcome(status: theirDemote, milliseconds: theirDemoteTime, readOnly: readOnly(socket: hidden))

        print("\nFaults on the writer, each agent with a 30 s operation timeout (exit status, time, the server afterwards; heartbeat:mysql's")
        print("demote is its pre-demote notification, which sets read_only and kills the clients, then its demote; the first that fails):\n")
        print("| fault | mysql-mm | heartbeat:mysql |")
        print("|---|---|---|")
        print("| demote while a session holds LOCK TABLES … WRITE | \(oursLock.cell) | \(theirsLock.cell) |")
        print("| monitor, the socket file removed, mysqld running | \(ourMonitor) | \(theirMonitor) |")
        print("| demote, the socket file removed, mysqld running | \(oursSocket.cell) | \(theirsSocket.cell) |")
        return [
            ("mysql-mm's demote behind a table lock leaves the writer read-only", oursLock.status == 0 && oursLock.readOnly == true),
            ("mysql-mm's demote with the socket file gone leaves the writer read-only", oursSocket.status == 0 && oursSocket.readOnly == true),
        ]
    }
}
