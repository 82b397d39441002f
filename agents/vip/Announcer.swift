import Addresses
import Glibc
import LinkLayer
import Netlink
import OCF

/// Tells the link that an address moved here: gratuitous ARP for IPv4, unsolicited
/// neighbour advertisements for IPv6, built here and sent on an AF_PACKET socket.
struct Announcer {
    let address: IPAddress
    let link: Link
    let mode: ARPMode

    /// `nil` when the link does not resolve addresses (no ARP, not Ethernet): nothing to announce.
    init?(address: IPAddress, link: Link, mode: ARPMode) {
        guard link.usesNeighbourDiscovery else { return nil }
        self.address = address
        self.link = link
        self.mode = mode
    }

    /// The frames of one announcement round.
    func frames() -> [[UInt8]] {
        guard let mac = link.macAddress else { return [] }
        switch address {
        case .v4(let v4):
            let operations: [Announcement.ARPOperation] = switch mode {
            case .request: [.request]
            case .reply: [.reply]
            case .both: [.request, .reply]
            }
            return operations.map { Announcement.gratuitousARP($0, address: v4, sender: mac) }
        case .v6(let v6):
            return [Announcement.unsolicitedNeighbourAdvertisement(address: v6, sender: mac, isRouter: isRouter)]
        }
    }

    /// A forwarding interface is a router and must say so in its advertisements.
    private var isRouter: Bool {
        (try? Sysctl("net/ipv6/conf/\(link.name)/forwarding").read()) == 1
    }

    /// Sends one round now.
    func announce() throws(PacketSocketError) {
        try send(on: PacketSocket(interfaceIndex: link.index))
    }

    private func send(on socket: PacketSocket) throws(PacketSocketError) {
        for frame in frames() { try socket.send(frame) }
    }

    /// Sends the first round now and the other `rounds - 1` from a background process, whose
    /// identity it returns.
    ///
    /// The background process stops early when the address is no longer on the interface, so a
    /// stop or a move never leaves it announcing an address that lives elsewhere now. It takes
    /// over the packet socket: the slow last close of a packet socket then happens there,
    /// not in the agent that Pacemaker is waiting for.
    func announce(rounds: Int, interval: Duration, log: Log) throws(PacketSocketError) -> ProcessIdentity? {
        let socket = try PacketSocket(interfaceIndex: link.index)
        try send(on: socket)
        guard rounds > 1 else { return nil }
        let announcer = Background.run(keeping: [socket.descriptor]) {
            for _ in 1..<rounds {
                sleep(for: interval)
                guard stillHere() else { _exit(0) }
                do { try send(on: socket) } catch { _exit(1) }
            }
            _exit(0)
        }
        if announcer == nil {
            log.warning("cannot fork the announcer (\(String(cString: strerror(errno)))): only the first announcement was sent")
        }
        return announcer
    }

    private func stillHere() -> Bool {
        guard let held = try? RouteSocket().addresses() else { return false }
        return held.contains { $0.address == address && $0.interfaceIndex == link.index }
    }
}
