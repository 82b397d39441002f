import Glibc
import Labs
import OCF
import OCFTesting

// Seed 004 under Pacemaker (crm-examples/mysql-lvs-dr.crm, four lab nodes, real IPVS and
// MariaDB): the writer's mysqld is killed, `rounds` times, alternating masters; each time, how
// long until a write through the rw VIP commits on the other master, how many writes failed
// meanwhile, whether every acknowledged write is there once the old master is back, and
// whether read_only was ever OFF on both (polled every 20 ms).
struct MySQLFailoverBench {
    let rounds = Int(getenv("BENCH_ROUNDS").map { String(cString: $0) } ?? "") ?? 5

    func run() throws -> Int32 {
        let slow = PacemakerLab.slowness
        let lab = try MySQLDirectorPair(name: "bench-mysql-failover")
        defer { lab.down() }
        guard waitUntil(deadline: .now + .seconds(240 * slow), { lab.writer.map { lab.write(note: "warm-up") == $0 + 1 } ?? false }) else {
            print("no writer behind the rw VIP:\n\(lab.diagnostics())")
            return 1
        }
        let watch = ReadOnlyWatch(pair: lab.pair)
        var outages: [Double] = []
        var failedWrites: [Int] = []
        var lost = 0
        for round in 1...rounds {
            guard let old = lab.writer else { print("round \(round): no single writer"); return 1 }
            let new = 1 - old
            let stream = WriteStream(lab: lab)
            let began = ContinuousClock.now
            guard stream.waitForWrite(after: began, by: old + 1, timeout: .seconds(30 * slow)) != nil else {
                print("round \(round): no write on the writer"); return 1
            }
            let killed = ContinuousClock.now
            lab.pair.servers[old].kill(signal: SIGKILL)
            guard let moved = stream.waitForWrite(after: killed, by: new + 1, timeout: .seconds(180 * slow)) else {
                print("round \(round): no write on db\(new + 1):\n\(lab.diagnostics())"); return 1
            }
            stream.stop()
            outages.append(milliseconds(killed.duration(to: moved.time)) / 1000)
            failedWrites.append(stream.outcomes(from: killed).prefix { $0.server == nil }.count)
            try lab.pair.servers[old].start()
            try lab.pair.waitUntilReplicating(within: .seconds(60 * slow))
            try lab.pair.waitInSync(within: .seconds(60 * slow))
            lost += stream.acknowledged.subtracting(try lab.notes(on: new)).count
            _ = try lab.lab.exec("node1", ["crm_resource", "--cleanup", "--resource", "mysql-mm-clone"])
            let node = MySQLDirectorPair.databases[old]
            guard waitUntil(deadline: .now + .seconds(120 * slow), { lab.crmMon().contains("Unpromoted: [ \(node) ]") }) else {
                print("round \(round): \(node) did not rejoin:\n\(lab.crmMon())"); return 1
            }
            print("round \(round): db\(old + 1)'s mysqld killed; writes on db\(new + 1) after \(format(outages.last!)) s, \(failedWrites.last!) writes failed")
            fflush(nil)
        }
        watch.stop()
        let (samples, both) = watch.result
        print("\nseed 004 under Pacemaker (emulated guest, 2 vCPUs): the writer's mysqld killed \(rounds) times\n")
        print("| writer crash → rw VIP writes on the other master, p50 s | max s | writes failed per crash (p50, every 50 ms) | acknowledged writes lost | read_only OFF on both (of \(samples) polls) |")
        print("|---:|---:|---:|---:|---:|")
        print("| \(format(median(outages))) | \(format(outages.max() ?? .nan)) | \(format(median(failedWrites.map(Double.init)))) | \(lost) | \(both.count) |")
        return lost == 0 && both.isEmpty ? 0 : 1
    }
}
