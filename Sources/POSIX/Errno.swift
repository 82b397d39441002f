import Glibc

/// A failed system call's errno, with its message. Every layer reports system errors through
/// this one type: `Errno.current` right after the call, `.message` for the text.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32

    public init(_ code: Int32) { self.code = code }

    /// The calling thread's errno, as the failed call left it.
    public static var current: Errno { Errno(errno) }

    /// strerror's text: "No space left on device".
    public var message: String { String(cString: strerror(code)) }

    public var description: String { message }
}

/// Runs a system call until a signal no longer interrupts it (EINTR), and returns its result.
/// - Throws: `Errno` when the call returns -1 for any other reason.
@discardableResult
public func retryingInterrupts<Result: SignedInteger>(_ call: () -> Result) throws(Errno) -> Result {
    while true {
        let result = call()
        if result != -1 { return result }
        let failure = Errno.current
        if failure.code != EINTR { throw failure }
    }
}
