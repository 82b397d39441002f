import Addresses
import Glibc
import LVS
import Netlink
import OCF
import OCFTesting
import Testing
@testable import ipvs
@testable import ipvs_sync
@testable import vip

/// The agents' answers to the failures the lifecycle matrix does not produce by itself,
/// on fake kernels: refusals and transport failures half-way, drains that cannot finish,
/// duplicate address detection, odd routes, the health checker writing meanwhile.
@Suite struct IPVSFailureTests {
    let service = IPVSService.Identity.address(.tcp, IPAddress("192.0.2.10")!, port: 80)

    /// A refused real server in a new service: nothing of the service is left.
    @Test func refusedCreationIsRolledBack() {
        let world = FakeIPVSWorld()
        world.kernel.byHand { $0.refusals["add 10.0.0.2:80 to tcp:192.0.2.10:80"] = ENOMEM }
        let start = world.runner.run(.start, parameters: world.parameters, host: world.kernel)
        #expect(start.exitCode == .genericError)
        #expect(start.reason?.contains("removed again") == true, "\(start)")
        #expect(world.kernel.ipvsState()?.services.isEmpty == true)
    }

    /// The transport fails after part of a batch was applied: the part is undone too.
    @Test func transportFailureHalfWayIsRolledBack() {
        let world = FakeIPVSWorld()
        world.kernel.byHand { $0.transportFailureAfter = 2 }
        let start = world.runner.run(.start, parameters: world.parameters, host: world.kernel)
        #expect(start.exitCode == .genericError, "\(start)")
        #expect(world.kernel.ipvsState()?.services.isEmpty == true, "the service and its first real server are gone")
    }

    /// Adopting a service someone made by hand: a correction refused half-way puts the service
    /// back exactly as it was found.
    @Test func adoptionHalfCorrectedIsPutBack() throws {
        let world = FakeIPVSWorld()
        try world.holdByAnother()
        let before = world.kernel.ipvsState()
        world.kernel.byHand { $0.refusals["add 10.0.0.2:80 to tcp:192.0.2.10:80"] = EINVAL }
        let start = world.runner.run(.start, parameters: world.parameters, host: world.kernel)
        #expect(start.exitCode == .genericError)
        #expect(start.reason?.contains("back as it was") == true, "\(start)")
        #expect(world.kernel.ipvsState() == before)
    }

    /// A reload refused half-way leaves the old configuration in place.
    @Test func reloadIsAllOrNothing() {
        let world = FakeIPVSWorld()
        #expect(world.runner.run(.start, parameters: world.parameters, host: world.kernel).exitCode == .success)
        let before = world.kernel.ipvsState()
        world.kernel.byHand { $0.refusals["add 10.0.0.3:80 to tcp:192.0.2.10:80"] = ENOMEM }
        let reload = world.runner.run(.reloadAgent, parameters: world.reloadedParameters, host: world.kernel)
        #expect(reload.exitCode == .genericError)
        #expect(world.kernel.ipvsState() == before)
    }

    /// A drain that cannot finish (connections stay open longer than the stop may take) ends
    /// in a warning and the deletion, within the stop's timeout — never a failed stop.
    @Test func drainThatCannotFinishNeverFailsTheStop() {
        let world = FakeIPVSWorld()
        var parameters = world.parameters
        parameters["drain_timeout"] = "600"
        #expect(world.runner.run(.start, parameters: parameters, host: world.kernel).exitCode == .success)
        world.kernel.byHand { state in
            for index in state.namespaces[nil]!.ipvs!.destinations[service]!.indices {
                state.namespaces[nil]!.ipvs!.destinations[service]![index].activeConnections = 3
            }
        }
        let started = ContinuousClock.now
        let stop = world.runner.run(.stop, parameters: parameters, host: world.kernel, timeout: .seconds(3))
        #expect(stop.exitCode == .success, "\(stop.log)")
        #expect(started.duration(to: .now) < .seconds(3), "within the operation's timeout")
        #expect(stop.log.contains("still has 6 active connection(s) after draining; deleting it anyway"))
        #expect(world.kernel.ipvsState()?.services.isEmpty == true)
    }

