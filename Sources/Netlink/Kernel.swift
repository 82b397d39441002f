import Addresses
import Glibc

/// The kernel tables Tandem's agents read and change, reached per network namespace: the
/// seam where tests put fakes (OCFTesting's `FakeKernel`). Agents see only these protocols;
/// `LiveKernel` is the real thing, over libnl.
public protocol Kernel: Sendable {
    /// The addresses, links and routes of a namespace (a path such as `/run/netns/lvs`;
    /// this process's own when `nil`).
    /// - Throws: `NetlinkError` of kind `.noNamespace` when the namespace is not there.
    func routes(in namespace: String?) throws(NetlinkError) -> any AddressTable

    /// The IPVS table of a namespace.
    /// - Throws: `NetlinkError` of kind `.noNamespace` when the namespace is not there, of
    ///   kind `.notFound` naming `genl_ctrl_resolve(IPVS)` when the kernel has no IPVS.
    func ipvs(in namespace: String?) throws(NetlinkError) -> any IPVSTable
    /// Whether IPVS is in the kernel now (a module loaded, or built in). Opening the table loads
    /// the module when it is not; a probe asks first, and changes nothing.
    var isIPVSLoaded: Bool { get }
}

extension Kernel {
    public var isIPVSLoaded: Bool { true }
}

/// Addresses, links and routes: what `vip` needs of rtnetlink.
public protocol AddressTable: AnyObject {
    /// Every address of every interface: one RTM_GETADDR dump.
    func addresses() throws(NetlinkError) -> [InterfaceAddress]
    /// Adds an address; `.exists` when it is on the interface already.
    func add(_ request: AddressRequest) throws(NetlinkError)
    /// Deletes exactly this address, prefix and interface; `.notFound` when it is not there.
    func deleteAddress(_ address: IPAddress, prefixLength: Int, interfaceIndex: Int32) throws(NetlinkError)
    func link(named name: InterfaceName) throws(NetlinkError) -> Link?
    func link(index: Int32) throws(NetlinkError) -> Link?
    /// The route the kernel would use for `destination`, with its real prefix; `nil` when none.
    func route(to destination: IPAddress) throws(NetlinkError) -> Route?
    /// Waits until IPv6 duplicate address detection of one address has ended.
    func waitForDuplicateAddressDetection(of address: IPAddress, interfaceIndex: Int32,
                                          deadline: ContinuousClock.Instant) throws(NetlinkError) -> DuplicateAddressDetection
}

/// Virtual services, real servers and sync daemons: what `ipvs` and `ipvs-sync` need of the
/// IPVS generic-netlink family.
public protocol IPVSTable: AnyObject {
    func services() throws(NetlinkError) -> [IPVSService]
    /// One service, or `nil` when there is none with this identity.
    func service(_ identity: IPVSService.Identity) throws(NetlinkError) -> IPVSService?
    /// The real servers of a service with their counters; empty when the service is absent.
    func destinations(of identity: IPVSService.Identity) throws(NetlinkError) -> [IPVSDestination]
    func daemons() throws(NetlinkError) -> [IPVSSyncDaemon]
    /// Applies changes in order and returns each one's outcome (`nil`: done). The kernel
    /// handles each on its own: a failure does not stop the ones after it.
    /// - Throws: when the requests could not be sent or answered at all; some may have been applied.
    func apply(_ operations: [IPVSOperation]) throws(NetlinkError) -> [NetlinkError?]
}

extension RouteSocket: AddressTable {}
extension IPVSSocket: IPVSTable {}

/// The node's kernel, over libnl: a socket per call, in the namespace asked for.
public struct LiveKernel: Kernel {
    /// No answer is waited for past it (the action's deadline).
    public let deadline: ContinuousClock.Instant?

    public init(deadline: ContinuousClock.Instant? = nil) { self.deadline = deadline }

    public func routes(in namespace: String?) throws(NetlinkError) -> any AddressTable {
        try RouteSocket(in: try namespace.map(NetworkNamespace.init(path:)), deadline: deadline)
    }

    public func ipvs(in namespace: String?) throws(NetlinkError) -> any IPVSTable {
        try IPVSSocket(in: try namespace.map(NetworkNamespace.init(path:)), deadline: deadline)
    }

    /// /sys/module/ip_vs exists while the module is loaded (or IPVS is built in).
    public var isIPVSLoaded: Bool { access("/sys/module/ip_vs", F_OK) == 0 }
}
