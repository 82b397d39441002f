import Addresses
import Dispatch
import Glibc
@testable import HealthCheck
@testable import Probes
import Testing

/// The plain-socket prober against listeners on the loopback: each way a check can end.
struct SocketProberTests {
    /// A listening TCP socket on 127.0.0.1 (or a closed port when `listening` is false).
    final class Listener {
        /// The listening socket; -1 for a closed port (closed at once: a second close would hit
        /// whatever descriptor has taken its number since).
        private(set) var descriptor: Int32
        let port: UInt16

        init(listening: Bool = true) throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.descriptor = descriptor
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
                }
            }
            try #require(bound)
            port = UInt16(bigEndian: address.sin_port)
            if listening {
                try #require(listen(descriptor, 16) == 0)
            } else {
                close(descriptor)
                self.descriptor = -1
            }
        }

        var target: Target { Target(address: IPAddress("127.0.0.1")!, port: port) }

        /// Accepts one connection, reads the request, answers `text` and closes it. (Closing with
        /// the request unread would make the kernel reset the connection instead of ending it.)
        func answer(_ text: String) {
            let connection = accept(descriptor, nil, nil)
            var request = [UInt8](repeating: 0, count: 4096)
            _ = request.withUnsafeMutableBytes { read(connection, $0.baseAddress, $0.count) }
            Array(text.utf8).withUnsafeBytes { _ = write(connection, $0.baseAddress, $0.count) }
            close(connection)
        }

        deinit { if descriptor >= 0 { close(descriptor) } }
    }

    final class Result: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var outcome: CheckOutcome?
    }

    func start(_ prober: SocketProber, _ target: Target) -> Result {
        let result = Result()
        prober.check(target) { outcome, _ in
            result.outcome = outcome
            result.done.signal()
        }
        return result
    }

    func wait(_ result: Result) -> CheckOutcome? {
        guard result.done.wait(timeout: .now() + 10) == .success else { return nil }
        return result.outcome
    }

    let http = SocketProber.Exchange.http(HTTPCheck.plain(path: "/"))

    @Test func aClosedPortIsRefused() throws {
        let prober = try SocketProber(exchange: .connect, timeout: .seconds(2))
        defer { prober.retire() }
        #expect(wait(start(prober, try Listener(listening: false).target)) == .fail("connect: Connection refused"))
    }

    @Test func aListeningPortPassesTCP() throws {
        let prober = try SocketProber(exchange: .connect, timeout: .seconds(2))
        defer { prober.retire() }
        let listener = try Listener()
        #expect(wait(start(prober, listener.target)) == .pass)
    }

    @Test func theAnswerDecidesHTTP() throws {
        let prober = try SocketProber(exchange: http, timeout: .seconds(5))
        defer { prober.retire() }
        let listener = try Listener()
        let failing = start(prober, listener.target)
        listener.answer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        #expect(wait(failing) == .fail("HTTP status 503"))
        let passing = start(prober, listener.target)
        listener.answer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(wait(passing) == .pass)
        let silent = start(prober, listener.target)
        listener.answer("")
        #expect(wait(silent) == .fail("connection closed without an HTTP answer"))
    }

    @Test func aServerThatNeverAnswersTimesOutAndTheNextCheckStillRuns() throws {
        let prober = try SocketProber(exchange: http, timeout: .milliseconds(300))
        let listener = try Listener()
        // The kernel completes the handshake from the backlog; nobody ever reads the request.
        let hung = start(prober, listener.target)
        let refused = start(prober, try Listener(listening: false).target)
        #expect(wait(refused) == .fail("connect: Connection refused"), "a refusal does not wait for the hung check")
        let outcome = wait(hung)
        #expect(outcome == .fail("timed out after 300ms"), "\(String(describing: outcome))")
        // Retired with a check in flight: it still ends with a verdict.
        let last = start(prober, listener.target)
        prober.retire()
        #expect(wait(last) != nil)
    }
}