    /// The sync daemon refused with EINVAL: the table's mixed families are blamed only when
    /// the table has them.
    @Test func syncDaemonRefusalsSayWhy() {
        let world = FakeSyncWorld()
        world.kernel.byHand { $0.refusals["start the backup sync daemon on sync0"] = EINVAL }
        let plain = world.runner.run(.start, parameters: world.parameters, host: world.kernel)
        #expect(plain.exitCode == .genericError)
        #expect(plain.reason?.hasPrefix("the kernel refused the backup sync daemon on sync0") == true, "\(plain)")
        world.kernel.byHand { $0.refusals = [:] }
        world.kernel.ipvsByHand([.addService(IPVSService(identity: service, scheduler: "wlc")),
                                 .addDestination(service, IPVSDestination(address: IPAddress("2001:db8::2")!, port: 80,
                                                                          forwarding: .tunnel, tunnel: .init(kind: .ipip)))])
        let mixed = world.runner.run(.start, parameters: world.parameters, host: world.kernel)
        #expect(mixed.reason?.contains("tcp:192.0.2.10:80 has real servers of the other address family") == true, "\(mixed)")
        _ = world.runner.run(.stop, parameters: world.parameters, host: world.kernel)
    }

    /// A daemon of this resource (its interface and sync ID) running with other settings is
    /// reported as degraded, never taken for someone else's; maxlen values the kernel would
    /// change are refused.
    @Test func syncDaemonWithOtherSettings() {
        let world = FakeSyncWorld()
        world.kernel.ipvsByHand([.startDaemon(IPVSSyncDaemon(state: .backup, interface: "sync0", syncID: 7, maximumLength: 2000))])
        let parameters = world.parameters.merging(["maxlen": "1500"]) { $1 }
        let monitor = world.runner.run(.monitor, parameters: parameters, host: world.kernel)
        #expect(monitor.exitCode == .degraded, "\(monitor)")
        #expect(world.runner.run(.stop, parameters: parameters, host: world.kernel).exitCode == .success)
        #expect(world.kernel.ipvsState()?.daemons.isEmpty == true, "stop stops it: it is this resource's")
        let refused = world.runner.run(.validateAll, parameters: ["interface": "sync0", "maxlen": "150"], host: world.kernel)
        #expect(refused.exitCode == .notConfigured && refused.reason?.hasPrefix("maxlen:") == true, "\(refused)")
    }

    /// With a configuration that no longer parses, stop still finds and stops the daemon the
    /// start recorded.
    @Test func syncStopWithABrokenConfiguration() {
        let world = FakeSyncWorld()
        #expect(world.runner.run(.start, parameters: world.parameters, host: world.kernel).exitCode == .success)
        let stop = world.runner.run(.stop, parameters: ["interface": "sync0", "syncid": "300"], host: world.kernel)
        #expect(stop.exitCode == .success, "\(stop)")
        #expect(world.kernel.ipvsState()?.daemons.isEmpty == true)
        #expect(listDirectory(world.directory).allSatisfy { $0.hasSuffix(".lock") })
    }

    /// The health checker's contract with a concurrent writer: the checker changes weights
    /// (file first, then kernel, under the lock) while recurring monitors repair drift; no
    /// monitor ever reverts a weight the checker set, and none sees drift at all.
    @Test func healthCheckerWritingMeanwhile() {
        let world = FakeIPVSWorld()
        #expect(world.runner.run(.start, parameters: world.parameters, host: world.kernel).exitCode == .success)
        let store = HealthOverrides.Store(service: try! ServiceSpec(parsing: "tcp:192.0.2.10:80"), namespace: nil,
                                          directory: world.directory)
        let key = IPVSDestination.Key(address: IPAddress("10.0.0.1")!, port: 80)
        nonisolated(unsafe) let kernel = world.kernel
        let (lastWeight, monitors) = runConcurrently({ () -> (Int32, [ActionResult]) in
            var weight: Int32 = 0
            for round in 1...150 {
                weight = Int32(round % 7)
                try? store.withLock(deadline: .now + .seconds(10)) {
                    try store.save(HealthOverrides([key: .weight(weight)]))
                    kernel.ipvsByHand([.updateDestination(service, IPVSDestination(address: key.address, port: 80,
                                                                                   forwarding: .masquerade, weight: weight))])
                }
            }
            return (weight, [])
        }, { () -> (Int32, [ActionResult]) in
            (0, (0..<150).map { _ in world.runner.run(.monitor, parameters: world.parameters, host: kernel) })
        })
        let results = lastWeight.1 + monitors.1
        #expect(results.allSatisfy { $0.exitCode == .success })
        #expect(results.allSatisfy { !$0.log.contains("drift") }, "\(results.first { $0.log.contains("drift") }?.log ?? "")")
        let weight = world.kernel.ipvsState()?.destinations[service]?.first { $0.key == key }?.weight
        #expect(weight == lastWeight.0, "the checker's last weight stands")
    }
}

