import Addresses

/// Why a configured value was refused, without the parameter name (the loader adds it).
public struct ValueError: Error, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// The `content type` of a parameter in meta-data. Only the three types that ocf-tester's
/// DTD, resource-agents' `metadata.rng` and the OCF 1.1 schema all accept.
public enum ContentType: String, Sendable {
    case string, integer, boolean
}

/// A value an OCF parameter can hold: it parses itself from the configured text and says how
/// meta-data describes it.
public protocol OCFValue: Sendable {
    /// Parses configured text. Empty text never reaches this initialiser (it means "unset").
    init(ocfValue text: String) throws(ValueError)
    /// The text that configures this value again (meta-data defaults, logs).
    var ocfValue: String { get }
    static var contentType: ContentType { get }
    /// A sentence added to the long description, e.g. the allowed values.
    static var valueDescription: String? { get }
}

extension OCFValue {
    public static var valueDescription: String? { nil }
}

extension String: OCFValue {
    public init(ocfValue text: String) throws(ValueError) { self = text }
    public var ocfValue: String { self }
    public static var contentType: ContentType { .string }
}

extension Int: OCFValue {
    public init(ocfValue text: String) throws(ValueError) {
        guard let value = Int(text) else { throw ValueError("'\(text)' is not an integer") }
        self = value
    }
    public var ocfValue: String { String(self) }
    public static var contentType: ContentType { .integer }
}

extension Bool: OCFValue {
    /// The spellings `ocf_is_true` accepts, and their negations; anything else is refused
    /// rather than read as false.
    static let trueSpellings: Set = ["yes", "true", "1", "YES", "TRUE", "True", "ja", "on", "ON"]
    static let falseSpellings: Set = ["no", "false", "0", "NO", "FALSE", "False", "nein", "off", "OFF"]

    public init(ocfValue text: String) throws(ValueError) {
        if Bool.trueSpellings.contains(text) {
            self = true
        } else if Bool.falseSpellings.contains(text) {
            self = false
        } else {
            throw ValueError("'\(text)' is not a boolean (use true or false)")
        }
    }
    public var ocfValue: String { self ? "true" : "false" }
    public static var contentType: ContentType { .boolean }
}

extension Optional: OCFValue where Wrapped: OCFValue {
    public init(ocfValue text: String) throws(ValueError) { self = .some(try Wrapped(ocfValue: text)) }
    public var ocfValue: String { self?.ocfValue ?? "" }
    public static var contentType: ContentType { Wrapped.contentType }
    public static var valueDescription: String? { Wrapped.valueDescription }
}

/// A parameter with a fixed set of values. Meta-data says `string` and lists the values in the
/// long description: the OCF 1.1 `select` type breaks ocf-tester, crmsh wizards and Hawk.
public protocol OCFEnumeration: OCFValue, CaseIterable, RawRepresentable where RawValue == String {}

extension OCFEnumeration {
    public init(ocfValue text: String) throws(ValueError) {
        guard let value = Self(rawValue: text) else {
            throw ValueError("'\(text)' is not one of \(Self.allowedValues)")
        }
        self = value
    }
    public var ocfValue: String { rawValue }
    public static var contentType: ContentType { .string }
    public static var valueDescription: String? { "Allowed values: \(allowedValues)." }
    static var allowedValues: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension IPAddress: OCFValue {
    public init(ocfValue text: String) throws(ValueError) {
        guard let address = IPAddress(text) else {
            throw ValueError("'\(text)' is not an IPv4 or IPv6 address")
        }
        self = address
    }
    public var ocfValue: String { description }
    public static var contentType: ContentType { .string }
}

extension IPv4Address: OCFValue {
    public init(ocfValue text: String) throws(ValueError) {
        guard let address = IPv4Address(text) else { throw ValueError("'\(text)' is not an IPv4 address") }
        self = address
    }
    public var ocfValue: String { description }
    public static var contentType: ContentType { .string }
}

extension InterfaceName: OCFValue {
    public init(ocfValue text: String) throws(ValueError) {
        guard let name = InterfaceName(text) else {
            throw ValueError("'\(text)' is not a valid interface name (1 to 15 of A-Z a-z 0-9 _ . -)")
        }
        self = name
    }
    public var ocfValue: String { rawValue }
    public static var contentType: ContentType { .string }
}
