internal import CLibvirt

/// A domain (`virDomainPtr`), freed in `deinit`; it keeps its connection open.
public final class Domain {
    let handle: virDomainPtr
    public let connection: Connection

    init(handle: virDomainPtr, connection: Connection) {
        self.handle = handle
        self.connection = connection
    }

    deinit { virDomainFree(handle) }

    public var name: String { virDomainGetName(handle).map { String(cString: $0) } ?? "" }

    public var uuid: String {
        var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        guard virDomainGetUUIDString(handle, &buffer) == 0 else { return "" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Whether the domain runs (has a hypervisor process), whatever its guest does.
    public func isActive() throws(LibvirtError) -> Bool {
        let active = virDomainIsActive(handle)
        guard active >= 0 else { throw LibvirtError.last("virDomainIsActive") }
        return active == 1
    }

    public func state() throws(LibvirtError) -> DomainState {
        var state: Int32 = 0
        var reason: Int32 = 0
        guard virDomainGetState(handle, &state, &reason, 0) == 0 else { throw LibvirtError.last("virDomainGetState") }
        return DomainState(rawValue: state) ?? .noState
    }

    /// Powers the domain off at once (the hypervisor process is killed; nothing asks the guest).
    public func destroy() throws(LibvirtError) {
        guard virDomainDestroy(handle) == 0 else { throw LibvirtError.last("virDomainDestroy") }
    }

    /// Starts a defined, inactive domain.
    public func create() throws(LibvirtError) {
        guard virDomainCreate(handle) == 0 else { throw LibvirtError.last("virDomainCreate") }
    }

    /// A hardware reset of a running domain (the guest is not asked).
    public func reset() throws(LibvirtError) {
        guard virDomainReset(handle, 0) == 0 else { throw LibvirtError.last("virDomainReset") }
    }

    /// `8-4-4-4-12` hexadecimal digits, the form libvirt prints.
    public static func isUUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }
}

/// `virDomainState`.
public enum DomainState: Int32, Sendable, CustomStringConvertible {
    case noState = 0, running, blocked, paused, shutdown, shutOff, crashed, suspended

    public var description: String {
        switch self {
        case .noState: "no state"
        case .running: "running"
        case .blocked: "blocked"
        case .paused: "paused"
        case .shutdown: "being shut down"
        case .shutOff: "shut off"
        case .crashed: "crashed"
        case .suspended: "suspended by power management"
        }
    }
}
