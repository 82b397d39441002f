import Addresses
import Glibc
import Labs
import Netlink
import OCF
import OCFTesting

// vip against ocf:heartbeat:IPaddr2: monitor, start and stop, CPU (user + system of the agent
// and every process it waited for, from wait4) and wall time, median of `runs` runs each; and
// how long after start begins the first gratuitous ARP is on the wire (kernel receive
// timestamp on the peer).

/// Both agents are spawned inside the lab's local namespace; the peer captures the frames.
struct VIPBench {
    let lab: VethLab
    let runs: Int
    let address = "198.18.0.50"
    let state = "/tmp/tandem-bench-\(getpid())"

    struct Agent {
        let name: String
        let path: String
        let parameters: [String: String]
    }

    func run() -> Int32 {
        let vip = Agent(name: "vip", path: AgentRunner.path(of: "vip"),
                        parameters: ["ip": address, "cidr_netmask": "24", "nic": "lab0"])
        let ipaddr2 = Agent(name: "IPaddr2", path: "/usr/lib/ocf/resource.d/heartbeat/IPaddr2",
                            parameters: ["ip": address, "cidr_netmask": "24", "nic": "lab0"])
        var samples: [String: [String: [Duration]]] = [:]
        var wall: [String: [String: [Duration]]] = [:]
        var announcements: [String: [Double]] = [:]
        do {
            let capture = try AnnouncementCapture(in: lab.peer, interface: lab.peerInterface)
            for _ in 0..<runs {
                // Alternate the agents so both see the same machine load.
                for agent in [vip, ipaddr2] {
                    for action in ["start", "monitor", "stop"] {
                        let began = realTimeNanoseconds()
                        let started = ContinuousClock.now
                        let (result, cpu) = try childCPUTime { try invoke(agent, action) }
                        let elapsed = started.duration(to: .now)
                        guard result.status == 0 else {
                            print("\(agent.name) \(action) failed (\(result.status)): \(result.errorOutput)")
                            return 1
                        }
                        samples[agent.name, default: [:]][action, default: []].append(cpu)
                        wall[agent.name, default: [:]][action, default: []].append(elapsed)
                        if action == "start" {
                            let frames = try capture.collect(of: IPAddress(address)!, count: 1, deadline: .now + .seconds(3))
                            if let first = frames.first { announcements[agent.name, default: []].append(Double(first.receivedAt - began) / 1e6) }
                        }
                        if action == "stop" {
                            // The next start must meet a quiet wire: IPaddr2's send_arp goes on after its stop.
                            let quietBy = ContinuousClock.now + .seconds(15)
                            while ContinuousClock.now < quietBy,
                                  try !capture.collect(of: IPAddress(address)!, count: 1, deadline: .now + .milliseconds(1100)).isEmpty {}
                        }
                    }
                }
            }
        } catch {
            print("tandem-bench: \(error)")
            return 1
        }
        return report(samples: samples, wall: wall, announcements: announcements)
    }

    func invoke(_ agent: Agent, _ action: String) throws -> Command.Result {
        var environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf",
                           "OCF_RESOURCE_INSTANCE": "bench-\(agent.name)", "HA_RSCTMP": state,
                           "OCF_RESKEY_CRM_meta_timeout": "20000"]
        if action == "monitor" { environment["OCF_RESKEY_CRM_meta_interval"] = "10000" }
        for (name, value) in agent.parameters { environment["OCF_RESKEY_" + name] = value }
        return try Command(agent.path, [action], environment: environment).run(in: lab.local, deadline: .now + .seconds(30))
    }

    func report(samples: [String: [String: [Duration]]], wall: [String: [String: [Duration]]],
                announcements: [String: [Double]]) -> Int32 {
        print("vip vs ocf:heartbeat:IPaddr2, same namespace and address, median of \(runs) runs (ms)\n")
        print("| action | vip CPU | IPaddr2 CPU | CPU ratio | vip wall | IPaddr2 wall | wall ratio |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        var medians: [String: (cpu: Double, wall: Double)] = [:]
        for action in ["monitor", "start", "stop"] {
            var row: [String: (Double, Double)] = [:]
            for agent in ["vip", "IPaddr2"] {
                let cpu = median(samples[agent]?[action]?.map(milliseconds) ?? [])
                let time = median(wall[agent]?[action]?.map(milliseconds) ?? [])
                row[agent] = (cpu, time)
            }
            let (vipCPU, vipWall) = row["vip"] ?? (.nan, .nan)
            let (oldCPU, oldWall) = row["IPaddr2"] ?? (.nan, .nan)
            medians[action] = (vipCPU, vipWall)
            print("| \(action) | \(format(vipCPU)) | \(format(oldCPU)) | 1/\(format(oldCPU / vipCPU)) | \(format(vipWall)) | \(format(oldWall)) | 1/\(format(oldWall / vipWall)) |")
        }
        let vipARP = median(announcements["vip"] ?? [])
        let oldARP = median(announcements["IPaddr2"] ?? [])
        print("| first gratuitous ARP after start begins | | | | \(format(vipARP)) | \(format(oldARP)) | 1/\(format(oldARP / vipARP)) |")

        let oldMonitorCPU = median(samples["IPaddr2"]?["monitor"]?.map(milliseconds) ?? [])
        let targets: [(String, Bool)] = [
            ("vip monitor CPU at most 1/10 of IPaddr2's", (medians["monitor"]?.cpu ?? .infinity) * 10 <= oldMonitorCPU),
            ("vip monitor wall at most 5 ms", (medians["monitor"]?.wall ?? .infinity) <= 5),
            ("first gratuitous ARP at most 20 ms after start begins", vipARP <= 20),
        ]
        print("")
        for (target, met) in targets { print("\(met ? "met" : "MISSED"): \(target)") }
        return targets.allSatisfy(\.1) ? 0 : 1
    }
}


