import Glibc
import FenceAgent
import Libvirt
import OCF
import POSIX

/// fence_libvirt: powers libvirt domains off, on and through a reboot over libvirt's API, and
/// verifies every change through it.
struct LibvirtFencing: FenceAgent {
    static let name = "fence_libvirt"
    static let shortDescription = "Fence agent for libvirt domains (KVM/QEMU guests), through libvirt's API"
    static let longDescription = """
        fence_libvirt powers a libvirt domain off, on, or off and on again, through libvirt's C API \
        (qemu:///system on the host, qemu+ssh:// or another libvirt URI for a remote one), and verifies each change \
        through libvirt before it reports success. Status comes from the domain itself. Every connection and call \
        has a deadline, so a host that never answers or a frozen libvirtd gives a clear error, not a hung fencer. \
        Map cluster node names to domains with pcmk_host_map, e.g. pcmk_host_map="node1:vm-node1;node2:vm-node2".
        """
    static let vendorURL = "https://github.com/tandem-ha/tandem"
    static let actions: [FenceAction] = [.on, .off, .reboot, .status, .list, .listStatus, .monitor]

    let parameters: FenceParameters
    let context: FenceContext
    var log: Log { context.log }

    init(parameters: FenceParameters, context: FenceContext) {
        self.parameters = parameters
        self.context = context
    }

    func validate(target: String?) throws(FenceFailure) {
        if let target, !LibvirtFencing.isDomainIdentifier(target) {
            throw FenceFailure("plug '\(HypervisorURI.printable(target))' is not a domain name or UUID (letters, digits and . _ + : @ -)")
        }
        for uri in parameters.uri.all {
            for name in ["keyfile", "known_hosts"] {
                if let file = uri.parameter(name), access(file, R_OK) != 0 {
                    throw FenceFailure("uri: \(name) \(file) cannot be read (\(Errno.current))")
                }
            }
        }
        if let file = parameters.knownHosts, access(file, R_OK) != 0 {
            throw FenceFailure("known_hosts: \(file) cannot be read (\(Errno.current))")
        }
    }

    /// Runs the action over connections to every hypervisor, then closes them within
    /// connect_timeout: a libvirtd that freezes after a verified off must not turn a done fence
    /// into a timeout (the result is reported when the close hangs).
    func perform(_ action: FenceAction, target: String?) throws(FenceFailure) -> FenceResult {
        let hypervisors = Hypervisors(fencing: self)
        let outcome: Result<FenceResult, FenceFailure>
        do throws(FenceFailure) {
            outcome = .success(try run(action, target: target, on: hypervisors))
        } catch {
            outcome = .failure(error)
        }
        switch outcome {
        case .success(let result): hypervisors.close(reporting: result)
        case .failure(let failure):
            log.error(failure.reason)
            hypervisors.close(reporting: FenceResult(exitCode: 1, output: ""))
        }
        return try outcome.get()
    }

    private func run(_ action: FenceAction, target: String?, on hypervisors: Hypervisors) throws(FenceFailure) -> FenceResult {
        switch action {
        case .monitor:
            for (uri, connection) in try hypervisors.all() {
                _ = try query("asking \(uri.text) for its version") { () throws(LibvirtError) in try connection.libraryVersion() }
            }
            return .success
        case .list, .listStatus:
            return try list(withStatus: action == .listStatus, on: hypervisors)
        case .status:
            return try status(of: target!, on: hypervisors)
        case .off:
            try pause(parameters.delay, "delay before fencing")
            return try off(target!, on: hypervisors)
        case .on:
            return try on(target!, on: hypervisors)
        case .reboot:
            try pause(parameters.delay, "delay before fencing")
            return parameters.rebootMethod == .reset ? try reset(target!, on: hypervisors) : try reboot(target!, on: hypervisors)
        case .metadata, .manpage, .validateAll:
            return .success
        }
    }

    // MARK: Actions

    /// Every domain of every hypervisor, once (by name); ON when any hypervisor runs it.
    func list(withStatus: Bool, on hypervisors: Hypervisors) throws(FenceFailure) -> FenceResult {
        var order: [String] = []
        var seen: [String: (uuid: String, active: Bool)] = [:]
        for (uri, connection) in try hypervisors.all() {
            let domains = try query("listing the domains of \(uri.text)") { () throws(LibvirtError) -> [(String, String, Bool)] in
                try connection.allDomains().map { domain throws(LibvirtError) in (domain.name, domain.uuid, withStatus ? try domain.isActive() : false) }
            }
            for (name, uuid, active) in domains {
                if seen[name] == nil { order.append(name) }
                seen[name] = (uuid, active || seen[name]?.active == true)
            }
        }
        let lines = order.map { name in
            let entry = seen[name]!
            return withStatus ? "\(name),\(entry.uuid),\(entry.active ? "ON" : "OFF")" : "\(name),\(entry.uuid)"
        }
        return FenceResult(output: lines.map { $0 + "\n" }.joined())
    }