/// The servers a stopped health checker held out: the ipvs agent honours the hold while it
/// lasts (no drift), and once it has expired with no checker taking over, its monitor gives them
/// their configured weights back and removes the file, even with on_drift=fail.
@Suite struct HeldOverridesTests {
    @Test(arguments: ["repair", "fail"]) func anExpiredHoldIsReleasedNotDrift(_ onDrift: String) throws {
        let world = FakeIPVSWorld()
        let parameters = world.parameters.merging(["on_drift": onDrift]) { $1 }
        #expect(world.runner.run(.start, parameters: parameters, host: world.kernel).exitCode == .success)
        let service = IPVSService.Identity.address(.tcp, IPAddress("192.0.2.10")!, port: 80)
        let store = HealthOverrides.Store(service: try ServiceSpec(parsing: "tcp:192.0.2.10:80"), namespace: nil, directory: world.directory)
        let key = IPVSDestination.Key(address: IPAddress("10.0.0.2")!, port: 80)
        func weight() -> Int32? { world.kernel.ipvsState()?.destinations[service]?.first { $0.key == key }?.weight }
        // The stopped checker's hold, as its stop leaves it: the server quiesced, file and kernel.
        try store.save(HealthOverrides([key: .weight(0)], heldUntil: bootTimeMilliseconds() + 60_000))
        world.kernel.ipvsByHand([.updateDestination(service, IPVSDestination(address: key.address, port: 80, forwarding: .masquerade, weight: 0))])
        let held = world.runner.run(.monitor, parameters: parameters, host: world.kernel)
        #expect(held.exitCode == .success && !held.log.contains("drift"), "\(held)")
        #expect(weight() == 0, "held out while the hold lasts")
        // Expired (nobody took it over): given back, not drift.
        try store.save(HealthOverrides([key: .weight(0)], heldUntil: bootTimeMilliseconds() - 1))
        let released = world.runner.run(.monitor, parameters: parameters, host: world.kernel)
        #expect(released.exitCode == .success && !released.log.contains("drift"), "\(released)")
        #expect(weight() == 2, "its configured weight is back")
        #expect(try store.file.read() == nil, "the expired hold is gone")
    }
}

@Suite struct VIPBehaviourTests {
    /// Without nic, an address on lo is not the VIP: a probe says stopped, a stop leaves it
    /// (on an LVS-DR real server it is the real-server address).
    @Test func anAddressOnLoIsNotTheVIP() {
        let world = FakeVIPWorld()
        world.kernel.addAddress("198.18.0.50/32", on: "lo")
        let parameters = ["ip": "198.18.0.50"]
        #expect(world.runner.run(.monitor, parameters: parameters, probe: true, host: world.host).exitCode == .notRunning)
        #expect(world.runner.run(.stop, parameters: parameters, host: world.host).exitCode == .success)
        #expect(world.kernel.addresses().contains { $0.address == IPAddress("198.18.0.50") && $0.interfaceIndex == Link.loopbackIndex })
    }

    /// A device route without a prefix (`default dev eth0`) gives no prefix: refused unless
    /// cidr_netmask is given.
    @Test func aDefaultDeviceRouteGivesNoPrefix() {
        let world = FakeVIPWorld()
        world.kernel.byHand { state in
            state.namespaces[nil]?.routes.append(Route(destination: IPAddress("0.0.0.0")!, prefixLength: 0, interfaceIndex: 2))
        }
        let refused = world.runner.run(.validateAll, parameters: ["ip": "203.0.113.7"], host: world.host)
        #expect(refused.exitCode == .invalidArguments)
        #expect(refused.reason?.hasPrefix("cidr_netmask: the route to 203.0.113.7 on eth0 is a default route") == true, "\(refused)")
        #expect(world.runner.run(.validateAll, parameters: ["ip": "203.0.113.7", "cidr_netmask": "32"], host: world.host).exitCode == .success)
    }

