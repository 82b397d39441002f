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
    /// Names the agent does not declare are not read: `unknownNames(in:)` lists them.
    /// - Throws: `ParameterProblems` with every problem found.
    public static func load(from environment: Environment) throws(ParameterProblems) -> Self {
        try loadReportingUnknown(from: environment).set
    }

    /// `load(from:)` and `unknownNames(in:)` from one set of declarations (every action runs
    /// both; a monitor should not build its parameters twice).
    static func loadReportingUnknown(from environment: Environment) throws(ParameterProblems) -> (set: Self, unknown: [String]) {
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
        guard problems.isEmpty else { throw problems }
        do {
            try set.validate()
        } catch {
            throw redactingSecrets(error, declarations: parameters.map(\.declaration), environment: environment)
        }
        return (set, unknownNames(in: environment, known: Set(parameters.map(\.declaration.name))))
    }

    /// The problems with no secret value in them: a problem of a secret parameter names the
    /// parameter only, and no message quotes a secret value (an exit reason, a log line and a
    /// trace would carry it).
    static func redactingSecrets(_ problems: ParameterProblems, declarations: [ParameterDeclaration],
                                 environment: Environment) -> ParameterProblems {
        let secrets = declarations.filter(\.isSecret).map(\.name)
        guard !secrets.isEmpty else { return problems }
        let values = secrets.compactMap { environment.parameter($0) }.filter { !$0.isEmpty }
        return ParameterProblems(problems.problems.map { problem in
            if secrets.contains(problem.parameter) { return ParameterProblem(problem.parameter, "has an invalid value (not shown: it is secret)") }
            if values.contains(where: { problem.reason.includes($0) }) {
                return ParameterProblem(problem.parameter, "conflicts with a secret parameter's value (not shown)")
            }
            return problem
        })
    }

    /// Configured parameters this agent does not declare, sorted: a leftover of an older
    /// version or a misspelt optional parameter. Never fatal (a resource must not stop
    /// everywhere for a stale name), always reported. Pacemaker's own (`CRM_meta_*`,
    /// `crm_feature_set`) and the tracing parameters crmsh sets are not listed.
    public static func unknownNames(in environment: Environment) -> [String] {
        unknownNames(in: environment, known: Set(declarations.map(\.name)))
    }

    static func unknownNames(in environment: Environment, known: Set<String>) -> [String] {
        environment.configuredParameterNames
            .filter { !known.contains($0) && !Trace.parameterNames.contains($0) }
            .sorted()
    }
}
