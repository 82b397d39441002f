import Addresses
import Netlink
import OCF
import OCFNetlink

/// The parameters of `ocf:tandem:ipvs-sync`, each declared once.
struct SyncParameters: ParameterSet {
    @Parameter("interface", short: "Interface for the sync traffic",
               long: "The interface the sync daemons send and receive connection state on (multicast), e.g. eth1.")
    var interface: InterfaceName

    @Parameter("syncid", short: "Sync ID", long: "Tells director pairs on one network apart (0 to 255).", valid: 0...255)
    var syncID: Int = 0

    @Parameter("maxlen", short: "Maximum sync message length",
               long: """
                   The largest sync message in bytes, 1024 to 65507 (65487 with an IPv6 group): the kernel raises \
                   a backup daemon's below 1024. 0 lets the kernel derive it from the interface MTU.
                   """, valid: 0...65_507)
    var maximumLength: Int = 0

    @Parameter("group", short: "Multicast group",
               long: "The multicast group of the sync messages, IPv4 or IPv6. Default: 224.0.0.81.")
    var group: IPAddress? = nil

    @Parameter("port", short: "UDP port", long: "The UDP port of the sync messages; 0 for the kernel's default, 8848.", valid: 0...65_535)
    var port: Int = 0

    @Parameter("ttl", short: "Multicast TTL", long: "The TTL of the sync messages (1 keeps them on the local network).", valid: 1...255)
    var ttl: Int = 1

    @Parameter("netns", short: "Network namespace",
               long: "The network namespace whose IPVS runs the daemons: a name from /run/netns or an absolute path. Default: the agent's own.")
    var netns: NamespaceReference? = nil

    init() {}

    func validate() throws(ParameterProblems) {
        var problems = ParameterProblems()
        if let group, !group.isMulticast { problems.add("group", "\(group) is not a multicast address") }
        // The kernel clamps a backup daemon's maxlen to 1024 and any to 65535 less the headers;
        // a value it would change would make the running daemon look unlike its configuration.
        let largest = group?.family == .inet6 ? 65_487 : 65_507
        if maximumLength != 0 && !(1024...largest).contains(maximumLength) {
            problems.add("maxlen", "\(maximumLength) is not 0 or between 1024 and \(largest)")
        }
        guard problems.isEmpty else { throw problems }
    }

    /// The daemon for a role.
    func daemon(_ state: IPVSSyncDaemon.State) -> IPVSSyncDaemon {
        IPVSSyncDaemon(state: state, interface: interface.rawValue, syncID: UInt8(syncID), maximumLength: UInt16(maximumLength),
                       group: group, port: UInt16(port), ttl: UInt8(ttl))
    }
}
