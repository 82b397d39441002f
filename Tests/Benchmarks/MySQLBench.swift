import Glibc
import Labs
import OCF
import OCFTesting

// mysql-mm against ocf:heartbeat:mysql in replication mode (promotable, OCF_CHECK_LEVEL=10 with
// a test table, so it really looks at replication), on the same real MariaDB pair: monitor
// CPU (the agent and every process it waited for) and wall time, on the writer and on the
// replica, and the server's CPU per monitor; then mysql-mm's promote when caught up. Both
// agents publish through the same stand-ins for attrd_updater and crm_attribute (a static
// program recording into a file): there is no cluster to tell.
struct MySQLBench {
    let runs: Int
    let rounds = 20

    struct Sample {
        var cpu: [Double] = []
        var wall: [Double] = []
        var server: [Double] = []
    }

    func run() throws -> Int32 {
        let pair = try MariaDBPair(name: "bench")
        try pair.sql(0, "CREATE USER 'hbtest'@'%' IDENTIFIED BY '\(pair.password)'; GRANT SELECT ON lab.* TO 'hbtest'@'%'")
        try pair.waitInSync()
        let attributes = try (1...2).map { try RecordedAttributes(directory: "\(pair.directory)/attributes\($0)") }
        let tandem = (0...1).map { pair.agent($0, environment: attributes[$0].environment) }
        // The same instance outside a clone: no attribute tools run, the agent alone.
        let alone = (0...1).map { pair.agent($0) }
        for index in 0...1 { guard try tandem[index].run("start", pair.parameters(index)).status == 0 else { throw LabError("start") } }
        guard try tandem[0].run("promote", pair.parameters(0)).status == 0 else { throw LabError("promote") }

        var samples: [String: Sample] = [:]
        for _ in 0..<runs {
            for (role, index) in [("writer", 0), ("replica", 1)] {
                for agent in ["mysql-mm", "mysql-mm alone", "heartbeat:mysql"] {
                    let serverBefore = serverCPU(pair)
                    let started = ContinuousClock.now
                    let (result, cpu) = try childCPUTime {
                        agent == "heartbeat:mysql"
                            ? try heartbeat("monitor", pair, index, role: role, attributes: attributes[index])
                            : try (agent == "mysql-mm" ? tandem : alone)[index].command("monitor", pair.parameters(index))
                                .run(in: pair.namespaces[index], deadline: .now + .seconds(30))
                    }
                    let wall = started.duration(to: .now)
                    let expected: Int32 = role == "writer" ? 8 : 0
                    guard result.status == expected else {
                        print("\(agent) monitor of the \(role) returned \(result.status), not \(expected): \(result.errorOutput)")
                        return 1
                    }
                    let key = agent + " " + role
                    samples[key, default: Sample()].cpu.append(milliseconds(cpu))
                    samples[key, default: Sample()].wall.append(milliseconds(wall))
                    samples[key, default: Sample()].server.append(serverCPU(pair) - serverBefore)
                }
            }
        }

        // Promote when caught up: demote the writer, wait until the other applied everything, promote it.
        var promotes: [Double] = []
        var writer = 0
        for round in 0..<rounds {
            try pair.sql(writer, "INSERT INTO lab.t (node, note) VALUES (\(writer + 1), 'round \(round)')")
            guard try tandem[writer].run("demote", pair.parameters(writer)).status == 0 else { throw LabError("demote") }
            try pair.waitInSync()
            let other = 1 - writer
            let started = ContinuousClock.now
            let promote = try tandem[other].run("promote", pair.parameters(other))
            promotes.append(milliseconds(started.duration(to: .now)))
            guard promote.status == 0 else { throw LabError("promote: \(promote)") }
            writer = other
        }

        print("mysql-mm vs ocf:heartbeat:mysql (replication mode, OCF_CHECK_LEVEL=10), one MariaDB 10.11 pair, median of \(runs) monitors each (ms)\n")
        print("| monitor of | mysql-mm CPU | heartbeat:mysql CPU | CPU ratio | mysql-mm wall | heartbeat:mysql wall | wall ratio | mysql-mm alone: CPU | wall | server CPU per monitor: mysql-mm | heartbeat:mysql |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        var ratios: [Double] = []
        for role in ["writer", "replica"] {
            let ours = samples["mysql-mm " + role] ?? Sample(), theirs = samples["heartbeat:mysql " + role] ?? Sample()
            let bare = samples["mysql-mm alone " + role] ?? Sample()
            let (cpu, oldCPU) = (median(ours.cpu), median(theirs.cpu))
            let (wall, oldWall) = (median(ours.wall), median(theirs.wall))
            ratios.append(oldCPU / cpu)
            // The server's CPU in clock ticks: the total over every run, per monitor.
            func perMonitor(_ sample: Sample) -> Double { sample.server.reduce(0, +) / Double(max(1, sample.server.count)) }
            print("| \(role) | \(format(cpu)) | \(format(oldCPU)) | 1/\(format(oldCPU / cpu)) | \(format(wall)) | \(format(oldWall)) | 1/\(format(oldWall / wall)) | \(format(median(bare.cpu))) | \(format(median(bare.wall))) | \(format(perMonitor(ours))) | \(format(perMonitor(theirs))) |")
        }
        print("\n(mysql-mm alone: outside a clone, publishing nothing; both agents otherwise run the same attribute stand-ins, two calls per monitor)")
        let promote = median(promotes)
        print("\nmysql-mm promote when caught up (the agent's process, peer check included): median \(format(promote)) ms, max \(format(promotes.max() ?? .nan)) ms over \(rounds) switch-overs")
        // Back to db1 as the writer for the faults.
        if writer != 0 {
            _ = try tandem[writer].run("demote", pair.parameters(writer))
            try pair.waitInSync()
            guard try tandem[0].run("promote", pair.parameters(0)).status == 0 else { throw LabError("promote db1") }
        }
        let faultTargets = try faults(pair, tandem: tandem, attributes: attributes)
        let targets: [(String, Bool)] = [
            ("mysql-mm monitor CPU at most 1/10 of ocf:heartbeat:mysql's", ratios.allSatisfy { $0 >= 10 }),
            ("promote under 100 ms when caught up", promote < 100),
        ] + faultTargets
        print("")
        for (target, met) in targets { print("\(met ? "met" : "MISSED"): \(target)") }
        return targets.allSatisfy(\.1) ? 0 : 1
    }

    /// An action of resource-agents' mysql as Pacemaker runs it for a promotable clone instance
    /// (its 30 s timeout: a hung action is killed then, as Pacemaker would).
    func heartbeat(_ action: String, _ pair: MariaDBPair, _ index: Int, role: String, attributes: RecordedAttributes,
                   extra: [String: String] = [:]) throws -> Command.Result {
        let directory = pair.servers[index].directory
        var environment = [
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf", "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1",
            "OCF_RESOURCE_INSTANCE": "bench-mysql", "OCF_RESOURCE_TYPE": "mysql", "OCF_RESOURCE_PROVIDER": "heartbeat",
            "OCF_EXIT_REASON_PREFIX": "ocf-exit-reason:", "OCF_CHECK_LEVEL": "10", "HA_RSCTMP": pair.directory,
            // crm_attribute by absolute path from HA_SBIN_DIR: the stand-in.
            "HA_SBIN_DIR": attributes.directory, "TANDEM_RECORDED_ATTRIBUTES": attributes.file,
        ]
        var meta = ["crm_feature_set": "3.16.1", "CRM_meta_timeout": "30000",
                    "CRM_meta_role": role == "writer" ? "Promoted" : "Unpromoted", "CRM_meta_name": action,
                    "CRM_meta_clone": String(index), "CRM_meta_clone_max": "2", "CRM_meta_clone_node_max": "1",
                    "CRM_meta_globally_unique": "false", "CRM_meta_notify": "true", "CRM_meta_promotable": "true",
                    "CRM_meta_promoted_max": "1", "CRM_meta_promoted_node_max": "1", "CRM_meta_master_max": "1", "CRM_meta_master_node_max": "1",
                    "binary": "/usr/sbin/mariadbd", "client_binary": "/usr/bin/mysql", "config": directory + "/my.cnf",
                    "datadir": directory + "/data", "pid": directory + "/mysqld.pid", "socket": pair.servers[index].socket,
                    "log": directory + "/error.log", "user": "root", "group": "root", "test_user": "hbtest", "test_passwd": pair.password,
                    "test_table": "lab.t", "replication_user": "agent", "replication_passwd": pair.password, "max_slave_lag": "60",
                    "evict_outdated_slaves": "false", "reader_attribute": "readable"]
        if action == "monitor" { meta["CRM_meta_interval"] = role == "writer" ? "9000" : "10000" }
        meta.merge(extra) { $1 }
        for (name, value) in meta { environment["OCF_RESKEY_" + name] = value }
        return try Command("/usr/lib/ocf/resource.d/heartbeat/mysql", [action], environment: environment)
            .run(in: pair.namespaces[index], deadline: .now + .seconds(30))
    }

    /// Both mariadbd's CPU so far (user + system), in ms.
    func serverCPU(_ pair: MariaDBPair) -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return pair.servers.compactMap(\.pid).reduce(0) { total, pid in
            guard let stat = readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return total }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return total }
            return total + (user + system) * 1000 / ticks
        }
    }
}
