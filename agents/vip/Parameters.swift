import Addresses
import OCF

/// The parameters of `ocf:tandem:vip`, each declared once.
struct VIPParameters: ParameterSet {
    @Parameter("ip", .unique, short: "The virtual IPv4 or IPv6 address",
               long: "The floating address, IPv4 (192.0.2.10) or IPv6 (2001:db8::10). It must be unique in the cluster.")
    var ip: IPAddress

    @Parameter("cidr_netmask", short: "Prefix length of the address",
               long: """
                   The prefix length, e.g. 24 or 64 (a contiguous IPv4 netmask such as 255.255.255.0 is accepted too). \
                   Default: the prefix of the connected route the kernel would use for the address. \
                   nic and cidr_netmask are resolved once at start and recorded, so a later routing change never \
                   makes a healthy address look failed.
                   """)
    var cidrNetmask: PrefixLength? = nil

    @Parameter("nic", short: "Interface to put the address on",
               long: """
                   The network interface, e.g. eth0. Default: the interface whose connected route the kernel would \
                   use for the address. With lvs_dr_realserver, the interface whose ARP behaviour is adjusted.
                   """)
    var nic: InterfaceName? = nil

    @Parameter("broadcast", short: "IPv4 broadcast address",
               long: "The IPv4 broadcast address. Default: the last address of the subnet (none for /31 and /32).")
    var broadcast: IPv4Address? = nil

    @Parameter("iflabel", short: "IPv4 address label suffix",
               long: "A label for the IPv4 address, shown as <nic>:<iflabel> (at most 15 characters in all).")
    var iflabel: String? = nil

    @Parameter("lvs_dr_realserver", short: "Set up an LVS-DR real server",
               long: """
                   Put the address on lo with a host prefix (/32 or /128) so this node accepts traffic an LVS \
                   director forwards to it in direct-routing mode, without ever answering ARP for it: \
                   arp_ignore=1 and arp_announce=2 are set on nic and on all (IPv4), and put back at stop when \
                   no other real-server address needs them. IPv6 needs no sysctl: Linux answers neighbour \
                   solicitations only for addresses of the receiving interface; the address is added with a \
                   preferred lifetime of 0 so it is never chosen as a source address. No announcements are sent.
                   """)
    var lvsDRRealServer: Bool = false

    @Parameter("arp_count", .reloadable, short: "Announcements to send at start",
               long: """
                   How many gratuitous ARP rounds (IPv4) or unsolicited neighbour advertisements (IPv6) to send \
                   when the address starts. The first leaves at once; the rest follow in the background, \
                   arp_interval_ms apart, and stop as soon as the address is removed. 0 sends none.
                   """, valid: 0...100)
    var arpCount: Int = 5

    @Parameter("arp_interval_ms", .reloadable, short: "Milliseconds between announcements",
               long: "The pause between two announcement rounds, in milliseconds.", valid: 10...10_000)
    var arpIntervalMilliseconds: Int = 200

    @Parameter("arp_mode", .reloadable, short: "Gratuitous ARP as request, reply or both",
               long: """
                   The kind of gratuitous ARP frame: request (what Linux itself sends), reply (for switches and \
                   firewalls that only learn from replies), or both in each round.
                   """)
    var arpMode: ARPMode = .request

    @Parameter("arp_refresh_on_monitor", .reloadable, short: "Announce again at every monitor",
               long: "Send one announcement round at every recurring monitor, to keep neighbours' caches fresh.")
    var arpRefreshOnMonitor: Bool = false

    @Parameter("nodad", short: "Skip IPv6 duplicate address detection",
               long: "Add the IPv6 address without duplicate address detection, so it is usable at once.")
    var noDAD: Bool = false

    @Parameter("preferred_lft", short: "Preferred lifetime",
               long: """
                   The preferred lifetime in seconds, or forever. 0 adds the address deprecated: it receives \
                   traffic but is not chosen as a source address (useful for IPv6 service addresses).
                   """)
    var preferredLifetime: Lifetime = .forever

    @Parameter("noprefixroute", short: "Do not add a prefix route",
               long: "Add the address without the route to its subnet (the kernel's noprefixroute flag).")
    var noPrefixRoute: Bool = false

    @Parameter("check_link", .reloadable, short: "Fail when the link is down",
               long: "Refuse to start, and fail the monitor, when nic is down or has no carrier.")
    var checkLink: Bool = true

    init() {}

