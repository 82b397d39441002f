/// Everything meta-data and validation know about one parameter.
public struct ParameterDeclaration: Sendable {
    /// The OCF name, read from `OCF_RESKEY_<name>`.
    public let name: String
    public let shortDescription: String
    public let longDescription: String
    public let contentType: ContentType
    /// The default as configured text; `nil` when there is none.
    public let defaultValue: String?
    public let isRequired: Bool
    /// The value alone must be unique in the cluster (`unique="1"`, e.g. a VIP address).
    public let isUnique: Bool
    /// Never echo the value (passwords): errors name the parameter only.
    public let isSecret: Bool
    /// A change can be applied to the running resource (`reloadable="1"`): Pacemaker then runs
    /// `reload-agent` instead of a restart.
    public let isReloadable: Bool
    /// A sentence about the values, e.g. the allowed ones.
    public let valueDescription: String?
}

/// Options of a parameter declaration.
public struct ParameterOptions: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// `unique="1"`: the value must be unique among the resources of this agent.
    public static let unique = ParameterOptions(rawValue: 1)
    /// The value is a secret: never logged, never in an error message.
    public static let secret = ParameterOptions(rawValue: 2)
    /// A change is applied by `reload-agent`, without a restart (`reloadable="1"`).
    public static let reloadable = ParameterOptions(rawValue: 4)
}

/// Declares one OCF parameter of a `ParameterSet`: its name, descriptions, type and default,
/// in one place. Parsing, validation and meta-data all come from this declaration.
///
///     @Parameter("arp_count", short: "Announcements to send", long: "…", valid: 0...1000)
///     var arpCount: Int = 5
///
/// A property with an initial value has that default; one without is required.
@propertyWrapper
public struct Parameter<Value: OCFValue>: Sendable {
    public let declaration: ParameterDeclaration
    let storage: Storage
    let validate: @Sendable (Value) -> String?

    /// Holds the loaded value; a class so the copy that reflection sees is the same storage.
    final class Storage: @unchecked Sendable {
        var value: Value?
        init(_ value: Value?) { self.value = value }
    }

    /// A parameter with a default.
    public init(wrappedValue: Value, _ name: String, _ options: ParameterOptions = [],
                short: String, long: String, valid validate: @escaping @Sendable (Value) -> String? = { _ in nil }) {
        let text = wrappedValue.ocfValue
        declaration = ParameterDeclaration(
            name: name, shortDescription: short, longDescription: long, contentType: Value.contentType,
            defaultValue: text.isEmpty ? nil : text, isRequired: false, isUnique: options.contains(.unique),
            isSecret: options.contains(.secret), isReloadable: options.contains(.reloadable),
            valueDescription: Value.valueDescription)
        storage = Storage(wrappedValue)
        self.validate = validate
        ParameterCollector.current?.add(self)
    }

    /// A required parameter.
    public init(_ name: String, _ options: ParameterOptions = [],
                short: String, long: String, valid validate: @escaping @Sendable (Value) -> String? = { _ in nil }) {
        declaration = ParameterDeclaration(
            name: name, shortDescription: short, longDescription: long, contentType: Value.contentType,
            defaultValue: nil, isRequired: true, isUnique: options.contains(.unique),
            isSecret: options.contains(.secret), isReloadable: options.contains(.reloadable),
            valueDescription: Value.valueDescription)
        storage = Storage(nil)
        self.validate = validate
        ParameterCollector.current?.add(self)
    }

    public var wrappedValue: Value {
        // `ParameterSet.load(from:)` is the only way to a set agents see, and it fails unless
        // every required parameter has a value; reading one earlier is a programming error.
        guard let value = storage.value else { preconditionFailure("parameter \(declaration.name) read before loading") }
        return value
    }
}

/// Integer ranges read naturally as validators: `valid: 1...32`.
extension Parameter where Value == Int {
    public init(wrappedValue: Int, _ name: String, _ options: ParameterOptions = [],
                short: String, long: String, valid range: ClosedRange<Int>) {
        self.init(wrappedValue: wrappedValue, name, options, short: short, long: long,
                  valid: { range.contains($0) ? nil : "must be between \(range.lowerBound) and \(range.upperBound)" })
    }
}

extension Parameter where Value == Int? {
    public init(wrappedValue: Int?, _ name: String, _ options: ParameterOptions = [],
                short: String, long: String, valid range: ClosedRange<Int>) {
        self.init(wrappedValue: wrappedValue, name, options, short: short, long: long,
                  valid: { value in
                      guard let value, !range.contains(value) else { return nil }
                      return "must be between \(range.lowerBound) and \(range.upperBound)"
                  })
    }
}

/// Gathers the parameters a `ParameterSet.init()` creates, in declaration order.
///
/// Each `@Parameter` registers itself while the set is built, so no reflection is needed: Mirror
/// would demangle every field type and scan every protocol conformance in the binary, which
/// costs a monitor more than its netlink work.
final class ParameterCollector: @unchecked Sendable {
    @TaskLocal static var current: ParameterCollector?
    private(set) var parameters: [any LoadableParameter] = []
    func add(_ parameter: any LoadableParameter) { parameters.append(parameter) }
}

/// What the loader needs from any `Parameter<Value>`.
protocol LoadableParameter {
    var declaration: ParameterDeclaration { get }
    /// Parses and validates the configured text (`nil` when unset); throws the reason.
    func load(_ text: String?) throws(ValueError)
}

extension Parameter: LoadableParameter {
    func load(_ text: String?) throws(ValueError) {
        guard let text, !text.isEmpty else {
            if declaration.isRequired { throw ValueError("is required") }
            return
        }
        let value = try Value(ocfValue: text)
        if let problem = validate(value) { throw ValueError(problem) }
        storage.value = value
    }
}
