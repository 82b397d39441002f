/// An agent's parameters: a struct of `@Parameter` properties and an empty `init()`.
///
/// Each `@Parameter` registers itself when a fresh instance is built, so the list a struct
/// declares is exactly what meta-data shows and what `load(from:)` reads.
public protocol ParameterSet {
    init()
    /// Checks that the parameters make sense together (contradictory options). Called after
    /// every parameter parsed. Throw `ParameterProblem`s naming the parameters.
    func validate() throws(ParameterProblems)
}

extension ParameterSet {
    public func validate() throws(ParameterProblems) {}
}

/// One refused parameter value.
public struct ParameterProblem: Sendable, CustomStringConvertible {
    public let parameter: String
    public let reason: String
    public init(_ parameter: String, _ reason: String) {
        self.parameter = parameter
        self.reason = reason
    }
    public var description: String { "\(parameter): \(reason)" }
}

/// Every problem found in a configuration; validation reports all of them, not just the first.
public struct ParameterProblems: Error, Sendable, CustomStringConvertible {
    public var problems: [ParameterProblem]
    public init(_ problems: [ParameterProblem] = []) { self.problems = problems }
    public init(_ parameter: String, _ reason: String) { problems = [ParameterProblem(parameter, reason)] }
    public var isEmpty: Bool { problems.isEmpty }
    public mutating func add(_ parameter: String, _ reason: String) {
        problems.append(ParameterProblem(parameter, reason))
    }
    public var description: String { problems.map(\.description).joined(separator: "; ") }
}

extension ParameterSet {
    /// The declarations, in the order the struct lists them.
    public static var declarations: [ParameterDeclaration] {
        makeCollecting().parameters.map(\.declaration)
    }

    /// A fresh instance and the parameters it holds.
    static func makeCollecting() -> (set: Self, parameters: [any LoadableParameter]) {
        let collector = ParameterCollector()
        let set = ParameterCollector.$current.withValue(collector) { Self() }
        return (set, collector.parameters)
    }

    /// Reads every declared parameter from `OCF_RESKEY_*`, then checks them together.
    ///
    /// Unknown `OCF_RESKEY_` names are refused too (Pacemaker's own `CRM_meta_*` and
    /// `crm_feature_set` excepted), so a misspelt optional parameter is never silently ignored.
    /// - Throws: `ParameterProblems` with every problem found.
    public static func load(from environment: Environment) throws(ParameterProblems) -> Self {
        let (set, parameters) = makeCollecting()
        var problems = ParameterProblems()
        for parameter in parameters {
            let declaration = parameter.declaration
            do {
                try parameter.load(environment.parameter(declaration.name))
            } catch {
                problems.add(declaration.name, declaration.isSecret ? "has an invalid value" : error.reason)
            }
        }
        let known = Set(parameters.map(\.declaration.name))
        for name in environment.configuredParameterNames.sorted() where !known.contains(name) {
            problems.add(name, "is not a parameter of this agent")
        }
        guard problems.isEmpty else { throw problems }
        try set.validate()
        return set
    }
}
