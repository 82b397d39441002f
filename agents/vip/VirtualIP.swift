import Addresses
import AgentRecords
import Netlink
import OCF
import OCFNetlink

/// What vip needs of the node: the kernel's address tables, sysctls and announcements, behind
/// protocols so that tests can run the agent on fakes.
struct VIPHost {
    var kernel: any Kernel
    var sysctls: any SysctlStore
    var announcements: any Announcements

    /// The node itself; no kernel answer is waited for past `deadline`.
    static func live(deadline: ContinuousClock.Instant) -> VIPHost {
        VIPHost(kernel: LiveKernel(deadline: deadline), sysctls: ProcSysctls(), announcements: LinkAnnouncements())
    }
}

/// `ocf:tandem:vip`: a floating IPv4/IPv6 address, or the LVS-DR real-server address on lo.
final class VirtualIP: ResourceAgent {
    static let name = "vip"
    static let version = tandemVersion
    static let shortDescription = "Floating IPv4/IPv6 address with gratuitous ARP and unsolicited NA"
    static let longDescription = """
        Manages a floating IP address (IPv4 or IPv6) on a network interface, for an LVS director pair or any \
        service that follows an address. start adds the address over netlink (waiting for IPv6 duplicate \
        address detection), then announces it with gratuitous ARP or unsolicited neighbour advertisements; \
        stop removes exactly that address; monitor checks address, prefix, interface and link state in one \
        netlink dump. With lvs_dr_realserver it sets up an LVS-DR real server instead: the address on lo and \
        the ARP sysctls that keep the real server silent about it.
        """
    static let actions = [
        ActionAdvertisement(.start, timeout: 20),
        ActionAdvertisement(.stop, timeout: 20),
        ActionAdvertisement(.monitor, timeout: 20, interval: 10),
        ActionAdvertisement(.monitor, timeout: 20, interval: 60, depth: 10),
        ActionAdvertisement(.reloadAgent, timeout: 20),
        ActionAdvertisement(.validateAll, timeout: 20),
        ActionAdvertisement(.metaData, timeout: 5),
    ]

    let parameters: VIPParameters
    let context: AgentContext
    let host: VIPHost
    private let routes: any AddressTable

    init(parameters: VIPParameters, context: AgentContext, host: VIPHost) throws {
        self.parameters = parameters
        self.context = context
        self.host = host
        routes = try context.traced(host.kernel).routeTable(in: nil)
    }

    var ip: IPAddress { parameters.ip }
    var log: Log { context.log }
    var stateFile: StateFile { context.stateFile(agent: Self.name) }
    var sysctls: RealServerSysctls {
        RealServerSysctls(state: context.state, store: context.traced(host.sysctls), deadline: context.deadline)
    }

    private func holders(in addresses: [InterfaceAddress]) -> [InterfaceAddress] { Placement.holders(of: parameters, in: addresses) }

    // MARK: validate-all

    func validate() throws {
        let placement = try Placement.resolve(parameters, in: try PlacementSnapshot.read(for: parameters, from: routes))
        if parameters.lvsDRRealServer, ip.family == .inet, let network = placement.networkLink,
           !host.sysctls.exists(Sysctl("net/ipv4/conf/\(network.name)/arp_ignore")) {
            throw OCFError.notInstalled("lvs_dr_realserver: /proc/sys/net/ipv4/conf/\(network.name) is missing")
        }
    }

    private func lookUpLink(_ index: Int32?) throws -> Link? {
        guard let index else { return nil }
        return try netlink("looking up interface \(index)") { try routes.link(index: index) }
    }

    // MARK: start

