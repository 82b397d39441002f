import Addresses
import Glibc
import LinkLayer
import Netlink
import OCF
import POSIX

/// Telling the link that an address moved here, and the background process that repeats it:
/// the seam where tests watch announcements instead of sending them.
protocol Announcements {
    /// Sends one round now.
    func announce(_ address: IPAddress, on link: Link, mode: ARPMode) throws
    /// Sends the first round now and hands the other `rounds - 1` to a background process that
    /// sends nothing until it is released (`PendingAnnouncer.release()`): the caller records
    /// its identity first, so there is never an announcer a stop could not find. Unreleased,
    /// it exits when the caller does. `nil` when there is nothing more to send.
    func start(_ address: IPAddress, on link: Link, mode: ARPMode, rounds: Int, interval: Duration,
               log: Log) throws -> PendingAnnouncer?
    /// Stops a recorded announcer (SIGKILL after two seconds, before `deadline`): when this
    /// returns `true`, it can send nothing more.
    func terminate(_ announcer: ProcessIdentity, by deadline: ContinuousClock.Instant) -> Bool
}

/// A background announcer waiting to be released.
final class PendingAnnouncer {
    let identity: ProcessIdentity
    private var gate: (release: () -> Void, cancel: () -> Void)?

    init(identity: ProcessIdentity, release: @escaping () -> Void, cancel: @escaping () -> Void) {
        self.identity = identity
        gate = (release, cancel)
    }

    /// Lets it send the remaining rounds.
    func release() {
        gate?.release()
        gate = nil
    }

    deinit { gate?.cancel() }  // never released: it exits without a word
}

/// Gratuitous ARP for IPv4, unsolicited neighbour advertisements for IPv6, built here and
/// sent on an AF_PACKET socket.
struct LinkAnnouncements: Announcements {
    func announce(_ address: IPAddress, on link: Link, mode: ARPMode) throws {
        let frames = frames(address, on: link, mode: mode)
        guard !frames.isEmpty else { return }
        try send(frames, on: PacketSocket(interfaceIndex: link.index))
    }

    /// The background process stops early when the address is no longer on the interface, so a
    /// move never leaves it announcing an address that lives elsewhere now. It takes over the
    /// packet socket: the slow last close of a packet socket then happens there, not in the
    /// agent that Pacemaker is waiting for.
    func start(_ address: IPAddress, on link: Link, mode: ARPMode, rounds: Int, interval: Duration,
               log: Log) throws -> PendingAnnouncer? {
        let frames = frames(address, on: link, mode: mode)
        guard !frames.isEmpty else { return nil }
        let socket = try PacketSocket(interfaceIndex: link.index)
        try send(frames, on: socket)
        guard rounds > 1 else { return nil }
        // The gate: the child reads one byte before its first round; end of file (the agent
        // died, or cancelled) means exit.
        var gate: [Int32] = [-1, -1]
        guard pipe(&gate) == 0 else {
            log.warning("cannot create the announcer's pipe (\(Errno.current)): only the first announcement was sent")
            return nil
        }
        _ = fcntl(gate[1], F_SETFD, FD_CLOEXEC)
        let (reader, writer) = (gate[0], gate[1])
        let announcer = Background.run(keeping: [socket.descriptor, reader]) {
            var byte: UInt8 = 0
            guard read(reader, &byte, 1) == 1 else { _exit(0) }
            for _ in 1..<rounds {
                sleep(for: interval)
                guard stillHere(address, on: link) else { _exit(0) }
                do { try send(frames, on: socket) } catch { _exit(1) }
            }
            _exit(0)
        }
        close(reader)
        guard let announcer else {
            close(writer)
            log.warning("cannot fork the announcer (\(Errno.current)): only the first announcement was sent")
            return nil
        }
        return PendingAnnouncer(identity: announcer, release: {
            var go: UInt8 = 1
            _ = write(writer, &go, 1)
            close(writer)
        }, cancel: { close(writer) })
    }

    func terminate(_ announcer: ProcessIdentity, by deadline: ContinuousClock.Instant) -> Bool {
        announcer.terminate(by: deadline)
    }

    /// The frames of one announcement round; none when the link does not resolve addresses
    /// (no ARP, not Ethernet).
    func frames(_ address: IPAddress, on link: Link, mode: ARPMode) -> [[UInt8]] {
        guard link.usesNeighbourDiscovery, let mac = link.macAddress else { return [] }
        switch address {
        case .v4(let v4):
            let operations: [Announcement.ARPOperation] = switch mode {
            case .request: [.request]
            case .reply: [.reply]
            case .both: [.request, .reply]
            }
            return operations.map { Announcement.gratuitousARP($0, address: v4, sender: mac) }
        case .v6(let v6):
            // A forwarding interface is a router and must say so in its advertisements.
            let isRouter = (try? Sysctl("net/ipv6/conf/\(link.name)/forwarding").read()) == 1
            return [Announcement.unsolicitedNeighbourAdvertisement(address: v6, sender: mac, isRouter: isRouter)]
        }
    }

    private func send(_ frames: [[UInt8]], on socket: PacketSocket) throws(PacketSocketError) {
        for frame in frames { try socket.send(frame) }
    }

    private func stillHere(_ address: IPAddress, on link: Link) -> Bool {
        guard let held = try? RouteSocket().addresses() else { return false }
        return held.contains { $0.address == address && $0.interfaceIndex == link.index }
    }
}
