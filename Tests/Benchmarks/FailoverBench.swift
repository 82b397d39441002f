import Glibc
import Labs
import OCFTesting
import StateFiles

/// Seed 002's director pair failing over, Tandem against the stock stack (IPaddr2 + ldirectord
/// with the same check, the kernel's sync daemons on both nodes), in the same lab: two Pacemaker
/// directors with fencing, two web servers, a client sending a request every 20 ms and keeping
/// 10 connections open across each failover (synced to the standby before the crash).
///
/// Per stack: the agents' CPU while the pair only monitors (BENCH_MONITOR_WINDOW seconds, 120 by
/// default, scaled to an hour), then BENCH_FAILOVER_RUNS crashes of the active director (10 by
/// default): the client-seen outage, the part from the controller's start of the VIP to the
/// first answer, and the kept connections that still answer. The crashed director, powered off
/// by the fence device, is powered on again and rejoins before the next run.
struct FailoverBench {
    let runs = Int(getenv("BENCH_FAILOVER_RUNS").map { String(cString: $0) } ?? "") ?? 10
    let window = Int(getenv("BENCH_MONITOR_WINDOW").map { String(cString: $0) } ?? "") ?? 120
    let slow = PacemakerLab.slowness

    struct Result {
        var outages: [Double] = []          // s, client-seen
        var agentParts: [Double] = []       // s, from the start of the VIP to the first answer
        var kept = 0, survived = 0
        var cpuPerHour = Double.nan         // s of CPU per hour of monitoring
    }

    func run() throws -> Int32 {
        print("director pair failover (seed 002, LVS-DR), \(runs) crashes of the active director per stack; "
            + "monitoring CPU over \(window) s scaled to an hour\n")
        var results: [(String, Result?, String)] = []
        for stack in [DirectorPair.Stack.tandem, .stock] {
            let name = stack == .tandem ? "Tandem (vip + ipvs + healthcheck + ipvs-sync)" : "IPaddr2 + ldirectord (+ kernel sync daemons)"
            do {
                results.append((name, try measure(stack), ""))
            } catch {
                print("\(name): \(error)")
                results.append((name, nil, "\(error)"))
            }
        }
        print("\n| stack | outage p50 s | outage max s | VIP start → answer p50 s | max s | connections kept | agents' CPU s per hour |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for (name, result, error) in results {
            guard let result else { print("| \(name) | n/a | n/a | n/a | n/a | n/a | n/a (\(error)) |"); continue }
            let share = result.kept == 0 ? "n/a" : "\(result.survived) of \(result.kept) (\(format(100 * Double(result.survived) / Double(result.kept))) %)"
            print("| \(name) | \(format(median(result.outages))) | \(format(result.outages.max() ?? .nan)) | "
                + "\(format(median(result.agentParts))) | \(format(result.agentParts.max() ?? .nan)) | \(share) | \(format(result.cpuPerHour)) |")
        }
        return results.allSatisfy { $0.1 != nil } ? 0 : 1
    }

    func measure(_ stack: DirectorPair.Stack) throws -> Result {
        let pair = try DirectorPair(.directRouting, stack: stack, name: "failover-\(stack.rawValue)")
        defer { pair.down() }
        var active = try pair.waitServing(timeout: .seconds(180 * slow))
        var result = Result()

        // Monitoring only: the CPU of every agent run (the executors' reaped children) and of the
        // checkers' daemons, on both directors.
        let before = agentCPUTicks()
        let started = ContinuousClock.now
        sleep(for: .seconds(Int64(window)))
        let elapsed = milliseconds(started.duration(to: .now)) / 1000
        let ticks = Double(agentCPUTicks() - before) / Double(sysconf(Int32(_SC_CLK_TCK)))
        result.cpuPerHour = ticks * 3600 / elapsed
        print("\(stack.rawValue): agents' CPU \(format(ticks)) s in \(format(elapsed)) s of monitoring")
        fflush(nil)

        let stream = RequestStream(pair: pair)
        defer { stream.stop() }
        for run in 1...runs {
            let standby = pair.other(than: active)
            let kept = try pair.keptConnections(count: 10, syncedTo: standby, timeout: .seconds(20 * slow))
            let crashed = ContinuousClock.now
            try pair.lab.crash(active)
            guard let outage = stream.waitForOutage(after: crashed, timeout: .seconds(120 * slow)) else {
                throw LabError("run \(run): no answer after \(active) crashed")
            }
            let survivors = kept.filter { $0.request(timeout: .seconds(5 * slow)) != nil }.count
            result.outages.append(milliseconds(outage.duration) / 1000)
            result.kept += kept.count
            result.survived += survivors
            var part = "n/a"
            if let decided = pair.startInitiated(of: pair.vipResource, on: standby, after: outage.lastAnswer.secondsOfDay) {
                result.agentParts.append(outage.recovered.secondsOfDay - decided)
                part = format(outage.recovered.secondsOfDay - decided)
            }
            print("\(stack.rawValue) run \(run): \(active) crashed, outage \(format(milliseconds(outage.duration) / 1000)) s, "
                + "VIP start → answer \(part) s, \(survivors) of \(kept.count) connections kept")
            fflush(nil)   // progress through run-in-vm's pipe
            // Fenced (powered off), the crashed director is powered on again and rejoins as standby.
            try pair.lab.boot(active)
            if stack == .stock { try pair.startSyncDaemons(on: [active]) }
            active = try pair.waitServing(timeout: .seconds(180 * slow))
            guard active == standby else { throw LabError("run \(run): the group went back to \(active)") }
        }
        return result
    }

    /// CPU ticks of what runs the resource agents: every pacemaker-execd's reaped children (each
    /// agent run with what it started) and the checkers' daemons, lab-wide.
    func agentCPUTicks() -> Int {
        var total = 0
        for entry in listDirectory("/proc") where entry.first?.isNumber == true {
            guard let comm = readFile("/proc/\(entry)/comm")?.split(separator: "\n").first,
                  let stat = readFile("/proc/\(entry)/stat"), let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 14 else { continue }
            switch comm {
            case "pacemaker-execd": total += (13...14).compactMap { Int(fields[$0]) }.reduce(0, +)   // cutime, cstime
            case "healthcheckd", "ldirectord": total += (11...14).compactMap { Int(fields[$0]) }.reduce(0, +)
            default: continue
            }
        }
        return total
    }
}
