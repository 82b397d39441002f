import Addresses
internal import CNetlink
import Testing
@testable import Netlink

/// IPVS requests as bytes: what Tandem writes is what it reads back, and the byte orders the
/// kernel expects are the ones on the wire. No kernel needed.
@Suite struct IPVSMessageTests {
    /// Encodes one operation and parses the message back into top-level attributes.
    func roundTrip(_ operation: IPVSOperation, _ body: (Attributes) throws -> Void) throws {
        let message = try Message(family: 42, command: operation.command)
        try message.encode(operation)
        let header = try #require(nlmsg_hdr(message.handle))
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: IPVS_CMD_ATTR_MAX + 1)
        #expect(genlmsg_parse(header, 0, &table, Int32(IPVS_CMD_ATTR_MAX), nil) == 0)
        try body(Attributes(table: table))
    }

    @Test func servicesRoundTrip() throws {
        let services = [
            IPVSService(identity: .address(.tcp, IPAddress("192.0.2.10")!, port: 443), scheduler: "wlc",
                        flags: [.persistent, .scheduler2], timeout: 600, netmask: .mask(IPv4Address("255.255.255.0")!)),
            IPVSService(identity: .address(.udp, IPAddress("2001:db8::10")!, port: 5060), scheduler: "sh",
                        flags: [.persistent, .onePacket], timeout: 300, netmask: .prefixLength(64), persistenceEngine: "sip"),
            IPVSService(identity: .firewallMark(7, .inet6), scheduler: "mh"),
        ]
        for service in services {
            try roundTrip(.addService(service)) { attributes in
                let nested = try #require(attributes.nested(IPVS_CMD_ATTR_SERVICE, maximum: IPVS_SVC_ATTR_MAX))
                #expect(IPVSService(attributes: nested) == service)
            }
        }
    }

    @Test func portsAndNetmasksAreBigEndianOnTheWire() throws {
        let service = IPVSService(identity: .address(.tcp, IPAddress("192.0.2.10")!, port: 443), scheduler: "rr",
                                  flags: .persistent, timeout: 60, netmask: .mask(IPv4Address("255.255.255.0")!))
        try roundTrip(.addService(service)) { attributes in
            let nested = try #require(attributes.nested(IPVS_CMD_ATTR_SERVICE, maximum: IPVS_SVC_ATTR_MAX))
            #expect(nested.bytes(IPVS_SVC_ATTR_PORT) == [0x01, 0xbb])
            #expect(nested.bytes(IPVS_SVC_ATTR_NETMASK) == [255, 255, 255, 0])
            #expect(nested.bytes(IPVS_SVC_ATTR_ADDR) == [192, 0, 2, 10] + [UInt8](repeating: 0, count: 12), "an nf_inet_addr")
            // The flags carry a mask covering every settable flag, so a set replaces them.
            #expect(nested.bytes(IPVS_SVC_ATTR_FLAGS) == [1, 0, 0, 0, 0x3d, 0, 0, 0])
        }
    }

    @Test func destinationsRoundTrip() throws {
        let identity = IPVSService.Identity.address(.tcp, IPAddress("192.0.2.10")!, port: 80)
        let destinations = [
            IPVSDestination(address: IPAddress("10.0.0.2")!, port: 8080, forwarding: .masquerade, weight: 3,
                            upperThreshold: 100, lowerThreshold: 10),
            IPVSDestination(address: IPAddress("2001:db8::2")!, port: 80, forwarding: .tunnel, weight: 0,
                            tunnel: .init(kind: .gue, port: 6080)),
            IPVSDestination(address: IPAddress("10.0.0.3")!, port: 80, forwarding: .directRouting),
        ]
        for destination in destinations {
            try roundTrip(.addDestination(identity, destination)) { attributes in
                let nested = try #require(attributes.nested(IPVS_CMD_ATTR_DEST, maximum: IPVS_DEST_ATTR_MAX))
                #expect(IPVSDestination(attributes: nested, serviceFamily: .inet) == destination)
                #expect(nested.bytes(IPVS_DEST_ATTR_PORT) == [UInt8(destination.port >> 8), UInt8(destination.port & 0xff)])
                // The family travels only for a mixed-family (tunnelled) destination.
                #expect((nested.raw(IPVS_DEST_ATTR_ADDR_FAMILY) != nil) == (destination.address.family == .inet6))
            }
        }
    }

    @Test func daemonsAndTimeoutsRoundTrip() throws {
        let daemon = IPVSSyncDaemon(state: .backup, interface: "eth1", syncID: 9, maximumLength: 1400,
                                    group: IPAddress("239.1.2.3"), port: 8848, ttl: 2)
        try roundTrip(.startDaemon(daemon)) { attributes in
            let nested = try #require(attributes.nested(IPVS_CMD_ATTR_DAEMON, maximum: IPVS_DAEMON_ATTR_MAX))
            #expect(IPVSSyncDaemon(attributes: nested) == daemon)
        }
        try roundTrip(.setTimeouts(IPVSTimeouts(tcp: 900, tcpFin: 120, udp: 300))) { attributes in
            #expect(attributes.u32(IPVS_CMD_ATTR_TIMEOUT_TCP) == 900)
            #expect(attributes.u32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN) == 120)
            #expect(attributes.u32(IPVS_CMD_ATTR_TIMEOUT_UDP) == 300)
        }
    }

    @Test func deletesCarryOnlyIdentities() throws {
        let identity = IPVSService.Identity.firewallMark(12, .inet)
        try roundTrip(.deleteDestination(identity, IPVSDestination.Key(address: IPAddress("10.0.0.9")!, port: 0))) { attributes in
            let service = try #require(attributes.nested(IPVS_CMD_ATTR_SERVICE, maximum: IPVS_SVC_ATTR_MAX))
            #expect(service.u32(IPVS_SVC_ATTR_FWMARK) == 12 && service.raw(IPVS_SVC_ATTR_SCHED_NAME) == nil)
            let destination = try #require(attributes.nested(IPVS_CMD_ATTR_DEST, maximum: IPVS_DEST_ATTR_MAX))
            #expect(destination.raw(IPVS_DEST_ATTR_WEIGHT) == nil)
        }
    }
}
