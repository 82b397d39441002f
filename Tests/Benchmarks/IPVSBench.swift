import Addresses
import Glibc
import LVS
import Labs
import Netlink
import OCF
import OCFTesting

// ipvs against ipvsadm, in a throw-away namespace of a kernel with IPVS:
// - monitor of one service (its get and its real-server dump) against `ipvsadm -Ln -t SERVICE`
//   (the same service: the same work) and against `ipvsadm -Ln` (the whole table, what
//   ldirectord reads), with 1, 100 and 1000 services of 4 real servers in the table;
// - applying one service with 1000 real servers: `ipvs start` against `ipvsadm -R` fed the same
//   service and real servers.
// Under TCG emulation absolute times are slow; the ratios are what carries over.

struct IPVSBench {
    let runs: Int
    let state = "/tmp/tandem-ipvs-bench-\(getpid())"

    struct Sample {
        var cpu: [Double] = []
        var wall: [Double] = []
        mutating func add(_ cpuTime: Duration, _ elapsed: Duration) {
            cpu.append(milliseconds(cpuTime))
            wall.append(milliseconds(elapsed))
        }
    }

    func run() throws -> Int32 {
        let namespace = try NetworkNamespace.create()
        // The kernel takes only destinations its routing calls unicast: not with lo down.
        try RouteSocket(in: namespace).setLink(.loopback, up: true)
        let table = try IPVSSocket(in: namespace)
        print("ipvs vs ipvsadm in a kernel with IPVS, median of \(runs) runs (ms)\n")
        print("| what | ipvs CPU | ipvsadm CPU | ipvs wall | ipvsadm wall | wall ratio |")
        print("|---|---:|---:|---:|---:|---:|")
        var monitorRatioAt1000 = Double.nan
        for count in [1, 100, 1000] {
            try flush(table)
            let services = try populate(table, services: count)
            let first = services[0]
            var agent = Sample(), oneService = Sample(), wholeTable = Sample()
            let endpoint = String(first.service.drop { $0 != ":" }.dropFirst())
            for _ in 0..<runs {
                try measure(&agent, agentCommand("monitor", service: first.service, realservers: first.realservers), in: namespace)
                try measure(&oneService, Command("ipvsadm", ["-Ln", "-t", endpoint]), in: namespace)
                try measure(&wholeTable, Command("ipvsadm", ["-Ln"]), in: namespace)
            }
            let rows = [(oneService, "ipvsadm -Ln -t SERVICE (the same service)", false),
                        (wholeTable, "ipvsadm -Ln (the whole table)", true)]
            for (tool, what, isWholeTable) in rows {
                let ratio = median(tool.wall) / median(agent.wall)
                if count == 1000 && isWholeTable { monitorRatioAt1000 = ratio }
                print("| monitor vs \(what), \(count) × 4 in the table | \(format(median(agent.cpu))) | \(format(median(tool.cpu))) | "
                    + "\(format(median(agent.wall))) | \(format(median(tool.wall))) | 1/\(format(ratio)) |")
            }
        }

        try flush(table)
        let service = "tcp:10.9.9.9:80"
        let addresses = (0..<1000).map { "10.2.\($0 / 250).\($0 % 250 + 1)" }
        let realservers = addresses.map { "\($0) gate" }.joined(separator: ", ")
        var restore = "-A -t 10.9.9.9:80 -s wlc\n"
        for address in addresses { restore += "-a -t 10.9.9.9:80 -r \(address):80 -g -w 1\n" }
        var agent = Sample(), tool = Sample()
        for _ in 0..<runs {
            try measure(&agent, agentCommand("start", service: service, realservers: realservers), in: namespace)
            guard try table.destinations(of: ServiceSpec(parsing: service).identity).count == 1000 else {
                print("ipvs start did not create 1000 real servers")
                return 1
            }
            try flush(table)
            try measure(&tool, Command("ipvsadm", ["-R"], input: Array(restore.utf8)), in: namespace)
            guard try table.destinations(of: ServiceSpec(parsing: service).identity).count == 1000 else {
                print("ipvsadm -R did not create 1000 real servers")
                return 1
            }
            try flush(table)
        }
        let applyRatio = median(tool.wall) / median(agent.wall)
        print("| apply 1 service × 1000 real servers (start vs -R) | \(format(median(agent.cpu))) | \(format(median(tool.cpu))) | "
            + "\(format(median(agent.wall))) | \(format(median(tool.wall))) | 1/\(format(applyRatio)) |")

        let targets = [
            ("ipvs monitor at 1000 × 4 no slower than ipvsadm -Ln", monitorRatioAt1000 >= 1),
            ("applying 1000 real servers at least 5× faster than ipvsadm -R", applyRatio >= 5),
        ]
        print("")
        for (target, met) in targets { print("\(met ? "met" : "MISSED"): \(target)") }
        return targets.allSatisfy(\.1) ? 0 : 1
    }

    func agentCommand(_ action: String, service: String, realservers: String) -> Command {
        var environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_RESOURCE_INSTANCE": "bench", "HA_RSCTMP": state,
                           "OCF_RESKEY_CRM_meta_timeout": "120000", "OCF_RESKEY_service": service,
                           "OCF_RESKEY_realservers": realservers]
        if action == "monitor" { environment["OCF_RESKEY_CRM_meta_interval"] = "10000" }
        return Command(AgentRunner.path(of: "ipvs"), [action], environment: environment)
    }

    func measure(_ sample: inout Sample, _ command: Command, in namespace: NetworkNamespace) throws {
        let started = ContinuousClock.now
        let (result, cpu) = try childCPUTime { try command.run(in: namespace, deadline: .now + .seconds(600)) }
        let elapsed = started.duration(to: .now)
        guard result.status == 0 else { throw LabError("\(command.executable) \(command.arguments.first ?? ""): \(result.errorOutput)") }
        sample.add(cpu, elapsed)
    }

    /// `count` services of 4 real servers each; returns their configuration in parameter form.
    func populate(_ table: IPVSSocket, services count: Int) throws -> [(service: String, realservers: String)] {
        var operations: [IPVSOperation] = []
        var configured: [(String, String)] = []
        for index in 0..<count {
            let spec = try ServiceSpec(parsing: "tcp:10.1.\(index / 250).\(index % 250 + 1):80")
            let realservers = (1...4).map { "192.168.\(index % 250).\($0) gate" }.joined(separator: ", ")
            operations.append(.addService(IPVSService(identity: spec.identity, scheduler: "wlc")))
            operations += try RealServers.parse(realservers, for: spec).map { .addDestination(spec.identity, $0) }
            configured.append((spec.description, realservers))
        }
        if let failure = try table.apply(operations).compactMap({ $0 }).first { throw LabError("populating the table: \(failure)") }
        return configured
    }

    func flush(_ table: IPVSSocket) throws {
        let services = try table.services()
        if let failure = try table.apply(services.map { .deleteService($0.identity) }).compactMap({ $0 }).first {
            throw LabError("emptying the table: \(failure)")
        }
        _ = try? StateFile(path: state + "/ipvs-bench").remove()
    }
}
