import Addresses
import Glibc
import Labs
import Netlink
import OCF
import OCFTesting
import Testing

/// ocf:tandem:vip against real netlink, in throw-away namespaces joined by a veth pair: the
/// agent acts in the local namespace; the peer receives its announcements and reaches the VIP.
@Suite(.serialized, .enabled(if: Facilities.ready))
struct VIPIntegrationTests {
    static let state = "/tmp/tandem-it-\(getpid())"

    func lab() throws -> VethLab {
        try VethLab(localAddresses: ["198.18.0.1/24", "2001:db8::1/64"],
                    peerAddresses: ["198.18.0.2/24", "2001:db8::2/64"])
    }

    func agent(_ lab: VethLab, instance: String = "vip") -> AgentRunner {
        AgentRunner(agent: "vip", namespace: lab.local, instance: instance, stateDirectory: Self.state)
    }

    func localMAC(_ lab: VethLab) throws -> MACAddress {
        try #require(try RouteSocket(in: lab.local).link(named: lab.localInterface)?.macAddress)
    }

    @Test func ipv4StartAnnounceReachMonitorStop() throws {
        let lab = try lab()
        let vip = IPAddress("198.18.0.50")!
        let before = try lab.localAddresses()
        let capture = try AnnouncementCapture(in: lab.peer, interface: lab.peerInterface)
        let responder = try TCPResponder(in: lab.local, address: vip, port: 8080, name: "hello from 198.18.0.50")
        var agent = agent(lab)
        let parameters = ["ip": "198.18.0.50", "arp_count": "3", "arp_interval_ms": "50"]

        #expect(try agent.run("monitor", parameters, interval: 0).exitCode == .notRunning, "probe before start")
        let start = try agent.run("start", parameters)
        #expect(start.exitCode == .success, "\(start)")

        // nic and prefix came from the connected route: lab0, /24, with the subnet broadcast.
        let held = try #require(try lab.localAddresses().first { $0.address == vip })
        #expect(held.prefixLength == 24)
        #expect(held.broadcast == IPv4Address("198.18.0.255"))

        let frames = try capture.collect(of: vip, count: 3, deadline: .now + .seconds(5))
        #expect(frames.count == 3, "three gratuitous ARP rounds")
        let mac = try localMAC(lab)
        for frame in frames {
            #expect(frame.kind == .arpRequest && frame.senderMAC == mac && frame.destinationMAC == .broadcast)
        }
        #expect(try capture.collect(of: vip, count: 1, deadline: .now + .milliseconds(500)).isEmpty, "no fourth round")

        let greeting = try TCPConnection.greeting(from: lab.peer, to: vip, port: 8080, deadline: .now + .seconds(10))
        #expect(greeting == responder.name)

        #expect(try agent.run("monitor", parameters).exitCode == .success)
        #expect(try agent.run("monitor", parameters, interval: 0).exitCode == .success, "probe while running")
        agent.environment["OCF_CHECK_LEVEL"] = "10"
        #expect(try agent.run("monitor", parameters).exitCode == .success)
        #expect(try agent.run("start", parameters).exitCode == .success, "start again")
        #expect(try agent.run("stop", parameters).exitCode == .success)
        #expect(try agent.run("stop", parameters).exitCode == .success, "stop again")
        #expect(try agent.run("monitor", parameters).exitCode == .notRunning)
        #expect(try lab.localAddresses() == before, "exactly what start added is gone, nothing else")
    }

    @Test func ipv6WaitsForDADThenAdvertises() throws {
        let lab = try lab()
        let vip = IPAddress("2001:db8::50")!
        let capture = try AnnouncementCapture(in: lab.peer, interface: lab.peerInterface)
        let responder = try TCPResponder(in: lab.local, address: vip, port: 8080, name: "hello from 2001:db8::50")
        let agent = agent(lab)
        let parameters = ["ip": "2001:db8::50", "arp_count": "2", "arp_interval_ms": "50"]

        let start = try agent.run("start", parameters)
        #expect(start.exitCode == .success, "\(start)")
        let held = try #require(try lab.localAddresses().first { $0.address == vip })
        #expect(held.prefixLength == 64)
        #expect(!held.flags.contains(.tentative), "start returns once DAD is done")

        let frames = try capture.collect(of: vip, count: 2, deadline: .now + .seconds(5))
        #expect(frames.count == 2)
        let mac = try localMAC(lab)
        for frame in frames {
            #expect(frame.kind == .neighbourAdvertisement && frame.override && frame.senderMAC == mac)
            #expect(frame.destinationMAC == MACAddress(multicast: .allNodes))
        }
        #expect(try TCPConnection.greeting(from: lab.peer, to: vip, port: 8080, deadline: .now + .seconds(10)) == responder.name)
        #expect(try agent.run("monitor", parameters).exitCode == .success)
        #expect(try agent.run("stop", parameters).exitCode == .success)
        #expect(try agent.run("monitor", parameters).exitCode == .notRunning)
    }

