import Libvirt
import PowerFencing

// libvirt as the power switch fencing pulls: connections and domains behind the power
// sequence's protocols, libvirt's errors told apart as fencing needs.

final class LibvirtHypervisor: Hypervisor {
    let connection: Connection

    init(_ connection: Connection) { self.connection = connection }

    func ping() throws(PowerError) {
        do throws(LibvirtError) { _ = try connection.libraryVersion() } catch { throw PowerError(error) }
    }

    func domains() throws(PowerError) -> [any PowerDomain] {
        do throws(LibvirtError) { return try connection.allDomains().map(LibvirtDomain.init) } catch { throw PowerError(error) }
    }

    func domain(_ identifier: String) throws(PowerError) -> (any PowerDomain)? {
        do throws(LibvirtError) { return try connection.domain(identifier).map(LibvirtDomain.init) } catch { throw PowerError(error) }
    }

    func close() { connection.close() }
}

final class LibvirtDomain: PowerDomain {
    let domain: Domain

    init(_ domain: Domain) { self.domain = domain }

    var name: String { domain.name }
    var uuid: String { domain.uuid }

    func isActive() throws(PowerError) -> Bool {
        do throws(LibvirtError) { return try domain.isActive() } catch { throw PowerError(error) }
    }

    func destroy() throws(PowerError) {
        do throws(LibvirtError) { try domain.destroy() } catch { throw PowerError(error) }
    }

    func create() throws(PowerError) {
        do throws(LibvirtError) { try domain.create() } catch { throw PowerError(error) }
    }

    func reset() throws(PowerError) {
        do throws(LibvirtError) { try domain.reset() } catch { throw PowerError(error) }
    }
}

extension PowerError {
    init(_ error: LibvirtError) {
        self.init(error.isNoDomain ? .noDomain : error.isOperationInvalid ? .operationInvalid : .other, error.message)
    }
}
