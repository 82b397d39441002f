internal import CNetlink
import Glibc
import POSIX

/// A failed libnl or kernel call, captured where it happened.
///
/// libnl reports failures as negative `NLE_*` codes; kernel errors arrive translated into
/// those codes (`nl_syserr2nlerr`). System calls made directly (`setns`, `open`) report errno.
public struct NetlinkError: Error, Sendable, CustomStringConvertible {
    /// The C function that failed, e.g. `rtnl_addr_add`.
    public let function: String
    public let kind: Kind
    /// libnl's or the system's text for the code.
    public let message: String

    /// What went wrong, in the terms callers decide on.
    public enum Kind: Sendable, Equatable {
        /// The object exists already (`NLE_EXIST`, EEXIST).
        case exists
        /// No such object, interface or address (`NLE_OBJ_NOTFOUND`, `NLE_NODEV`, `NLE_NOADDR`).
        case notFound
        /// CAP_NET_ADMIN is missing (`NLE_PERM`, EPERM).
        case permissionDenied
        /// The kernel has no such protocol or family here (`NLE_OPNOTSUPP`, `NLE_PROTO_MISMATCH`, …).
        case notSupported
        /// A dump changed while it was read (`NLE_DUMP_INTR`): read it again.
        case interrupted
        /// The kernel refused the request as invalid (`NLE_INVAL`, `NLE_RANGE`).
        case invalid
        /// No route to the address (`NLE_NOADDR` from RTM_GETROUTE is `notFound`; ENETUNREACH lands here).
        case unreachable
        /// The network namespace named does not exist here, or the file is not one.
        case noNamespace
        /// No answer came before the action's deadline (`NLE_AGAIN` on a socket with a receive timeout).
        case timedOut
        /// Anything else; the libnl code (negative) or errno (positive) is kept.
        case other(Int32)
    }

    /// Builds an error from a negative libnl return value.
    init(function: String, libnlCode code: Int32) {
        self.function = function
        let positive = code < 0 ? -code : code
        self.message = String(cString: nl_geterror(code))
        switch positive {
        case NLE_EXIST: kind = .exists
        case NLE_OBJ_NOTFOUND, NLE_NODEV, NLE_NOADDR: kind = .notFound
        case NLE_PERM: kind = .permissionDenied
        case NLE_OPNOTSUPP, NLE_PROTO_MISMATCH, NLE_AF_NOSUPPORT, NLE_NOATTR: kind = .notSupported
        case NLE_DUMP_INTR: kind = .interrupted
        case NLE_AGAIN: kind = .timedOut
        case NLE_INVAL, NLE_RANGE, NLE_MSG_TOOSHORT: kind = .invalid
        default: kind = .other(code)
        }
    }

    /// Builds an error from errno after a failed system call (or what the kernel answered).
    public init(function: String, errno code: Int32) {
        self.function = function
        self.message = Errno(code).message
        switch code {
        case EEXIST: kind = .exists
        case ENOENT, ENODEV, EADDRNOTAVAIL, ESRCH: kind = .notFound
        case EPERM, EACCES: kind = .permissionDenied
        case EOPNOTSUPP, EAFNOSUPPORT, EPROTONOSUPPORT: kind = .notSupported
        case EINVAL, ERANGE: kind = .invalid
        case ENETUNREACH, EHOSTUNREACH: kind = .unreachable
        default: kind = .other(code)
        }
    }

    /// An error of a known kind, e.g. from a fake kernel in tests.
    public init(function: String, kind: Kind, message: String) {
        self.function = function
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(function): \(message)" }
}

/// Calls a libnl function that returns a negative code on failure.
@inline(__always)
func check(_ function: String, _ code: Int32) throws(NetlinkError) {
    if code < 0 { throw NetlinkError(function: function, libnlCode: code) }
}
