internal import CLibvirt

/// A failed libvirt call: libvirt's error code and domain (the subsystem that raised it) and
/// its message, captured right after the call (libvirt keeps one last error per thread, and
/// the next failing call overwrites it).
public struct LibvirtError: Error, Sendable, CustomStringConvertible {
    /// `virErrorNumber`, e.g. 42 for "no such domain".
    public let code: Int32
    /// `virErrorDomain`, e.g. 7 for the RPC layer (the daemon's socket, ssh).
    public let domain: Int32
    public let message: String
    /// The call that failed, e.g. `virDomainDestroy`.
    public let function: String

    public init(code: Int32, domain: Int32, message: String, function: String) {
        self.code = code
        self.domain = domain
        self.message = message
        self.function = function
    }

    /// The thread's last error, attributed to `function`.
    static func last(_ function: String) -> LibvirtError {
        guard let error = virGetLastError() else {
            return LibvirtError(code: 0, domain: 0, message: "unknown error", function: function)
        }
        let message = error.pointee.message.map { String(cString: $0) } ?? "error \(error.pointee.code)"
        return LibvirtError(code: error.pointee.code, domain: error.pointee.domain, message: message, function: function)
    }

    /// No domain with that name or UUID (`VIR_ERR_NO_DOMAIN`).
    public var isNoDomain: Bool { code == Int32(VIR_ERR_NO_DOMAIN.rawValue) }
    /// The domain is not in a state that allows the operation, e.g. destroying an inactive
    /// domain (`VIR_ERR_OPERATION_INVALID`).
    public var isOperationInvalid: Bool { code == Int32(VIR_ERR_OPERATION_INVALID.rawValue) }

    public var description: String { "\(message) (\(function): code \(code), domain \(domain))" }
}