    func start() throws {
        let kernel = try PlacementSnapshot.read(for: parameters, from: routes)
        let placement = try Placement.resolve(parameters, in: kernel)
        if parameters.checkLink, let network = placement.networkLink, !network.isOperational {
            throw OCFError.generic("\(network.name) is \(network.flags.contains(.up) ? "without carrier" : "down"); not starting \(ip) (check_link)")
        }
        let mine = holders(in: kernel.addresses)
        if let elsewhere = mine.first(where: { $0.interfaceIndex != placement.link.index }) {
            let name = kernel.link(elsewhere.interfaceIndex)?.name ?? (try? lookUpLink(elsewhere.interfaceIndex))??.name
                ?? "interface \(elsewhere.interfaceIndex)"
            throw OCFError.generic("\(ip) is already on \(name); it must be removed there first")
        }
        let existing = mine.first { $0.interfaceIndex == placement.link.index }
        if let existing, existing.prefixLength != placement.prefixLength {
            throw OCFError.generic("\(ip) is already on \(placement.link.name) as /\(existing.prefixLength), not /\(placement.prefixLength)")
        }

        // Record the intent before changing anything, so a stop after a failed start undoes it;
        // an announcer a previous start left running stays recorded until it is stopped.
        var record = AddressRecord(address: ip, placement: placement, realServer: parameters.lvsDRRealServer)
        let previous = try AddressRecord.load(from: stateFile)
        record.announcer = previous?.announcer
        try context.state.create()
        try record.save(to: stateFile)
        if let interface = record.realServerInterface {
            try sysctls.acquire(interface: interface, instance: context.instance)
        }

        if existing == nil {
            try add(placement)
            log.info("added \(ip)/\(placement.prefixLength) to \(placement.link.name)")
        } else {
            log.info("\(ip)/\(placement.prefixLength) is already on \(placement.link.name)")
        }
        if case .v6 = ip { try awaitDuplicateAddressDetection(on: placement, addedHere: existing == nil) }

        // Started already (the address and its record are there): announced already.
        if let existing, previous?.matches(existing) == true { return }
        guard !parameters.lvsDRRealServer, parameters.arpCount > 0, let network = placement.networkLink else { return }
        // One announcer per address: the one an earlier start left goes first.
        if let earlier = record.announcer {
            guard host.announcements.terminate(earlier, by: context.deadline) else {
                throw OCFError.generic("the announcer of \(ip) an earlier start left (pid \(earlier.pid)) does not stop")
            }
            record.announcer = nil
            try record.save(to: stateFile)
        }
        let pending: PendingAnnouncer?
        context.trace?.write("announcing \(ip) on \(network.name): \(parameters.arpCount) round(s), \(parameters.arpIntervalMilliseconds) ms apart")
        do {
            pending = try host.announcements.start(ip, on: network, mode: parameters.arpMode, rounds: parameters.arpCount,
                                                   interval: .milliseconds(parameters.arpIntervalMilliseconds), log: log)
        } catch {
            log.warning("announcing \(ip) on \(network.name) failed: \(error)")
            return
        }
        // Recorded before it may send: a stop always finds a sending announcer.
        guard let pending else { return }
        record.announcer = pending.identity
        try record.save(to: stateFile)
        pending.release()
    }

    private func add(_ placement: Placement) throws {
        var flags: AddressFlags = []
        if parameters.noDAD { flags.insert(.noDAD) }
        if parameters.noPrefixRoute { flags.insert(.noPrefixRoute) }
        var preferred = parameters.preferredLifetime == .forever ? nil : parameters.preferredLifetime.kernelValue
        // A real server's IPv6 service address must never become its source address.
        if parameters.lvsDRRealServer && ip.family == .inet6 && preferred == nil { preferred = 0 }
        var broadcast: IPv4Address?
        if case .v4(let v4) = ip, !parameters.lvsDRRealServer {
            broadcast = parameters.broadcast ?? v4.broadcast(prefixLength: placement.prefixLength)
        }
        let request = AddressRequest(interfaceIndex: placement.link.index, address: ip, prefixLength: placement.prefixLength,
                                     label: placement.label, broadcast: broadcast, flags: flags, preferredLifetime: preferred)
        do {
            try routes.add(request)
        } catch where error.kind == .exists {
            log.info("\(ip) appeared on \(placement.link.name) meanwhile")
        } catch {
            throw error.ocf(while: "adding \(ip)/\(placement.prefixLength) to \(placement.link.name)")
        }
    }

