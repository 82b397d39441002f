import Glibc
import FenceAgent
import Libvirt
import OCF
import POSIX
import PowerFencing

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

    /// Runs the action over connections to every hypervisor of `uri` (the power sequence
    /// verifies every change and keeps every call within its deadline).
    func perform(_ action: FenceAction, target: String?) throws(FenceFailure) -> FenceResult {
        let settings = PowerSettings(connectTimeout: .seconds(parameters.connectTimeout), powerTimeout: .seconds(parameters.powerTimeout),
                                     powerWait: .seconds(parameters.powerWait), delay: .seconds(parameters.delay),
                                     missingAsOff: parameters.missingAsOff, rebootByReset: parameters.rebootMethod == .reset)
        let uris = parameters.uri.all
        let sequence = PowerSequence(settings: settings, hypervisors: uris.map(\.text), log: log) { name in
            guard let uri = uris.first(where: { $0.text == name }) else { throw FenceFailure("no hypervisor \(name)") }
            return try connect(uri)
        }
        return try sequence.perform(action, target: target)
    }

    /// Opens one hypervisor (the power sequence bounds it by connect_timeout); over ssh, with
    /// the options of this device.
    func connect(_ uri: HypervisorURI) throws(FenceFailure) -> LibvirtHypervisor {
        let session = SSHSession(parameters: parameters, uri: uri)
        try session.prepare()
        defer { session.finish() }
        do throws(LibvirtError) {
            return LibvirtHypervisor(try Connection(uri: session.connectionURI))
        } catch {
            throw FenceFailure("cannot connect to \(uri.text): \(error.message)")
        }
    }

    /// A libvirt domain name or UUID, without characters a log or shell would misread.
    static func isDomainIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 255 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._+:@-".contains($0)) }
    }
}