    @Test func duplicateAddressFailsTheStartAndLeavesNothing() throws {
        let lab = try lab()
        try VethLab.add("2001:db8::77/64", on: lab.peerInterface, in: lab.peer)
        let before = try lab.localAddresses()
        let agent = agent(lab)
        let start = try agent.run("start", ["ip": "2001:db8::77"])
        #expect(start.exitCode == .genericError)
        #expect(start.exitReason?.contains("duplicate address detection failed") == true, "\(start)")
        #expect(try lab.localAddresses() == before)
        #expect(try agent.run("stop", ["ip": "2001:db8::77"]).exitCode == .success)
        #expect(try agent.run("monitor", ["ip": "2001:db8::77"]).exitCode == .notRunning)
    }

    @Test func nodadAddressIsUsableAtOnce() throws {
        let lab = try lab()
        let agent = agent(lab)
        let parameters = ["ip": "2001:db8::51", "nodad": "true", "cidr_netmask": "64", "nic": lab.localInterface.rawValue,
                          "preferred_lft": "0", "noprefixroute": "true"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let held = try #require(try lab.localAddresses().first { $0.address == IPAddress("2001:db8::51") })
        #expect(held.flags.contains(.noDAD) && held.flags.contains(.noPrefixRoute) && held.flags.contains(.deprecated))
        #expect(try agent.run("stop", parameters).exitCode == .success)
    }

    @Test func labelsAndExplicitPlacement() throws {
        let lab = try lab()
        let agent = agent(lab)
        let parameters = ["ip": "198.18.0.60", "cidr_netmask": "255.255.255.128", "nic": lab.localInterface.rawValue,
                          "iflabel": "web", "broadcast": "198.18.0.127", "arp_count": "0"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let held = try #require(try lab.localAddresses().first { $0.address == IPAddress("198.18.0.60") })
        #expect(held.prefixLength == 25 && held.label == "lab0:web" && held.broadcast == IPv4Address("198.18.0.127"))
        #expect(try agent.run("monitor", parameters).exitCode == .success)
        #expect(try agent.run("stop", parameters).exitCode == .success)
    }

    @Test func realServerModeStaysSilentAndSharesSysctls() throws {
        let lab = try lab()
        let capture = try AnnouncementCapture(in: lab.peer, interface: lab.peerInterface)
        let first = agent(lab, instance: "rs1")
        let second = agent(lab, instance: "rs2")
        let sysctls = ["all/arp_ignore", "all/arp_announce", "lab0/arp_ignore", "lab0/arp_announce"]
        func values() throws -> [Int?] {
            try lab.local.perform { sysctls.map { try? Sysctl("net/ipv4/conf/" + $0).read() } }
        }
        // Values the agent never writes itself, so only a real restore brings them back.
        try lab.local.perform {
            try Sysctl("net/ipv4/conf/all/arp_ignore").write(2)
            try Sysctl("net/ipv4/conf/lab0/arp_announce").write(1)
        }
        #expect(try values() == [2, 0, 0, 1])

        let one = ["ip": "198.18.0.70", "lvs_dr_realserver": "true"]
        let two = ["ip": "198.18.0.71", "lvs_dr_realserver": "true", "nic": lab.localInterface.rawValue]
        #expect(try first.run("start", one).exitCode == .success)
        #expect(try second.run("start", two).exitCode == .success)
        let loopback = try #require(try RouteSocket(in: lab.local).link(named: .loopback))
        let held = try #require(try lab.localAddresses().first { $0.address == IPAddress("198.18.0.70") })
        #expect(held.interfaceIndex == loopback.index && held.prefixLength == 32)
        #expect(try values() == [1, 2, 1, 2])
        #expect(try capture.collect(of: IPAddress("198.18.0.70")!, count: 1, deadline: .now + .milliseconds(700)).isEmpty,
                "a real server never announces the VIP")
        #expect(try first.run("monitor", one).exitCode == .success)

        // Someone resets arp_ignore: the real server could steal the VIP, so monitor fails.
        try lab.local.perform { try Sysctl("net/ipv4/conf/all/arp_ignore").write(0) }
        try lab.local.perform { try Sysctl("net/ipv4/conf/lab0/arp_ignore").write(0) }
        #expect(try first.run("monitor", one).exitCode == .genericError)
        try lab.local.perform { try Sysctl("net/ipv4/conf/all/arp_ignore").write(1) }

        #expect(try first.run("stop", one).exitCode == .success)
        #expect(try values()[0...1] == [1, 2], "still needed by rs2")
        #expect(try second.run("stop", two).exitCode == .success)
        #expect(try values()[1] == 0 && values()[3] == 1, "arp_announce put back by the last holder")
        #expect(try values()[0] == 2, "all/arp_ignore put back")
        #expect(try values()[2] == 0, "lab0/arp_ignore was changed by hand meanwhile and stays as the admin left it")
    }

    @Test func ipv6RealServerAddressIsNeverASource() throws {
        let lab = try lab()
        let agent = agent(lab)
        let parameters = ["ip": "2001:db8::80", "lvs_dr_realserver": "true"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let held = try #require(try lab.localAddresses().first { $0.address == IPAddress("2001:db8::80") })
        #expect(held.prefixLength == 128 && held.flags.contains(.deprecated))
        #expect(try agent.run("monitor", parameters).exitCode == .success)
        #expect(try agent.run("stop", parameters).exitCode == .success)
    }

    @Test func linkWithoutCarrierFailsMonitorAndStart() throws {
        let lab = try lab()
        let agent = agent(lab)
        let parameters = ["ip": "198.18.0.90", "arp_count": "0"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        try RouteSocket(in: lab.peer).setLink(lab.peerInterface, up: false)
        let monitor = try agent.run("monitor", parameters)
        #expect(monitor.exitCode == .genericError)
        #expect(monitor.exitReason?.contains("without carrier") == true, "\(monitor)")
        var relaxed = parameters
        relaxed["check_link"] = "false"
        #expect(try agent.run("monitor", relaxed).exitCode == .success)
        #expect(try agent.run("stop", parameters).exitCode == .success)
        #expect(try agent.run("start", parameters).exitCode == .genericError, "no start on a dead link")
        #expect(try agent.run("stop", parameters).exitCode == .success)
    }

    @Test func driftIsAFailureNotAStop() throws {
        let lab = try lab()
        var agent = agent(lab)
        let parameters = ["ip": "198.18.0.91", "arp_count": "0"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        try VethLab.remove("198.18.0.91/24", from: lab.localInterface, in: lab.local)
        #expect(try agent.run("monitor", parameters).exitCode == .genericError, "started here and vanished")
        #expect(try agent.run("monitor", parameters, interval: 0).exitCode == .notRunning, "a probe reports it absent")
        #expect(try agent.run("stop", parameters).exitCode == .success)

        // The address held on a second interface as well: only the thorough monitor notices.
        #expect(try agent.run("start", parameters).exitCode == .success)
        let extra = InterfaceName("extra0")!
        try RouteSocket(in: lab.local).addVethPair(extra, peer: InterfaceName("extra1")!)
        try VethLab.add("198.18.0.91/32", on: extra, in: lab.local)
        #expect(try agent.run("monitor", parameters).exitCode == .success)
        agent.environment["OCF_CHECK_LEVEL"] = "10"
        let thorough = try agent.run("monitor", parameters)
        #expect(thorough.exitCode == .genericError && thorough.exitReason?.contains("also on extra0") == true, "\(thorough)")
        #expect(try agent.run("stop", parameters).exitCode == .success)
        #expect(try lab.localAddresses().contains { $0.address == IPAddress("198.18.0.91") && $0.prefixLength == 32 },
                "stop removes its own address, never the one on extra0")
    }

    @Test func stopAfterStartWorksWithABrokenConfiguration() throws {
        let lab = try lab()
        let before = try lab.localAddresses()
        let agent = agent(lab)
        #expect(try agent.run("start", ["ip": "198.18.0.92", "arp_count": "0"]).exitCode == .success)
        // Pacemaker would pass the start parameters; even garbage must not fail the stop.
        #expect(try agent.run("stop", ["ip": "198.18.0.92", "arp_count": "lots"]).exitCode == .success)
        #expect(try lab.localAddresses() == before)
        #expect(try agent.run("stop", ["nic": "eth0;reboot"]).exitCode == .success, "nothing recorded, nothing to do")
    }

    @Test func stopSilencesTheAnnouncer() throws {
        let lab = try lab()
        let vip = IPAddress("198.18.0.93")!
        let capture = try AnnouncementCapture(in: lab.peer, interface: lab.peerInterface)
        let agent = agent(lab)
        let parameters = ["ip": "198.18.0.93", "arp_count": "50", "arp_interval_ms": "100"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        #expect(try capture.collect(of: vip, count: 2, deadline: .now + .seconds(5)).count == 2)
        #expect(try agent.run("stop", parameters).exitCode == .success)
        let stopped = realTimeNanoseconds()
        // Frames sent before stop returned may still wait in the capture's queue; none may follow.
        let later = try capture.collect(of: vip, count: 50, deadline: .now + .seconds(1)).filter { $0.receivedAt > stopped }
        #expect(later.isEmpty, "no announcement of an address that may live elsewhere now")
    }

    /// The announcer frozen (SIGSTOP) when stop comes: stop ends it (SIGTERM with SIGCONT, or
    /// SIGKILL and a wait for the kernel to end it) and succeeds; a stop that said "does not
    /// stop" would get the node fenced. Five runs: reading the process right after SIGKILL found
    /// it still there in one to three of five.
    @Test(arguments: 1...5) func stopEndsAFrozenAnnouncer(_ run: Int) throws {
        let lab = try lab()
        let vip = IPAddress("198.18.0.95")!
        let capture = try AnnouncementCapture(in: lab.peer, interface: lab.peerInterface)
        let agent = agent(lab, instance: "frozen\(run)")
        let parameters = ["ip": "198.18.0.95", "arp_count": "60", "arp_interval_ms": "1000"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        let record = try #require(try StateFile(path: "\(Self.state)/vip-frozen\(run)").read())
        let announcer = try #require(ProcessIdentity(record["announcer"] ?? ""), "\(record)")
        kill(announcer.pid, SIGSTOP)
        let stop = try agent.run("stop", parameters)
        #expect(stop.exitCode == .success, "run \(run): \(stop)")
        #expect(announcer.isDone, "the announcer is gone")
        let stopped = realTimeNanoseconds()
        let silent = try capture.collect(of: vip, count: 5, deadline: .now + .milliseconds(1500)).filter { $0.receivedAt > stopped }.isEmpty
        #expect(silent)
        let gone = try !lab.localAddresses().contains { $0.address == vip }
        #expect(gone)
        if run == 1 {
            FaultTable.record("vip", "announcer frozen (SIGSTOP)", expected: "stop 0: the announcer ended, silent, address gone (5 runs)",
                              observed: "\(FaultTable.outcome("stop", stop)); announcer \(announcer.isDone ? "ended" : "LEFT"), \(silent ? "silent" : "ANNOUNCING"), address \(gone ? "gone" : "LEFT")",
                              holds: stop.exitCode == .success && announcer.isDone && silent && gone)
        }
    }

    @Test func startFirstAnnouncementIsImmediate() throws {
        let lab = try lab()
        let vip = IPAddress("198.18.0.94")!
        let capture = try AnnouncementCapture(in: lab.peer, interface: lab.peerInterface)
        let agent = agent(lab)
        let parameters = ["ip": "198.18.0.94", "arp_count": "2", "arp_interval_ms": "1000", "arp_mode": "both"]
        #expect(try agent.run("start", parameters).exitCode == .success)
        // Both frames of round one arrive before the second round is due.
        let first = try capture.collect(of: vip, count: 2, deadline: .now + .milliseconds(800))
        #expect(first.map(\.kind) == [.arpRequest, .arpReply])
        #expect(try agent.run("stop", parameters).exitCode == .success)
    }
}
