import Addresses
import LinkLayer
import Netlink
import OCFTesting

/// Announcements seen on the wire by a packet socket in the peer namespace, decoded here
/// byte by byte (independently of the code that builds them).
public struct ObservedAnnouncement: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case arpRequest, arpReply, neighbourAdvertisement }
    public let kind: Kind
    public let address: IPAddress
    public let senderMAC: MACAddress
    public let destinationMAC: MACAddress
    /// Kernel receive time, nanoseconds since the epoch.
    public let receivedAt: Int64
    /// NA only: the Override flag.
    public let override: Bool

    /// Decodes a gratuitous ARP (sender IP = target IP) or an unsolicited NA; `nil` for anything else.
    ///
    /// Offsets: Ethernet header 0..<14. ARP: hardware/protocol types and lengths 14..<20,
    /// operation 20..<22, sender MAC 22..<28, sender IP 28..<32, target MAC 32..<38, target IP
    /// 38..<42. IPv6: next header 20, hop limit 21, source 22..<38; ICMPv6 from 54: type 54,
    /// flags 58, target 62..<78, option type 78, length 79, link-layer address 80..<86.
    public init?(frame: [UInt8], receivedAt: Int64) {
        guard frame.count >= 42, let destination = MACAddress(bytes: frame[0..<6]) else { return nil }
        self.destinationMAC = destination
        self.receivedAt = receivedAt
        switch (frame[12], frame[13]) {
        case (0x08, 0x06):
            guard frame[14..<20].elementsEqual([0, 1, 0x08, 0, 6, 4]), frame[20] == 0, frame[21] == 1 || frame[21] == 2,
                  frame[28..<32].elementsEqual(frame[38..<42]), let sender = MACAddress(bytes: frame[22..<28])
            else { return nil }
            kind = frame[21] == 1 ? .arpRequest : .arpReply
            senderMAC = sender
            address = .v4(IPv4Address(bytes: frame[28..<32]))
            override = false
        case (0x86, 0xDD):
            guard frame.count >= 86, frame[20] == 58, frame[21] == 255, frame[54] == 136,
                  frame[78] == 2, frame[79] == 1, let sender = MACAddress(bytes: frame[80..<86])
            else { return nil }
            kind = .neighbourAdvertisement
            senderMAC = sender
            address = .v6(IPv6Address(bytes: frame[62..<78]))
            override = frame[58] & 0x20 != 0
        default:
            return nil
        }
    }
}

/// Listens on the peer side for announcements until told to stop.
public final class AnnouncementCapture {
    let socket: PacketSocket

    /// Opens the capture in `namespace` on `interface` (all EtherTypes).
    public init(in namespace: NetworkNamespace, interface: InterfaceName) throws {
        socket = try namespace.perform { () throws -> PacketSocket in
            guard let link = try RouteSocket().link(named: interface) else {
                throw LabError("no interface \(interface)")
            }
            return try PacketSocket(interfaceIndex: link.index, receiving: 0x0003)  // ETH_P_ALL
        }
    }

    /// Collects announcements of `address` until `count` arrived or `deadline` passed.
    public func collect(of address: IPAddress, count: Int, deadline: ContinuousClock.Instant) throws -> [ObservedAnnouncement] {
        var seen: [ObservedAnnouncement] = []
        while seen.count < count {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { break }
            let milliseconds = Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            guard let frame = try socket.receive(timeoutMilliseconds: milliseconds) else { continue }
            if let announcement = ObservedAnnouncement(frame: frame.bytes, receivedAt: frame.realTimeNanoseconds),
               announcement.address == address {
                seen.append(announcement)
            }
        }
        return seen
    }
}