    /// Options that contradict each other or the address family.
    func validate() throws(ParameterProblems) {
        var problems = ParameterProblems()
        let family = ip.family
        if let reason = VIPParameters.unusable(ip) { problems.add("ip", reason) }
        if let prefix = cidrNetmask {
            if prefix.isDottedMask && family == .inet6 {
                problems.add("cidr_netmask", "a dotted netmask cannot describe an IPv6 prefix")
            } else if !(1...family.maximumPrefixLength).contains(prefix.length) {
                problems.add("cidr_netmask", "\(prefix.length) is out of range for \(family) (1 to \(family.maximumPrefixLength))")
            } else if case .v4(let v4) = ip, prefix.length <= 30 {
                let mask = IPv4Address.netmask(prefixLength: prefix.length).value
                if v4.value & ~mask == 0 { problems.add("ip", "\(ip) is the network address of its /\(prefix.length)") }
                if v4.value & ~mask == ~mask { problems.add("ip", "\(ip) is the broadcast address of its /\(prefix.length)") }
            }
        }
        if family == .inet6 {
            if broadcast != nil { problems.add("broadcast", "IPv6 has no broadcast addresses") }
            if iflabel != nil { problems.add("iflabel", "IPv6 addresses have no labels") }
        } else if noDAD {
            problems.add("nodad", "duplicate address detection is IPv6 only")
        }
        if let label = iflabel, AddressLabel(interface: nic ?? .loopback, suffix: label) == nil {
            problems.add("iflabel", "'\(label)' is not a valid label (A-Z a-z 0-9 _ . -, with the nic name at most 15 characters)")
        }
        if nic == .loopback && !lvsDRRealServer {
            problems.add("nic", "lo cannot announce an address to the network (for an LVS-DR real server set lvs_dr_realserver=true)")
        }
        if lvsDRRealServer {
            if let prefix = cidrNetmask, prefix.length != family.maximumPrefixLength {
                problems.add("cidr_netmask", "an LVS-DR real-server address is a host address (/\(family.maximumPrefixLength)) on lo")
            }
            if broadcast != nil { problems.add("broadcast", "an LVS-DR real-server address has no broadcast address") }
            if arpRefreshOnMonitor { problems.add("arp_refresh_on_monitor", "an LVS-DR real server must never announce the address") }
            if noPrefixRoute { problems.add("noprefixroute", "an LVS-DR real-server address on lo has no prefix route to drop") }
        }
        if let broadcast, let prefix = cidrNetmask, prefix.length > 30 {
            problems.add("broadcast", "a /\(prefix.length) has no broadcast address (\(broadcast) given)")
        }
        guard problems.isEmpty else { throw problems }
    }

    /// Why an address can never be a floating service address, if it cannot.
    static func unusable(_ address: IPAddress) -> String? {
        switch address {
        case .v4(let a):
            if a.isUnspecified { return "0.0.0.0 is not a usable address" }
            if a.isLoopback { return "\(a) is a loopback address" }
            if a.isMulticast { return "\(a) is a multicast address" }
            if a.isLimitedBroadcast { return "255.255.255.255 is the limited broadcast address" }
            if a.isReserved { return "\(a) is in the reserved 240.0.0.0/4" }
        case .v6(let a):
            if a.isUnspecified { return ":: is not a usable address" }
            if a.isLoopback { return "::1 is the loopback address" }
            if a.isMulticast { return "\(a) is a multicast address" }
            if a.isLinkLocal { return "\(a) is link-local; a floating address must be global or unique-local" }
            if a.isIPv4Mapped { return "\(a) is IPv4-mapped; configure the IPv4 address instead" }
        }
        return nil
    }
}

/// A prefix length, given as a number or as a contiguous IPv4 netmask.
struct PrefixLength: OCFValue, Equatable {
    let length: Int
    let isDottedMask: Bool

    init(length: Int) {
        self.length = length
        self.isDottedMask = false
    }

    init(ocfValue text: String) throws(ValueError) {
        if let number = Int(text), text.first != "+" {
            guard (0...128).contains(number) else { throw ValueError("\(number) is not a prefix length (0 to 128)") }
            length = number
            isDottedMask = false
        } else if let mask = IPv4Address(text) {
            guard let prefix = mask.contiguousPrefixLength else { throw ValueError("'\(text)' is not a contiguous netmask") }
            length = prefix
            isDottedMask = true
        } else {
            throw ValueError("'\(text)' is not a prefix length such as 24 or 64")
        }
    }

    var ocfValue: String { String(length) }
    static var contentType: ContentType { .string }
}

/// The kind of gratuitous ARP frames.
enum ARPMode: String, OCFEnumeration {
    case request, reply, both
}

/// An address lifetime: seconds, or forever.
enum Lifetime: OCFValue, Equatable {
    case forever
    case seconds(UInt32)

    init(ocfValue text: String) throws(ValueError) {
        if text == "forever" || text == "infinity" {
            self = .forever
        } else if let seconds = UInt32(text), seconds < UInt32.max {
            self = .seconds(seconds)
        } else {
            throw ValueError("'\(text)' is not a lifetime (seconds, or forever)")
        }
    }

    var ocfValue: String {
        switch self {
        case .forever: "forever"
        case .seconds(let seconds): String(seconds)
        }
    }

    static var contentType: ContentType { .string }

    /// The kernel's value: 0xFFFFFFFF is forever.
    var kernelValue: UInt32 {
        switch self {
        case .forever: 0xFFFF_FFFF
        case .seconds(let seconds): seconds
        }
    }
}
