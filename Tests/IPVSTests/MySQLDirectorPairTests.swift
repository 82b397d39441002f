import Glibc
import Labs
import OCF
import OCFTesting
import Testing

/// Seed 004 end to end: `crm-examples/mysql-lvs-dr.crm` in a four-node Pacemaker lab with
/// fencing, a real IPVS kernel on the directors and a real MariaDB master-master pair on the
/// database nodes. The client writes through the rw VIP every 50 ms, each write on a new
/// connection, while both servers' read_only is polled every 20 ms. The writer's mysqld is
/// killed: mysql-mm promotes the other master, the rw services follow through their
/// `mysql_role=writer` check, no acknowledged row is lost, and read_only is never OFF on both.
@Suite(.serialized, .enabled(if: IPVSFacility.available && PacemakerLabFacility.available))
struct MySQLDirectorPairTests {
    let slow = PacemakerLab.slowness

    @Test func seed004WriterFailover() throws {
        let lab = try MySQLDirectorPair(name: "mysql-pair")
        defer { lab.down() }
        // A writer is elected and the rw VIP takes writes.
        var writer: Int?
        let served = waitUntil(deadline: .now + .seconds(240 * slow)) {
            writer = lab.writer
            guard let writer else { return false }
            return lab.write(note: "warm-up") == writer + 1
        }
        try #require(served, "no writer behind the rw VIP:\n\(lab.diagnostics())")
        let old = try #require(writer)
        let new = 1 - old
        print("seed 004: writer db\(old + 1) (\(MySQLDirectorPair.databases[old])), rw VIP writing")
        #expect(waitUntil(deadline: .now + .seconds(30 * slow)) { lab.read() != nil }, "the ro VIP answers reads")

        let watch = ReadOnlyWatch(pair: lab.pair)
        defer { watch.stop() }
        let stream = WriteStream(lab: lab)
        defer { stream.stop() }
        let began = ContinuousClock.now
        #expect(stream.waitForWrite(after: began, by: old + 1, timeout: .seconds(30 * slow)) != nil)
        sleep(for: .seconds(2))   // writes to look at before the crash, not a wait for a condition

        let killed = ContinuousClock.now
        lab.pair.servers[old].kill(signal: SIGKILL)
        let moved = stream.waitForWrite(after: killed, by: new + 1, timeout: .seconds(180 * slow))
        try #require(moved != nil, "no write reached db\(new + 1) after db\(old + 1)'s mysqld was killed:\n\(lab.diagnostics())")
        let outage = killed.duration(to: moved!.time)
        let failed = stream.outcomes(from: killed).prefix { $0.server == nil }.count
        print("seed 004: writer's mysqld killed; the rw VIP wrote on db\(new + 1) \(seconds(outage)) s later (\(failed) writes failed)")
        sleep(for: .seconds(2))   // writes after the failover, not a wait for a condition
        stream.stop()
        let after = stream.outcomes(from: moved!.time)
        #expect(after.allSatisfy { $0.server == new + 1 || $0.server == nil }, "every write after the failover on db\(new + 1)")
        #expect(lab.pair.readOnly(new) == false)

        // Rows the old writer committed but had not sent are on the new writer once it is back.
        let missing = stream.acknowledged.subtracting(try lab.notes(on: new))
        print("seed 004: \(stream.acknowledged.count) writes acknowledged; \(missing.count) not on the new writer before the old one restarted")
        try lab.pair.servers[old].start()
        #expect(lab.pair.readOnly(old) == true, "a restarted master comes up read-only (my.cnf)")
        try lab.pair.waitUntilReplicating(within: .seconds(60 * slow))
        try lab.pair.waitInSync(within: .seconds(60 * slow))
        let lost = stream.acknowledged.subtracting(try lab.notes(on: new))
        #expect(lost.isEmpty, "acknowledged writes missing on the new writer: \(lost.sorted().prefix(5))")
        #expect(try lab.notes(on: old) == (try lab.notes(on: new)), "both masters hold the same rows")

        // The old writer's instance rejoins unpromoted after a cleanup.
        _ = try lab.lab.exec("node1", ["crm_resource", "--cleanup", "--resource", "mysql-mm-clone"])
        #expect(waitUntil(deadline: .now + .seconds(120 * slow)) {
            lab.crmMon().contains("Unpromoted: [ \(MySQLDirectorPair.databases[old]) ]")
        }, "\(lab.crmMon())")
        #expect(lab.writer == new)

        watch.stop()
        let (samples, both) = watch.result
        print("seed 004: read_only polled \(samples) times on both servers; both writable \(both.count) times")
        #expect(samples > 100 && both.isEmpty, "read_only OFF on both servers \(both.count) times")
    }
}
