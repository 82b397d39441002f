import Glibc
import Labs
import OCF
import OCFTesting

// fence_libvirt against fence_virsh (fence-agents 4.12), on the same TCG guest domain of a real
// libvirtd, through the same sshd on 127.0.0.1 with the same key and known_hosts file: status
// of a running domain, off (verified by both agents), on, and reboot, alternating the agents
// each round; every result checked through libvirt. fence_libvirt also on the hypervisor
// itself (qemu:///system), which fence_virsh cannot do.
struct FenceBench {
    let runs: Int

    enum Agent: String, CaseIterable {
        case virsh = "fence_virsh"
        case libvirtSSH = "fence_libvirt (qemu+ssh)"
        case libvirtPersist = "fence_libvirt (qemu+ssh, ssh_persist=120)"
        case libvirtLocal = "fence_libvirt (qemu:///system)"
    }

    func run() throws -> Int32 {
        let lab = try LibvirtLab(name: "bench")
        let guest = try lab.addGuest("n1")
        let sshd = try SSHServer(directory: lab.directory + "/sshd")
        let ours = FenceRunner(AgentRunner.path(of: "fence_libvirt"))
        let theirs = FenceRunner("/usr/sbin/fence_virsh")

        func options(_ agent: Agent, _ action: String) -> [(String, String)] {
            switch agent {
            case .virsh:
                // fence_virsh's own ssh_options, with the host key file added (it would otherwise
                // accept the unknown key and write it into root's known_hosts).
                return [("action", action), ("plug", guest.name), ("ip", "127.0.0.1"), ("ipport", "\(sshd.port)"), ("username", "root"),
                        ("identity_file", sshd.clientKey),
                        ("ssh_options", "-o UserKnownHostsFile=\(sshd.knownHosts) -t '/bin/bash -c \"PS1=\\\\[EXPECT\\\\]# /bin/bash --noprofile --norc\"'")]
            case .libvirtSSH:
                return [("action", action), ("port", guest.name), ("known_hosts", sshd.knownHosts),
                        ("uri", "qemu+ssh://root@127.0.0.1:\(sshd.port)/system?keyfile=\(sshd.clientKey)")]
            case .libvirtPersist:
                return [("action", action), ("port", guest.name), ("known_hosts", sshd.knownHosts), ("ssh_persist", "120"),
                        ("uri", "qemu+ssh://root@127.0.0.1:\(sshd.port)/system?keyfile=\(sshd.clientKey)")]
            case .libvirtLocal:
                return [("action", action), ("port", guest.name), ("uri", LibvirtLab.uri)]
            }
        }

        var samples: [String: [Double]] = [:]
        func measure(_ agent: Agent, _ action: String, expect status: Int32, check: () -> Bool) throws {
            let runner = agent == .virsh ? theirs : ours
            let result = try runner.run(options(agent, action))
            guard result.status == status, check() else {
                throw LabError("\(agent.rawValue) \(action): expected exit \(status) and the domain's state to match: \(result)")
            }
            samples["\(agent.rawValue) \(action)", default: []].append(milliseconds(result.elapsed))
        }

        // What the hypervisor itself takes, as a floor: virsh destroy and start on the host.
        var destroys: [Double] = []
        var starts: [Double] = []
        for _ in 0..<runs {
            for (command, into) in [("destroy", 0), ("start", 1)] {
                let started = ContinuousClock.now
                guard try lab.virsh([command, guest.name]).status == 0 else { throw LabError("virsh \(command)") }
                if into == 0 { destroys.append(milliseconds(.now - started)) } else { starts.append(milliseconds(.now - started)) }
            }
        }

        for round in 0..<runs {
            let order = round % 2 == 0 ? Agent.allCases : Agent.allCases.reversed()
            for agent in order {
                try measure(agent, "status", expect: 0) { true }
                try measure(agent, "off", expect: 0) { lab.state(guest) == "shut off" }
                try measure(agent, "status", expect: 2) { true }
                try measure(agent, "on", expect: 0) { lab.state(guest) == "running" }
                let before = lab.domainID(guest)
                try measure(agent, "reboot", expect: 0) { lab.state(guest) == "running" && lab.domainID(guest) != before }
            }
        }

        print("fence_libvirt vs fence_virsh, one TCG guest of a real libvirtd 9.0, sshd on 127.0.0.1, median of \(runs) runs each (ms, wall)\n")
        print("| action | fence_virsh | fence_libvirt qemu+ssh | ratio | qemu+ssh, ssh_persist=120 | ratio | qemu:///system | ratio | virsh destroy / start, locally |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        var ratios: [String: Double] = [:]
        for action in ["status", "off", "on", "reboot"] {
            let virsh = median(samples["fence_virsh \(action)"] ?? [])
            let cells = [Agent.libvirtSSH, .libvirtPersist, .libvirtLocal].map { agent in
                let value = median(samples["\(agent.rawValue) \(action)"] ?? [])
                ratios["\(agent.rawValue) \(action)"] = value / virsh
                return "\(format(value)) | 1/\(format(virsh / value))"
            }
            let hypervisor = action == "off" ? format(median(destroys)) : action == "on" ? format(median(starts)) : ""
            let name = action == "status" ? "status (on)" : action == "off" ? "off (verified)" : action
            print("| \(name) | \(format(virsh)) | \(cells.joined(separator: " | ")) | \(hypervisor) |")
        }
        let targets: [(String, Bool)] = [
            ("off in at most half of fence_virsh's time (qemu+ssh, ssh_persist=120)", (ratios["\(Agent.libvirtPersist.rawValue) off"] ?? 1) <= 0.5),
            ("status in at most a fifth of fence_virsh's time (qemu+ssh, ssh_persist=120)",
             (ratios["\(Agent.libvirtPersist.rawValue) status"] ?? 1) <= 0.2),
        ]
        print("")
        for (target, met) in targets { print("\(met ? "met" : "MISSED"): \(target)") }
        return targets.allSatisfy(\.1) ? 0 : 1
    }
}