    /// Waits, on address events, until the kernel has checked the IPv6 address is not in use.
    /// - Parameter addedHere: this start added the address; an address that was there before
    ///   is never removed, whatever detection says.
    private func awaitDuplicateAddressDetection(on placement: Placement, addedHere: Bool) throws {
        let link = placement.link
        let outcome = try netlink("waiting for duplicate address detection") {
            try routes.waitForDuplicateAddressDetection(of: ip, interfaceIndex: link.index, deadline: context.deadline)
        }
        switch outcome {
        case .completed:
            return
        case .linkDown:
            // check_link=false let a down link through: detection resumes when it comes up.
            log.warning("\(link.name) is down: duplicate address detection of \(ip) finishes when it comes up")
        case .failed:
            if addedHere {
                try? routes.deleteAddress(ip, prefixLength: placement.prefixLength, interfaceIndex: link.index)
            }
            throw OCFError.generic("duplicate address detection failed: another node on \(link.name) holds \(ip)")
        case .removed:
            throw OCFError.generic("\(ip) disappeared from \(link.name) during duplicate address detection")
        case .timedOut:
            throw OCFError.generic("duplicate address detection of \(ip) on \(link.name) did not finish in time")
        }
    }

    // MARK: stop

    func stop() throws {
        if let record = try AddressRecord.load(from: stateFile) {
            try VirtualIP.undo(record, routes: routes, context: context, host: host)
            return
        }
        // No record (state lost): remove what monitor would call this resource.
        let addresses = try netlink("listing addresses") { try routes.addresses() }
        let expected = try expectedInterfaceIndex()
        for held in holders(in: addresses) where (expected == nil || held.interfaceIndex == expected)
            && (parameters.cidrNetmask == nil || held.prefixLength == parameters.cidrNetmask?.length) {
            try delete(held.address, prefixLength: held.prefixLength, interfaceIndex: held.interfaceIndex)
            log.info("removed \(ip)/\(held.prefixLength) (interface \(held.interfaceIndex))")
        }
        // A start killed while writing its first record leaves only the temporary file.
        context.forget(stateFile)
    }

    /// With a configuration that does not parse, a recorded start is still undone.
    static func stop(unparsableConfiguration problems: ParameterProblems, context: AgentContext, host: VIPHost) throws {
        guard let record = try AddressRecord.load(from: context.stateFile(agent: name)) else {
            context.log.info("no address was recorded as started: nothing to stop")
            context.forget(context.stateFile(agent: name))
            return
        }
        try undo(record, routes: try context.traced(host.kernel).routeTable(in: nil), context: context, host: host)
    }

    /// Removes exactly what a start recorded: the announcer, the address, the sysctls, the record.
    static func undo(_ record: AddressRecord, routes: any AddressTable, context: AgentContext, host: VIPHost) throws {
        // Silence first: once stop returns, no announcement of this address may leave this node.
        if let announcer = record.announcer, !host.announcements.terminate(announcer, by: context.deadline) {
            throw OCFError.generic("the announcer of \(record.address) (pid \(announcer.pid)) does not stop")
        }
        let addresses = try netlink("listing addresses") { try routes.addresses() }
        if addresses.contains(where: record.matches) {
            do {
                try routes.deleteAddress(record.address, prefixLength: record.prefixLength, interfaceIndex: record.interfaceIndex)
                context.log.info("removed \(record.address)/\(record.prefixLength) from \(record.interface)")
            } catch where error.kind == .notFound {
                // Gone meanwhile: that is what stop wants.
            } catch {
                throw error.ocf(while: "removing \(record.address) from \(record.interface)")
            }
        }
        if record.realServerInterface != nil {
            try RealServerSysctls(state: context.state, store: context.traced(host.sysctls), deadline: context.deadline)
                .release(instance: context.instance, log: context.log)
        }
        context.forget(context.stateFile(agent: name))
    }

    private func delete(_ address: IPAddress, prefixLength: Int, interfaceIndex: Int32) throws {
        do {
            try routes.deleteAddress(address, prefixLength: prefixLength, interfaceIndex: interfaceIndex)
        } catch where error.kind == .notFound {
        } catch {
            throw error.ocf(while: "removing \(address)")
        }
    }

