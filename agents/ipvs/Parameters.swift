import Addresses
import LVS
import Netlink
import OCF
import OCFNetlink

/// The parameters of `ocf:tandem:ipvs`, each declared once.
struct IPVSParameters: ParameterSet {
    @Parameter("service", .unique, short: "The virtual service",
               long: """
                   The virtual service: tcp:ADDR:PORT, udp:ADDR:PORT or sctp:ADDR:PORT (IPv6 in brackets, \
                   tcp:[2001:db8::10]:443), or fwmark:MARK[:inet|inet6] for a firewall-mark service.
                   """)
    var service: ServiceSpec

    @Parameter("scheduler", .reloadable, short: "Scheduling algorithm",
               long: "How new connections are spread over the real servers (the kernel's ip_vs_<name> module).")
    var scheduler: Scheduler = .wlc

    @Parameter("sched_flags", .reloadable, short: "Scheduler flags",
               long: """
                   Comma-separated scheduler flags: sh-fallback and sh-port (sh), mh-fallback and mh-port (mh), \
                   or flag-1, flag-2, flag-3 for any scheduler.
                   """)
    var schedulerFlags: String? = nil

    @Parameter("persistent", .reloadable, short: "Persistence timeout in seconds",
               long: "Send a client back to the same real server for this many seconds after its last connection. 0 turns persistence off.",
               valid: 0...2_592_000)
    var persistent: Int = 0

    @Parameter("netmask", .reloadable, short: "Persistence granularity",
               long: """
                   Clients in one network count as one for persistence: an IPv4 netmask (255.255.255.0, or a \
                   prefix length such as 24) or an IPv6 prefix length. Default: each address on its own.
                   """)
    var netmask: String? = nil

    @Parameter("one_packet", .reloadable, short: "One-packet scheduling",
               long: "Schedule every UDP datagram on its own, without a connection entry (UDP and fwmark services).")
    var onePacket: Bool = false

    @Parameter("pe", .reloadable, short: "Persistence engine",
               long: "A persistence engine that groups connections by application data: sip (Call-ID). Needs persistent.")
    var persistenceEngine: PersistenceEngine? = nil

    @Parameter("realservers", .reloadable, short: "Real servers",
               long: """
                   Comma-separated real servers, each ADDR[:PORT] [gate|masq|ipip[:gue:PORT|:gre]] [WEIGHT] \
                   [lthresh=N] [uthresh=N]: direct routing (gate, the default), NAT (masq) or IP-in-IP tunnelling, \
                   weight 0 to 65535 (default 1; 0 takes no new connections), connection thresholds. The port \
                   defaults to the service's; gate and ipip cannot change it. IPv6 in brackets: [2001:db8::11]:443.
                   """)
    var realservers: String = ""

    @Parameter("on_drift", .reloadable, short: "What monitor does about drift",
               long: """
                   When the kernel's table differs from the configuration (a real server deleted or added by hand, \
                   another weight, scheduler or flag): repair it and log what changed, report it as degraded \
                   (OCF_DEGRADED), or fail the monitor. Weights and real servers the health checker \
                   (ocf:tandem:healthcheck) took over are never drift.
                   """)
    var onDrift: DriftPolicy = .repair

    @Parameter("drain_timeout", .reloadable, short: "Seconds stop waits for connections to end",
               long: """
                   At stop, first set every weight to 0 and wait until no real server has active connections, \
                   or this many seconds (within the stop timeout), then delete the service. 0 deletes at once.
                   """, valid: 0...86_400)
    var drainTimeout: Int = 0

    @Parameter("netns", short: "Network namespace",
               long: """
                   The network namespace whose IPVS table holds the service: a name from /run/netns (as ip netns \
                   add creates it) or an absolute path such as /proc/PID/ns/net. Default: the agent's own.
                   """)
    var netns: NamespaceReference? = nil

    /// The desired service, worked out once by `validate()` (a long real-server list is parsed once).
    private let resolved = Resolved()
    final class Resolved: @unchecked Sendable { var service: DesiredService? }

    init() {}

    func validate() throws(ParameterProblems) {
        resolved.service = try desiredService()
    }

    /// The service the configuration describes, checked as a whole.
    func desiredService() throws(ParameterProblems) -> DesiredService {
        if let service = resolved.service { return service }
        var problems = ParameterProblems()
        var flags: IPVSService.Flags = []
        if persistent > 0 { flags.insert(.persistent) }
        if onePacket {
            if service.transport == .tcp || service.transport == .sctp {
                problems.add("one_packet", "one-packet scheduling is for UDP (and fwmark) services")
            }
            flags.insert(.onePacket)
        }
        for flag in (schedulerFlags ?? "").split(separator: ",", omittingEmptySubsequences: false) where !(schedulerFlags ?? "").isEmpty {
            switch (String(flag), scheduler) {
            case ("sh-fallback", .sh), ("mh-fallback", .mh), ("flag-1", _): flags.insert(.scheduler1)
            case ("sh-port", .sh), ("mh-port", .mh), ("flag-2", _): flags.insert(.scheduler2)
            case ("flag-3", _): flags.insert(.scheduler3)
            case ("sh-fallback", _), ("sh-port", _), ("mh-fallback", _), ("mh-port", _):
                problems.add("sched_flags", "'\(flag)' belongs to the \(flag.prefix(2)) scheduler, not \(scheduler.rawValue)")
            default:
                problems.add("sched_flags", "'\(flag)' is not a scheduler flag (sh-fallback, sh-port, mh-fallback, mh-port, flag-1, flag-2, flag-3)")
            }
        }
        var mask: IPVSService.Netmask?
        if let netmask {
            if persistent == 0 { problems.add("netmask", "a persistence granularity needs persistent") }
            switch (service.family, IPv4Address(netmask), Int(netmask)) {
            case (.inet, let dotted?, _):
                if dotted.contiguousPrefixLength == nil { problems.add("netmask", "'\(netmask)' is not a contiguous netmask") }
                mask = .mask(dotted)
            case (.inet, nil, let prefix?) where (1...32).contains(prefix):
                mask = .mask(IPv4Address.netmask(prefixLength: prefix))
            case (.inet6, nil, let prefix?) where (1...128).contains(prefix):
                mask = .prefixLength(UInt32(prefix))
            default:
                problems.add("netmask", "'\(netmask)' is not an \(service.family) netmask or prefix length")
            }
        }
        if persistenceEngine != nil && persistent == 0 { problems.add("pe", "a persistence engine needs persistent") }
        var destinations: [IPVSDestination] = []
        do {
            destinations = try RealServers.parse(realservers, for: service)
        } catch where !realservers.isEmpty {
            problems.add("realservers", error.description)
        } catch {}
        guard problems.isEmpty else { throw problems }
        let definition = IPVSService(identity: service.identity, scheduler: scheduler.rawValue, flags: flags,
                                     timeout: UInt32(persistent), netmask: mask, persistenceEngine: persistenceEngine?.rawValue)
        return DesiredService(service: definition, destinations: destinations)
    }
}

/// The kernel's schedulers (ip_vs_<name>).
enum Scheduler: String, OCFEnumeration {
    case rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh
}

enum PersistenceEngine: String, OCFEnumeration {
    case sip
}

enum DriftPolicy: String, OCFEnumeration {
    case repair, report, fail
}

extension ServiceSpec: OCFValue {
    public init(ocfValue text: String) throws(ValueError) {
        do {
            try self.init(parsing: text)
        } catch {
            throw ValueError(error.description)
        }
    }
    public var ocfValue: String { description }
    public static var contentType: ContentType { .string }
}
