import Glibc
import FenceAgent
import Libvirt
import OCF

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
        for name in ["keyfile", "known_hosts"] {
            if let file = parameters.uri.parameter(name), access(file, R_OK) != 0 {
                throw FenceFailure("uri: \(name) \(file) cannot be read (\(String(cString: strerror(errno))))")
            }
        }
        if let file = parameters.knownHosts, access(file, R_OK) != 0 {
            throw FenceFailure("known_hosts: \(file) cannot be read (\(String(cString: strerror(errno))))")
        }
    }

    func perform(_ action: FenceAction, target: String?) throws(FenceFailure) -> FenceResult {
        switch action {
        case .monitor:
            let connection = try connect()
            _ = try query("asking \(parameters.uri.text) for its version") { () throws(LibvirtError) in try connection.libraryVersion() }
            return .success
        case .list, .listStatus:
            return try list(withStatus: action == .listStatus)
        case .status:
            return try status(of: target!)
        case .off:
            try pause(parameters.delay, "delay before fencing")
            return try off(target!)
        case .on:
            return try on(target!)
        case .reboot:
            try pause(parameters.delay, "delay before fencing")
            return parameters.rebootMethod == .reset ? try reset(target!) : try reboot(target!)
        case .metadata, .manpage, .validateAll:
            return .success
        }
    }

    // MARK: Actions

    func list(withStatus: Bool) throws(FenceFailure) -> FenceResult {
        let connection = try connect()
        let lines = try query("listing the domains of \(parameters.uri.text)") { () throws(LibvirtError) -> [String] in
            try connection.allDomains().map { domain throws(LibvirtError) in
                withStatus ? "\(domain.name),\(domain.uuid),\(try domain.isActive() ? "ON" : "OFF")" : "\(domain.name),\(domain.uuid)"
            }
        }
        return FenceResult(output: lines.map { $0 + "\n" }.joined())
    }

    func status(of target: String) throws(FenceFailure) -> FenceResult {
        let connection = try connect()
        guard let domain = try find(target, on: connection) else {
            guard parameters.missingAsOff else { throw notFound(target) }
            return FenceResult(exitCode: 2, output: "Status: OFF\n")
        }
        return try isActive(domain) ? FenceResult(output: "Status: ON\n") : FenceResult(exitCode: 2, output: "Status: OFF\n")
    }

    func off(_ target: String) throws(FenceFailure) -> FenceResult {
        let connection = try connect()
        guard let domain = try find(target, on: connection) else {
            guard parameters.missingAsOff else { throw notFound(target) }
            log.info("domain \(target) does not exist: counted as off (missing_as_off)")
            return FenceResult(output: "Success: Already OFF\n")
        }
        guard try isActive(domain) else { return FenceResult(output: "Success: Already OFF\n") }
        try powerOff(domain)
        return FenceResult(output: "Success: Powered OFF\n")
    }

    func on(_ target: String) throws(FenceFailure) -> FenceResult {
        let connection = try connect()
        guard let domain = try find(target, on: connection) else { throw notFound(target) }
        guard try !isActive(domain) else { return FenceResult(output: "Success: Already ON\n") }
        try powerOn(domain)
        return FenceResult(output: "Success: Powered ON\n")
    }

    /// Off, verified, then on. The node is fenced once it is verified off: a failed start after
    /// that is reported on stderr, and the reboot still succeeds (as fence-agents does).
    func reboot(_ target: String) throws(FenceFailure) -> FenceResult {
        let connection = try connect()
        guard let domain = try find(target, on: connection) else { return try missingRebooted(target) }
        if try isActive(domain) { try powerOff(domain) }
        try pause(parameters.powerWait, "power_wait")
        let offOnly = "Success: Rebooted (off; not started)\n"
        do throws(FenceFailure) {
            try powerOn(domain, whenTimedOut: (0, offOnly))
        } catch {
            log.error("\(target) is off, but starting it again failed: \(error.reason)")
            return FenceResult(output: offOnly)
        }
        return FenceResult(output: "Success: Rebooted\n")
    }

    /// A reboot of a domain the hypervisor does not know: off with `missing_as_off`, and it cannot be started.
    func missingRebooted(_ target: String) throws(FenceFailure) -> FenceResult {
        guard parameters.missingAsOff else { throw notFound(target) }
        log.error("domain \(target) does not exist: counted as off (missing_as_off), and it cannot be started")
        return FenceResult(output: "Success: Rebooted (off; not started)\n")
    }

    /// A hardware reset of a running domain; one that is off is started.
    func reset(_ target: String) throws(FenceFailure) -> FenceResult {
        let connection = try connect()
        guard let domain = try find(target, on: connection) else { return try missingRebooted(target) }
        guard try isActive(domain) else {
            try powerOn(domain)
            return FenceResult(output: "Success: Rebooted (was off, started)\n")
        }
        try power("resetting \(target)") { () throws(FenceFailure) in
            do throws(LibvirtError) { try domain.reset() } catch { throw FenceFailure("resetting \(target) failed: \(error.message)") }
        }
        return FenceResult(output: "Success: Rebooted (reset)\n")
    }

    // MARK: Power changes, verified

    /// Destroys the domain and waits until libvirt reports it inactive (or gone: a transient
    /// domain disappears when destroyed).
    func powerOff(_ domain: Domain) throws(FenceFailure) {
        let name = domain.name
        try power("powering off \(name)") { () throws(FenceFailure) in
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
        log.info("\(name) is off")
    }

    /// Starts the domain and waits until libvirt reports it active.
    /// - Parameter whenTimedOut: the exit code and output if power_timeout passes (a failure by default).
    func powerOn(_ domain: Domain, whenTimedOut: (Int32, String) = (1, "")) throws(FenceFailure) {
        let name = domain.name
        try power("powering on \(name)", whenTimedOut: whenTimedOut) { () throws(FenceFailure) in
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
        log.info("\(name) is on")
    }

    // MARK: Connections and calls, each with a deadline

    func connect() throws(FenceFailure) -> Connection {
        let uri = parameters.uri
        let session = SSHSession(parameters: parameters)
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

    func find(_ target: String, on connection: Connection) throws(FenceFailure) -> Domain? {
        try query("looking up \(target) on \(parameters.uri.text)") { () throws(LibvirtError) in try connection.domain(target) }
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