    // MARK: reload-agent

    /// The reloadable parameters (announcements, link checking) are read afresh by every action:
    /// there is nothing to apply to the address itself.
    func reloadAgent() throws {
        log.info("reloaded: announcements and link checks follow the new parameters")
    }

    // MARK: monitor

    func monitor() throws -> MonitorResult {
        let addresses = try netlink("listing addresses") { try routes.addresses() }
        let holders = holders(in: addresses)
        let record = try AddressRecord.load(from: stateFile)
        guard !holders.isEmpty else {
            // Started here and gone without a stop is a failure, not a clean stop.
            if let record, !context.isProbe {
                throw OCFError.generic("\(ip) disappeared from \(record.interface)")
            }
            return .notRunning
        }

        let expectedIndex = try record.map(\.interfaceIndex) ?? expectedInterfaceIndex()
        guard let held = holders.first(where: { expectedIndex == nil || $0.interfaceIndex == expectedIndex }) else {
            // Not where this resource puts it: somebody else's address, unless this resource
            // started it (then it moved, which is a failure).
            if record == nil { return .notRunning }
            throw OCFError.generic("\(ip) is on \(try interfaceName(holders[0].interfaceIndex)), not on \(record?.interface ?? "its interface")")
        }
        let expectedPrefix = record?.prefixLength ?? (parameters.lvsDRRealServer ? ip.maximumPrefixLength : parameters.cidrNetmask?.length)
        if let expectedPrefix, held.prefixLength != expectedPrefix {
            throw OCFError.generic("\(ip) has prefix /\(held.prefixLength) instead of /\(expectedPrefix)")
        }
        if held.flags.contains(.dadFailed) {
            throw OCFError.generic("duplicate address detection failed: another node holds \(ip)")
        }
        if context.checkLevel >= 10, let other = holders.first(where: { $0.interfaceIndex != held.interfaceIndex }) {
            throw OCFError.generic("\(ip) is also on \(try interfaceName(other.interfaceIndex))")
        }

        // The interface facing the network: the address's own, or a real server's nic.
        let realServerNIC = parameters.lvsDRRealServer ? (record?.realServerInterface ?? parameters.nic) : nil
        if let realServerNIC, ip.family == .inet, let problem = sysctls.problem(on: realServerNIC) {
            throw OCFError.generic(problem)
        }
        if parameters.checkLink || parameters.arpRefreshOnMonitor {
            let network: Link?
            if let realServerNIC {
                guard let link = try netlink("looking up \(realServerNIC)", { try routes.link(named: realServerNIC) })
                else { throw OCFError.generic("\(realServerNIC) has disappeared") }
                network = link
            } else {
                network = parameters.lvsDRRealServer ? nil : try lookUpLink(held.interfaceIndex)
            }
            if parameters.checkLink, let network, !network.isOperational {
                throw OCFError.generic("\(network.name) is \(network.flags.contains(.up) ? "without carrier" : "down") (check_link)")
            }
            if parameters.arpRefreshOnMonitor, !context.isProbe, let network {
                do { try host.announcements.announce(ip, on: network, mode: parameters.arpMode) } catch {
                    log.warning("refreshing the announcement failed: \(error)")
                }
            }
        }
        if let suffix = parameters.iflabel, held.label?.hasSuffix(":" + suffix) != true {
            return .degraded("\(ip) is up but labelled \(held.label ?? "(none)"), not <nic>:\(suffix)")
        }
        return .running
    }

    /// The interface the parameters alone point at: lo for a real server, else `nic`;
    /// `nil` when any interface will do (no nic configured, no record).
    private func expectedInterfaceIndex() throws -> Int32? {
        if parameters.lvsDRRealServer { return Link.loopbackIndex }
        guard let nic = parameters.nic else { return nil }
        // A configured interface missing here holds nothing: report whatever holds the address as misplaced.
        return try netlink("looking up \(nic)") { try routes.link(named: nic) }?.index ?? -1
    }

    private func interfaceName(_ index: Int32) throws -> String {
        try lookUpLink(index)?.name ?? "interface \(index)"
    }
}
