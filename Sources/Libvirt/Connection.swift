import Glibc
internal import CLibvirt

/// One open connection to a hypervisor (`virConnectPtr`), closed in `deinit`.
///
/// Every call blocks until libvirt answers: a caller that needs a deadline arms one around it
/// (libvirt's keepalive needs an event loop and only starts after the connection is open).
public final class Connection {
    let handle: virConnectPtr
    public let uri: String
    private var closed = false

    /// Opens `uri` (any libvirt URI). No authentication callback: a transport that would ask
    /// a question (a password, an unknown ssh host key for libssh) fails instead of waiting.
    public init(uri: String) throws(LibvirtError) {
        Connection.silenceErrors
        guard let handle = virConnectOpenAuth(uri, nil, 0) else { throw LibvirtError.last("virConnectOpenAuth") }
        self.handle = handle
        self.uri = uri
    }

    deinit { close() }

    /// Closes the connection (a call to the daemon: it can block like any other, so a caller
    /// that needs a deadline arms one around it). The last domain of it must be gone first, or
    /// the close happens when that domain goes.
    public func close() {
        guard !closed else { return }
        closed = true
        virConnectClose(handle)
    }

    /// libvirt prints every error on stderr by default; callers report errors themselves.
    private static let silenceErrors: Void = tandem_virt_silence_errors()

    /// The daemon's libvirt version (one round trip on a remote connection), e.g. 9000000.
    public func libraryVersion() throws(LibvirtError) -> UInt64 {
        var version: UInt = 0
        guard virConnectGetLibVersion(handle, &version) == 0 else { throw LibvirtError.last("virConnectGetLibVersion") }
        return UInt64(version)
    }

    /// Every domain the hypervisor knows, active or defined, in libvirt's order.
    public func allDomains() throws(LibvirtError) -> [Domain] {
        var list: UnsafeMutablePointer<virDomainPtr?>? = nil
        let count = virConnectListAllDomains(handle, &list, 0)
        guard count >= 0, let list else { throw LibvirtError.last("virConnectListAllDomains") }
        defer { free(list) }
        var domains: [Domain] = []
        for index in 0..<Int(count) {
            if let domain = list[index] { domains.append(Domain(handle: domain, connection: self)) }
        }
        return domains
    }

    /// The domain with this name, or with this UUID when `identifier` is a UUID; `nil` when
    /// there is none.
    public func domain(_ identifier: String) throws(LibvirtError) -> Domain? {
        if let domain = virDomainLookupByName(handle, identifier) { return Domain(handle: domain, connection: self) }
        let byName = LibvirtError.last("virDomainLookupByName")
        guard byName.isNoDomain else { throw byName }
        // Only a string that is a UUID is looked up as one: a failed UUID lookup would replace
        // "no such domain" with "invalid UUID".
        guard Domain.isUUID(identifier) else { return nil }
        if let domain = virDomainLookupByUUIDString(handle, identifier) { return Domain(handle: domain, connection: self) }
        let byUUID = LibvirtError.last("virDomainLookupByUUIDString")
        guard byUUID.isNoDomain else { throw byUUID }
        return nil
    }
}