    /// A failed duplicate address detection removes the address only when this start added it.
    @Test func dadFailureNeverRemovesAnAddressThatWasThere() {
        let world = FakeVIPWorld()
        world.kernel.addAddress("2001:db8::1/64", on: "eth0")
        world.kernel.addAddress("2001:db8::50/64", on: "eth0", flags: [.tentative])
        world.kernel.byHand { $0.duplicateAddressDetection = .failed }
        let start = world.runner.run(.start, parameters: ["ip": "2001:db8::50", "nic": "eth0"], host: world.host)
        #expect(start.exitCode == .genericError)
        #expect(world.kernel.addresses().contains { $0.address == IPAddress("2001:db8::50") }, "it was there before")

        let fresh = FakeVIPWorld()
        fresh.kernel.addAddress("2001:db8::1/64", on: "eth0")
        fresh.kernel.byHand { $0.duplicateAddressDetection = .failed }
        #expect(fresh.runner.run(.start, parameters: ["ip": "2001:db8::50", "nic": "eth0"], host: fresh.host).exitCode == .genericError)
        #expect(!fresh.kernel.addresses().contains { $0.address == IPAddress("2001:db8::50") }, "this start added it")
    }

    /// check_link=false lets a down link through: detection finishes when it comes up, and
    /// the start does not wait for it.
    @Test func dadOnADownLinkDoesNotBlock() {
        let world = FakeVIPWorld()
        world.kernel.addAddress("2001:db8::1/64", on: "eth0")
        world.kernel.setLink("eth0", up: false)
        let start = world.runner.run(.start, parameters: ["ip": "2001:db8::50", "nic": "eth0", "check_link": "false"],
                                     host: world.host, timeout: .seconds(20))
        #expect(start.exitCode == .success, "\(start)")
        #expect(start.log.contains("finishes when it comes up"))
    }

    /// Names read back from the sysctl registry are never trusted as paths: a planted line
    /// naming another setting is ignored, and only the ARP settings are ever written.
    @Test func theSysctlRegistryNamesOnlyArpSettings() throws {
        let world = FakeVIPWorld(realServer: true)
        world.sysctls.setByHand("kernel/sysrq", 0)
        try writeFile(world.directory + "/vip-realserver.sysctl", "kernel/sysrq=1|test\nnet/ipv4/conf/x;y/arp_ignore=1|test\n")
        #expect(world.runner.run(.start, parameters: world.parameters, host: world.host).exitCode == .success)
        #expect(world.runner.run(.stop, parameters: world.parameters, host: world.host).exitCode == .success)
        #expect(world.sysctls.snapshot[Sysctl("kernel/sysrq")] == 0)
        #expect(world.sysctls.snapshot[Sysctl("net/ipv4/conf/all/arp_ignore")] == 0, "the real one is put back")
    }

    /// Every kernel request and answer reaches the trace `crm resource trace` asks for.
    @Test func kernelRequestsAreTraced() throws {
        let world = FakeVIPWorld()
        let directory = world.directory + "/trace"
        let start = world.runner.run(.start, parameters: world.parameters.merging(["trace_ra": "1", "trace_dir": directory]) { $1 },
                                     host: world.host)
        #expect(start.exitCode == .success)
        let files = listDirectory(directory + "/vip")
        let text = try #require(files.first.flatMap { readFile(directory + "/vip/" + $0) })
        #expect(text.contains("kernel <- RTM_GETADDR dump"))
        #expect(text.contains("kernel <- RTM_NEWADDR 198.18.0.50/24 ifindex 2"))
        #expect(text.contains("INFO: added 198.18.0.50/24 to eth0"))
        #expect(text.contains("announcing 198.18.0.50 on eth0: 3 round(s), 50 ms apart"))
        #expect(text.hasSuffix("exit 0 (OCF_SUCCESS)\n"))

        let realServer = FakeVIPWorld(realServer: true)
        let traced = realServer.runner.run(.start, parameters: realServer.parameters.merging(["trace_ra": "1", "trace_dir": directory]) { $1 },
                                           host: realServer.host)
        #expect(traced.exitCode == .success)
        let sysctls = try #require(listDirectory(directory + "/vip").compactMap { readFile(directory + "/vip/" + $0) }
            .first { $0.contains("lvs_dr_realserver") })
        #expect(sysctls.contains("sysctl net.ipv4.conf.all.arp_ignore <- 1"), "\(sysctls)")
    }
}
