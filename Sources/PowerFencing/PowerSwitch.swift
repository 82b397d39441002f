/// Why a power call failed, as fencing tells failures apart: a domain that is not there, an
/// operation that does not apply in the domain's state (destroying one already off), anything else.
public struct PowerError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case noDomain, operationInvalid, other }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// One hypervisor as fencing sees it: the domains it defines, and their power. Calls may block
/// (a frozen libvirtd); the power sequence bounds each one.
public protocol Hypervisor: AnyObject {
    /// A call that proves the hypervisor answers (libvirt's library version).
    func ping() throws(PowerError)
    /// Every domain it defines.
    func domains() throws(PowerError) -> [any PowerDomain]
    /// The domain with this name or UUID; `nil` when it defines none.
    func domain(_ identifier: String) throws(PowerError) -> (any PowerDomain)?
    /// Ends the connection (it may block too).
    func close()
}

/// A domain's power: the switch fencing pulls.
public protocol PowerDomain: AnyObject {
    var name: String { get }
    var uuid: String { get }
    func isActive() throws(PowerError) -> Bool
    /// Pulls the power (virDomainDestroy).
    func destroy() throws(PowerError)
    /// Starts it (virDomainCreate).
    func create() throws(PowerError)
    /// A hardware reset.
    func reset() throws(PowerError)
}
