import Addresses
import LinkLayer
import Testing

@Suite struct FrameTests {
    let mac = MACAddress("02:00:00:aa:bb:cc")!

    @Test func gratuitousARPRequest() {
        let frame = Announcement.gratuitousARP(.request, address: IPv4Address("198.18.0.50")!, sender: mac)
        #expect(frame.count == 60)
        #expect(Array(frame[0..<6]) == MACAddress.broadcast.bytes)
        #expect(Array(frame[6..<12]) == mac.bytes)
        #expect(Array(frame[12..<14]) == [0x08, 0x06])
        #expect(Array(frame[14..<22]) == [0, 1, 0x08, 0, 6, 4, 0, 1])
        #expect(Array(frame[22..<28]) == mac.bytes)
        #expect(Array(frame[28..<32]) == [198, 18, 0, 50])
        #expect(Array(frame[32..<38]) == [0, 0, 0, 0, 0, 0])
        #expect(Array(frame[38..<42]) == [198, 18, 0, 50])
        #expect(frame[42...].allSatisfy { $0 == 0 })
    }

    @Test func gratuitousARPReplyCarriesOwnMACAsTarget() {
        let frame = Announcement.gratuitousARP(.reply, address: IPv4Address("10.0.0.1")!, sender: mac)
        #expect(Array(frame[20..<22]) == [0, 2])
        #expect(Array(frame[32..<38]) == mac.bytes)
    }

    @Test func unsolicitedNeighbourAdvertisement() {
        let address = IPv6Address("2001:db8::50")!
        let frame = Announcement.unsolicitedNeighbourAdvertisement(address: address, sender: mac, isRouter: false)
        #expect(frame.count == 14 + 40 + 32)
        #expect(Array(frame[0..<6]) == [0x33, 0x33, 0, 0, 0, 1])
        #expect(Array(frame[12..<14]) == [0x86, 0xdd])
        #expect(frame[14] >> 4 == 6)
        #expect(Array(frame[18..<20]) == [0, 32], "payload length")
        #expect(frame[20] == 58 && frame[21] == 255, "ICMPv6, hop limit 255")
        #expect(Array(frame[22..<38]) == address.bytes)
        #expect(Array(frame[38..<54]) == IPv6Address.allNodes.bytes)
        let icmp = Array(frame[54...])
        #expect(icmp[0] == 136 && icmp[1] == 0)
        #expect(icmp[4] == 0x20, "override only")
        #expect(Array(icmp[8..<24]) == address.bytes)
        #expect(Array(icmp[24..<26]) == [2, 1])
        #expect(Array(icmp[26..<32]) == mac.bytes)
        // A correct checksum makes the sum over pseudo-header and message come out as zero.
        var pseudo = address.bytes + IPv6Address.allNodes.bytes + [0, 0, 0, 32, 0, 0, 0, 58]
        pseudo += icmp
        #expect(Announcement.internetChecksum(pseudo) == 0)
    }

    @Test func routerFlag() {
        let frame = Announcement.unsolicitedNeighbourAdvertisement(address: IPv6Address("2001:db8::1")!, sender: mac, isRouter: true)
        #expect(frame[58] == 0xa0)
    }

    @Test func checksumOfKnownVector() {
        // RFC 1071's example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2, complemented 0x220d.
        #expect(Announcement.internetChecksum([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]) == 0x220d)
    }
}
