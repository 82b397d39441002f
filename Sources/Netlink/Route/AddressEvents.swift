internal import CNetlink
import Addresses
import Glibc
import POSIX

/// How IPv6 duplicate address detection ended for one address.
public enum DuplicateAddressDetection: Sendable, Equatable {
    /// The address left the tentative state and is usable.
    case completed
    /// Another node holds the address (IFA_F_DADFAILED).
    case failed
    /// The address disappeared while we waited.
    case removed
    /// The link is down or without carrier: detection waits for it, the address stays tentative.
    case linkDown
    /// The deadline passed with the address still tentative.
    case timedOut
}

extension RouteSocket {
    /// Waits for duplicate address detection of one IPv6 address to finish, woken by the
    /// kernel's address and link notifications — no polling of the table.
    ///
    /// The notifications only wake the wait: the address table is the truth, read again at
    /// each wake-up, so a notification lost to a socket overrun (ENOBUFS) costs nothing. The
    /// subscription is made before the first read, so no change falls between the two; and the
    /// wait also wakes once a second, in case a wake-up itself was lost. A link that is down
    /// ends the wait at once: the kernel resumes detection only when the link comes up.
    /// - Parameters:
    ///   - address: the address, as added.
    ///   - interfaceIndex: where it was added.
    ///   - deadline: when to give up (`.timedOut`).
    /// - Throws: `NetlinkError` from the subscription, the reads or `poll`.
    public func waitForDuplicateAddressDetection(
        of address: IPAddress, interfaceIndex: Int32, deadline: ContinuousClock.Instant
    ) throws(NetlinkError) -> DuplicateAddressDetection {
        let events = try RouteSocket(subscribedTo: [RTNLGRP_IPV6_IFADDR.rawValue, RTNLGRP_LINK.rawValue], in: namespace)
        let descriptor = nl_socket_get_fd(events.socket)
        while true {
            guard let current = try addresses().first(where: { $0.address == address && $0.interfaceIndex == interfaceIndex })
            else { return .removed }
            if current.flags.contains(.dadFailed) { return .failed }
            if !current.flags.contains(.tentative) { return .completed }
            guard let link = try link(index: interfaceIndex), link.isOperational else { return .linkDown }

            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return .timedOut }
            let wait = min(remaining, .seconds(1))
            do {
                _ = try FileDescriptor(descriptor).awaitReadable(until: .now + wait)
            } catch {
                throw NetlinkError(function: "poll", errno: error.code)
            }
            events.discardPending()
        }
    }

    /// A non-blocking socket that receives the notifications of rtnetlink multicast groups.
    convenience init(subscribedTo groups: [UInt32], in namespace: NetworkNamespace?) throws(NetlinkError) {
        try self.init(in: namespace)
        nl_socket_disable_seq_check(socket)
        for group in groups {
            try check("nl_socket_add_membership", nl_socket_add_membership(socket, Int32(group)))
        }
        try check("nl_socket_set_nonblocking", nl_socket_set_nonblocking(socket))
    }

    /// Reads and drops every queued notification (and an overrun's ENOBUFS): they only say
    /// "look again".
    func discardPending() {
        let descriptor = nl_socket_get_fd(socket)
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count > 0 { continue }
            if count < 0 && (errno == EINTR || errno == ENOBUFS) { continue }
            return
        }
    }
}
