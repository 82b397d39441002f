internal import CNetlink
import Addresses
import Glibc

/// How IPv6 duplicate address detection ended for one address.
public enum DuplicateAddressDetection: Sendable, Equatable {
    /// The address left the tentative state and is usable.
    case completed
    /// Another node holds the address (IFA_F_DADFAILED).
    case failed
    /// The address disappeared while we waited.
    case removed
    /// The deadline passed with the address still tentative.
    case timedOut
}

extension RouteSocket {
    /// Waits for duplicate address detection of one IPv6 address to finish, by watching the
    /// kernel's address notifications (RTNLGRP_IPV6_IFADDR) — no polling of the table.
    ///
    /// The subscription is made before the current state is read, so a change between the
    /// two is never missed.
    /// - Parameters:
    ///   - address: the address, as added.
    ///   - interfaceIndex: where it was added.
    ///   - deadline: when to give up (`.timedOut`).
    /// - Throws: `NetlinkError` from the subscription, the dump or `poll`.
    public func waitForDuplicateAddressDetection(
        of address: IPAddress, interfaceIndex: Int32, deadline: ContinuousClock.Instant
    ) throws(NetlinkError) -> DuplicateAddressDetection {
        let events = try RouteSocket(subscribedTo: RTNLGRP_IPV6_IFADDR.rawValue, in: namespace)

        func state(of flags: AddressFlags) -> DuplicateAddressDetection? {
            if flags.contains(.dadFailed) { return .failed }
            return flags.contains(.tentative) ? nil : .completed
        }

        guard let current = try addresses().first(where: { $0.address == address && $0.interfaceIndex == interfaceIndex })
        else { return .removed }
        if let done = state(of: current.flags) { return done }

        let descriptor = nl_socket_get_fd(events.socket)
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return .timedOut }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(clamping: remaining.components.seconds * 1000
                + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
            let ready = poll(&poller, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw NetlinkError(function: "poll", errno: errno)
            }
            if ready == 0 { continue }
            var outcome: DuplicateAddressDetection?
            _ = events.receive { message in
                let type = nlmsg_hdr(message).pointee.nlmsg_type
                parse(message) { object in
                    guard let event = InterfaceAddress(rtnlAddress: object),
                          event.address == address, event.interfaceIndex == interfaceIndex else { return }
                    outcome = type == UInt16(RTM_DELADDR) ? .removed : state(of: event.flags)
                }
            }
            if let outcome { return outcome }
        }
    }

    /// A non-blocking socket that receives the notifications of one rtnetlink multicast group.
    convenience init(subscribedTo group: UInt32, in namespace: NetworkNamespace?) throws(NetlinkError) {
        try self.init(in: namespace)
        nl_socket_disable_seq_check(socket)
        try check("nl_socket_add_membership", nl_socket_add_membership(socket, Int32(group)))
        try check("nl_socket_set_nonblocking", nl_socket_set_nonblocking(socket))
    }
}