    /// ON when any hypervisor runs it; OFF when every one that defines it has it off.
    func status(of target: String, on hypervisors: Hypervisors) throws(FenceFailure) -> FenceResult {
        let found = try locate(target, on: hypervisors)
        guard !found.isEmpty else {
            guard parameters.missingAsOff else { throw notFound(target) }
            return FenceResult(exitCode: 2, output: "Status: OFF\n")
        }
        for (_, domain) in found where try isActive(domain) { return FenceResult(output: "Status: ON\n") }
        return FenceResult(exitCode: 2, output: "Status: OFF\n")
    }

    /// Off wherever it runs, verified on every hypervisor.
    func off(_ target: String, on hypervisors: Hypervisors) throws(FenceFailure) -> FenceResult {
        let found = try locate(target, on: hypervisors)
        guard !found.isEmpty else {
            guard parameters.missingAsOff else { throw notFound(target) }
            log.info("domain \(target) does not exist: counted as off (missing_as_off)")
            return FenceResult(output: "Success: Already OFF\n")
        }
        var powered = false
        for (uri, domain) in found where try isActive(domain) {
            try powerOff(domain, on: uri)
            powered = true
        }
        return FenceResult(output: powered ? "Success: Powered OFF\n" : "Success: Already OFF\n")
    }

    func on(_ target: String, on hypervisors: Hypervisors) throws(FenceFailure) -> FenceResult {
        let found = try locate(target, on: hypervisors)
        guard let first = found.first else { throw notFound(target) }
        for (_, domain) in found where try isActive(domain) { return FenceResult(output: "Success: Already ON\n") }
        try powerOn(first.domain, on: first.uri)
        return FenceResult(output: "Success: Powered ON\n")
    }

    /// Off (everywhere), verified, then on where it ran (or on the first hypervisor that
    /// defines it). The node is fenced once it is verified off: a failed start after that is
    /// reported on stderr, and the reboot still succeeds (as fence-agents does).
    func reboot(_ target: String, on hypervisors: Hypervisors) throws(FenceFailure) -> FenceResult {
        let found = try locate(target, on: hypervisors)
        guard !found.isEmpty else { return try missingRebooted(target) }
        var ranOn: (uri: HypervisorURI, domain: Domain)?
        for (uri, domain) in found where try isActive(domain) {
            try powerOff(domain, on: uri)
            if ranOn == nil { ranOn = (uri, domain) }
        }
        let restart = ranOn ?? found[0]
        try pause(parameters.powerWait, "power_wait")
        let offOnly = "Success: Rebooted (off; not started)\n"
        do throws(FenceFailure) {
            try powerOn(restart.domain, on: restart.uri, whenTimedOut: (0, offOnly))
        } catch {
            log.error("\(target) is off, but starting it again failed: \(error.reason)")
            return FenceResult(output: offOnly)
        }
        return FenceResult(output: "Success: Rebooted\n")
    }

    /// A reboot of a domain no hypervisor knows: off with `missing_as_off`, and it cannot be started.
    func missingRebooted(_ target: String) throws(FenceFailure) -> FenceResult {
        guard parameters.missingAsOff else { throw notFound(target) }
        log.error("domain \(target) does not exist: counted as off (missing_as_off), and it cannot be started")
        return FenceResult(output: "Success: Rebooted (off; not started)\n")
    }

    /// A hardware reset wherever it runs; one that is off everywhere is started.
    func reset(_ target: String, on hypervisors: Hypervisors) throws(FenceFailure) -> FenceResult {
        let found = try locate(target, on: hypervisors)
        guard !found.isEmpty else { return try missingRebooted(target) }
        var reset = false
        for (uri, domain) in found where try isActive(domain) {
            try power("resetting \(target) on \(uri.text)") { () throws(FenceFailure) in
                do throws(LibvirtError) { try domain.reset() } catch { throw FenceFailure("resetting \(target) failed: \(error.message)") }
            }
            reset = true
        }
        guard reset else {
            try powerOn(found[0].domain, on: found[0].uri)
            return FenceResult(output: "Success: Rebooted (was off, started)\n")
        }
        return FenceResult(output: "Success: Rebooted (reset)\n")
    }

    /// The domain on each hypervisor that defines it, in the order of `uri`; every hypervisor
    /// must answer (one that cannot be asked may run it).
    func locate(_ target: String, on hypervisors: Hypervisors) throws(FenceFailure) -> [(uri: HypervisorURI, domain: Domain)] {
        var found: [(uri: HypervisorURI, domain: Domain)] = []
        for (uri, connection) in try hypervisors.all() {
            if let domain = try query("looking up \(target) on \(uri.text)", { () throws(LibvirtError) in try connection.domain(target) }) {
                found.append((uri, domain))
            }
        }
        return found
    }

    // MARK: Power changes, verified

