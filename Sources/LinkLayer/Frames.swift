import Addresses

/// Ethernet frames that announce an address to the link. Pure byte building, no I/O.
public enum Announcement {
    /// EtherTypes. The corresponding C constants are `ETH_P_ARP` and `ETH_P_IPV6`.
    public static let etherTypeARP: UInt16 = 0x0806
    public static let etherTypeIPv6: UInt16 = 0x86DD

    /// The shortest Ethernet frame without its FCS; shorter frames are padded with zeros.
    static let minimumFrameLength = 60

    /// An ARP operation. The corresponding C constants are `ARPOP_REQUEST` and `ARPOP_REPLY`.
    public enum ARPOperation: UInt16, Sendable, CaseIterable {
        case request = 1
        case reply = 2
    }

    /// A gratuitous ARP frame for `address`, broadcast on the link.
    ///
    /// Sender and target protocol addresses are both `address`. A request leaves the target
    /// hardware address zero (RFC 5227 §2.3, what the kernel itself sends); a reply carries
    /// the sender's MAC there, as `arping -A` does, for switches that only learn from replies.
    public static func gratuitousARP(_ operation: ARPOperation, address: IPv4Address, sender: MACAddress) -> [UInt8] {
        var frame = ethernetHeader(destination: .broadcast, source: sender, etherType: etherTypeARP)
        frame += be16(1)                 // hardware type: Ethernet
        frame += be16(0x0800)            // protocol type: IPv4
        frame += [6, 4]                  // address lengths
        frame += be16(operation.rawValue)
        frame += sender.bytes + address.bytes
        frame += (operation == .reply ? sender : .zero).bytes + address.bytes
        return padded(frame)
    }

    /// An unsolicited neighbour advertisement for `address` to all nodes (RFC 4861 §7.2.6):
    /// Override set, Solicited clear, with the target link-layer address option, hop limit 255.
    /// - Parameter isRouter: sets the Router flag; a forwarding host must say so or neighbours
    ///   drop it from their router lists.
    public static func unsolicitedNeighbourAdvertisement(address: IPv6Address, sender: MACAddress, isRouter: Bool) -> [UInt8] {
        let destination = IPv6Address.allNodes
        var icmp: [UInt8] = [136, 0, 0, 0]                       // type, code, checksum
        icmp += [(isRouter ? 0x80 : 0) | 0x20, 0, 0, 0]         // R, S=0, O=1, reserved
        icmp += address.bytes
        icmp += [2, 1] + sender.bytes                            // target link-layer address option
        let checksum = icmpv6Checksum(source: address, destination: destination, message: icmp)
        icmp[2] = UInt8(checksum >> 8)
        icmp[3] = UInt8(checksum & 0xff)

        var frame = ethernetHeader(destination: MACAddress(multicast: destination), source: sender,
                                   etherType: etherTypeIPv6)
        frame += [0x60, 0, 0, 0]                                 // version 6, class 0, flow 0
        frame += be16(UInt16(icmp.count))
        frame += [58, 255]                                       // next header ICMPv6, hop limit
        frame += address.bytes + destination.bytes
        frame += icmp
        return padded(frame)
    }

    /// The ICMPv6 checksum over the IPv6 pseudo-header and the message (RFC 4443 §2.3).
    public static func icmpv6Checksum(source: IPv6Address, destination: IPv6Address, message: [UInt8]) -> UInt16 {
        var pseudo = source.bytes + destination.bytes
        pseudo += be32(UInt32(message.count)) + [0, 0, 0, 58]
        return internetChecksum(pseudo + message)
    }

    /// RFC 1071 ones' complement sum.
    public static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func ethernetHeader(destination: MACAddress, source: MACAddress, etherType: UInt16) -> [UInt8] {
        destination.bytes + source.bytes + be16(etherType)
    }

    static func padded(_ frame: [UInt8]) -> [UInt8] {
        frame.count >= minimumFrameLength ? frame : frame + [UInt8](repeating: 0, count: minimumFrameLength - frame.count)
    }

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
    static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
}
