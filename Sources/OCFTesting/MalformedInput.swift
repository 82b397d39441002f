import OCF

/// One bad value for one parameter and the exit codes that are acceptable answers to it.
public struct MalformedValue: Sendable, CustomStringConvertible {
    public let parameters: [String: String]
    public let expected: Set<ExitCode>
    public let why: String

    /// - Parameters:
    ///   - parameters: what replaces (or, with an empty value, blanks) the valid base parameters.
    ///   - expected: `notConfigured` for values wrong everywhere, `invalidArguments` for values
    ///     wrong on this node only.
    public init(_ parameters: [String: String], _ expected: Set<ExitCode> = [.notConfigured], _ why: String) {
        self.parameters = parameters
        self.expected = expected
        self.why = why
    }

    public var description: String {
        parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + " (\(why))"
    }
}

/// The harness every agent's bad-input test uses: feed each case to `validate-all` and to
/// `start`, check the exit code and that the system is exactly as before.
public struct MalformedInputHarness<Snapshot: Equatable> {
    public let base: [String: String]
    let run: (_ action: String, _ parameters: [String: String]) throws -> AgentRunner.Result
    let snapshot: () throws -> Snapshot

    /// - Parameters:
    ///   - base: a valid configuration the cases modify.
    ///   - run: runs one action with the given parameters.
    ///   - snapshot: the state bad input must not change (addresses, tables, sysctls, files).
    public init(base: [String: String], run: @escaping (String, [String: String]) throws -> AgentRunner.Result,
                snapshot: @escaping () throws -> Snapshot) {
        self.base = base
        self.run = run
        self.snapshot = snapshot
    }

    /// Runs every case; returns one line per failure (empty when all pass).
    public func failures(_ cases: [MalformedValue]) throws -> [String] {
        var failures: [String] = []
        for item in cases {
            var parameters = base
            for (name, value) in item.parameters { parameters[name] = value }
            for action in ["validate-all", "start"] {
                let before = try snapshot()
                let result = try run(action, parameters)
                let after = try snapshot()
                if let code = result.exitCode, item.expected.contains(code) {
                    if result.exitReason == nil { failures.append("\(action) \(item): no ocf-exit-reason line") }
                } else {
                    failures.append("\(action) \(item): exit \(result.status), expected \(item.expected.map(\.description).sorted())\n\(result.errorOutput)")
                }
                if before != after { failures.append("\(action) \(item): the system changed\nbefore: \(before)\nafter:  \(after)") }
            }
        }
        return failures
    }

    /// Parameters without any case: every declared parameter must be covered.
    public static func uncovered(by cases: [MalformedValue], declarations: [ParameterDeclaration]) -> [String] {
        let covered = Set(cases.flatMap(\.parameters.keys))
        return declarations.map(\.name).filter { !covered.contains($0) }
    }

    /// Values wrong for any parameter of a content type, whatever the agent.
    /// - Parameter accepting: parameters that legitimately take such text (bytes sent to a
    ///   server, a pattern, program arguments), with the violations they accept by design:
    ///   `"shell metacharacters"`, `"100 characters"`.
    public static func typeViolations(for declarations: [ParameterDeclaration],
                                      accepting: [String: Set<String>] = [:]) -> [MalformedValue] {
        declarations.flatMap { declaration -> [MalformedValue] in
            var values: [(String, String)]
            switch declaration.contentType {
            case .integer: values = [("ten", "not a number"), ("1.5", "not an integer"), ("0x10", "hexadecimal"),
                                     ("99999999999999999999999", "overflows")]
            case .boolean: values = [("maybe", "not a boolean"), ("2", "not a boolean spelling")]
            case .string: values = [("x; reboot", "shell metacharacters"), (String(repeating: "a", count: 100), "100 characters")]
            }
            values.removeAll { accepting[declaration.name]?.contains($0.1) == true }
            if declaration.isRequired { values.append(("", "required and empty")) }
            return values.map { MalformedValue([declaration.name: $0.0], [.notConfigured], "\(declaration.name): \($0.1)") }
        }
    }
}