    /// Destroys the domain and waits until libvirt reports it inactive (or gone: a transient
    /// domain disappears when destroyed).
    func powerOff(_ domain: Domain, on uri: HypervisorURI) throws(FenceFailure) {
        let name = domain.name
        try power("powering off \(name) on \(uri.text)") { () throws(FenceFailure) in
            var failure: LibvirtError?
            do throws(LibvirtError) { try domain.destroy() } catch { failure = error }
            while true {
                do throws(LibvirtError) {
                    if try !domain.isActive() { return }
                } catch where error.isNoDomain {
                    log.info("\(name) disappeared when destroyed (a transient domain): it is off")
                    return
                } catch {
                    throw FenceFailure("cannot verify that \(name) is off: \(error.message)")
                }
                if let failure, !failure.isOperationInvalid {
                    throw FenceFailure("powering off \(name) failed: \(failure.message)")
                }
                sleep(for: .milliseconds(50))
            }
        }
        log.info("\(name) is off on \(uri.text)")
    }

    /// Starts the domain and waits until libvirt reports it active.
    /// - Parameter whenTimedOut: the exit code and output if power_timeout passes (a failure by default).
    func powerOn(_ domain: Domain, on uri: HypervisorURI, whenTimedOut: (Int32, String) = (1, "")) throws(FenceFailure) {
        let name = domain.name
        try power("powering on \(name) on \(uri.text)", whenTimedOut: whenTimedOut) { () throws(FenceFailure) in
            do throws(LibvirtError) { try domain.create() } catch where error.isOperationInvalid {
                // Already active (started meanwhile): verified below.
            } catch {
                throw FenceFailure("powering on \(name) failed: \(error.message)")
            }
            while true {
                do throws(LibvirtError) {
                    if try domain.isActive() { return }
                } catch {
                    throw FenceFailure("cannot verify that \(name) runs: \(error.message)")
                }
                sleep(for: .milliseconds(50))
            }
        }
        log.info("\(name) is on on \(uri.text)")
    }

    // MARK: Connections and calls, each with a deadline

    /// Opens a connection to one hypervisor within connect_timeout.
    func connect(_ uri: HypervisorURI) throws(FenceFailure) -> Connection {
        let session = SSHSession(parameters: parameters, uri: uri)
        try session.prepare()
        defer { session.finish() }
        return try Watchdog.within(.seconds(parameters.connectTimeout), "connecting to \(uri.text)", log: log) { () throws(FenceFailure) in
            do throws(LibvirtError) {
                return try Connection(uri: session.connectionURI)
            } catch {
                throw FenceFailure("cannot connect to \(uri.text): \(error.message)")
            }
        }
    }

    func isActive(_ domain: Domain) throws(FenceFailure) -> Bool {
        try query("reading the state of \(domain.name)") { () throws(LibvirtError) in try domain.isActive() }
    }

    /// One query over an open connection, within connect_timeout.
    func query<T>(_ what: String, _ body: () throws(LibvirtError) -> T) throws(FenceFailure) -> T {
        try Watchdog.within(.seconds(parameters.connectTimeout), what, log: log) { () throws(FenceFailure) in
            do throws(LibvirtError) { return try body() } catch { throw FenceFailure("\(what) failed: \(error.message)") }
        }
    }

    /// A power change and its verification, within power_timeout.
    func power(_ what: String, whenTimedOut: (Int32, String) = (1, ""), _ body: () throws(FenceFailure) -> Void) throws(FenceFailure) {
        try Watchdog.within(.seconds(parameters.powerTimeout), what, log: log, exitCode: whenTimedOut.0, output: whenTimedOut.1, body)
    }

    func pause(_ seconds: Int, _ why: String) throws(FenceFailure) {
        guard seconds > 0 else { return }
        log.info("waiting \(seconds) s (\(why))")
        sleep(for: .seconds(seconds))
    }

    func notFound(_ target: String) -> FenceFailure {
        FenceFailure("domain \(target) not found on \(parameters.uri.text) (set missing_as_off=1 to count a missing domain as off)")
    }

    /// A libvirt domain name or UUID, without characters a log or shell would misread.
    static func isDomainIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 255 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._+:@-".contains($0)) }
    }
}

/// The device's hypervisors, each connected on first use and closed at the end of the action.
final class Hypervisors {
    let fencing: LibvirtFencing
    private var connections: [(uri: HypervisorURI, connection: Connection)] = []

    init(fencing: LibvirtFencing) { self.fencing = fencing }

    /// A connection to every hypervisor, in the order of `uri`.
    func all() throws(FenceFailure) -> [(uri: HypervisorURI, connection: Connection)] {
        for uri in fencing.parameters.uri.all where !connections.contains(where: { $0.uri == uri }) {
            connections.append((uri, try fencing.connect(uri)))
        }
        return connections
    }

    /// Closes each connection within connect_timeout; if one hangs (its libvirtd froze after
    /// the work was done), the process reports `result` and exits.
    func close(reporting result: FenceResult) {
        let limit = Duration.seconds(fencing.parameters.connectTimeout)
        for (uri, connection) in connections {
            Watchdog.within(limit, "closing the connection to \(uri.text)", log: fencing.log, exitCode: result.exitCode,
                            output: result.output, warning: "the action was done already") {
                connection.close()
            }
        }
        connections = []
    }

}
