import OCF

/// A fence agent: its parameters (declared once with `@Parameter`, as the OCF agents do) and
/// what each action does. `FenceMain` reads the request, loads the parameters and turns the
/// result into the fence-agents exit codes.
public protocol FenceAgent {
    associatedtype Parameters: ParameterSet
    /// The executable's name, e.g. `fence_libvirt`.
    static var name: String { get }
    static var shortDescription: String { get }
    static var longDescription: String { get }
    static var vendorURL: String { get }
    /// The actions it answers besides metadata, manpage and validate-all.
    static var actions: [FenceAction] { get }

    init(parameters: Parameters, context: FenceContext)
    /// Checks what parameters cannot check alone (files, the target's syntax), touching nothing.
    func validate(target: String?) throws(FenceFailure)
    /// Runs an action; `target` is given for the actions that need one.
    func perform(_ action: FenceAction, target: String?) throws(FenceFailure) -> FenceResult
}

/// What an action produced.
public struct FenceResult: Sendable, Equatable {
    /// 0, or 2 for a status of "off".
    public let exitCode: Int32
    /// What goes to stdout (a list, `Status: ON`, `Success: Powered OFF`).
    public let output: String
    public init(exitCode: Int32 = 0, output: String) {
        self.exitCode = exitCode
        self.output = output
    }
    public static let success = FenceResult(output: "")
}

/// Why an action failed, in one line: the agent exits 1 and writes it on stderr, where
/// pacemaker-fenced reads it ("timed out" in it means a timeout to Pacemaker).
public struct FenceFailure: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// What every action of one run shares.
public struct FenceContext: Sendable {
    public let action: FenceAction
    public let log: Log
    public let environment: Environment
    public init(action: FenceAction, log: Log, environment: Environment) {
        self.action = action
        self.log = log
        self.environment = environment
    }
}
