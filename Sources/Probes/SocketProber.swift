import Addresses
internal import CEvents
import Glibc
import HealthCheck
import NIOConcurrencyHelpers
import NIOCore
import OCF
import POSIX

/// tcp, tcp-expect and plain http checks on non-blocking sockets and one epoll thread: a
/// socket, a connect, one registration, a send, a read, a close. A health checker spends
/// almost all its time here, so this path has no channel pipeline, no futures and no timer
/// per check (every check has the same timeout: one deadline queue in start order). TLS, and
/// the checks that are not streams, go through SwiftNIO and their own libraries (`Prober`).
final class SocketProber: @unchecked Sendable {
    enum Exchange: Sendable {
        /// tcp: the connection is the check.
        case connect
        /// tcp-expect: send these bytes (maybe none), expect those.
        case expect(send: [UInt8], expect: [UInt8])
        /// http: one request, one answer.
        case http(HTTPCheck)
    }

    /// One check in flight (touched by the loop thread only).
    final class Connection {
        let generation: UInt32
        let started: UInt64
        let done: @Sendable (CheckOutcome, Duration) -> Void
        var connected = false
        var output: [UInt8]
        var sent = 0
        var http: HTTPAnswer?
        var expect: ExpectAnswer?

        init(generation: UInt32, started: UInt64, output: [UInt8], done: @escaping @Sendable (CheckOutcome, Duration) -> Void) {
            self.generation = generation
            self.started = started
            self.output = output
            self.done = done
        }
    }

    private let exchange: Exchange
    /// The http check, when that is the exchange (read by every answer).
    private let httpCheck: HTTPCheck?
    private let timeoutNanoseconds: UInt64
    private let timeoutText: String
    private let epoll: Int32
    private let wake: Int32
    /// Checks handed over by other threads, and whether the owner has let go.
    private let pending = NIOLockedValueBox<(checks: [(Target, @Sendable (CheckOutcome, Duration) -> Void)], retired: Bool)>(([], false))

    // The loop thread's own state.
    private var connections: [Connection?] = []
    private var deadlines = CircularBuffer<(deadline: UInt64, descriptor: Int32, generation: UInt32)>(initialCapacity: 1024)
    private var generation: UInt32 = 0
    private var inFlight = 0
    /// The time of this turn of the loop, read once per turn: under emulation a clock read can
    /// be a system call and a timer device access, and a check needs no finer time.
    private var now: UInt64 = 0
    private var requests: [Target: [UInt8]] = [:]
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
    private static let wakeToken = UInt64.max

    init(exchange: Exchange, timeout: Duration) throws {
        self.exchange = exchange
        if case .http(let check) = exchange { httpCheck = check } else { httpCheck = nil }
        timeoutNanoseconds = UInt64(timeout.components.seconds) * 1_000_000_000 + UInt64(timeout.components.attoseconds / 1_000_000_000)
        timeoutText = "\(Interval(timeout))"
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wake = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard epoll >= 0, wake >= 0 else { throw ProbeSetupError("epoll: \(Errno.current)") }
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: SocketProber.wakeToken))
        epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event)
        // The thread keeps the prober until it has been retired and every check has ended.
        try ProbeThread.start("socket prober") { self.serve() }
    }

    deinit {
        close(epoll)
        close(wake)
        buffer.deallocate()
    }

    /// Checks `target`; `done` is called once, on the prober's thread, with the outcome and
    /// how long the check took. Any thread may call.
    func check(_ target: Target, done: @escaping @Sendable (CheckOutcome, Duration) -> Void) {
        let wasEmpty = pending.withLockedValue { state -> Bool in
            state.checks.append((target, done))
            return state.checks.count == 1
        }
        if wasEmpty { signal() }
    }

    /// No more checks will come: the thread ends once those in flight have ended.
    func retire() {
        pending.withLockedValue { $0.retired = true }
        signal()
    }

    private func signal() {
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    // MARK: The loop thread

    private func serve() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        now = SocketProber.clock()
        while true {
            let wait: Int32
            if let first = deadlines.first {
                wait = first.deadline <= now ? 0 : Int32(min((first.deadline - now + 999_999) / 1_000_000, 60_000))
            } else {
                wait = -1
            }
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, Int32($0.count), wait) }
            now = SocketProber.clock()
            for index in 0..<max(0, Int(count)) {
                let token = events[index].data.u64
                if token == SocketProber.wakeToken {
                    var value: UInt64 = 0
                    _ = read(wake, &value, 8)
                    let (checks, retired) = pending.withLockedValue { state in
                        defer { state.checks = [] }
                        return (state.checks, state.retired)
                    }
                    for (target, done) in checks { start(target, done: done) }
                    if retired && inFlight == 0 && checks.isEmpty { return }
                    continue
                }
                let descriptor = Int32(truncatingIfNeeded: token & 0xffff_ffff)
                guard let connection = connection(descriptor, generation: UInt32(token >> 32)) else { continue }
                handle(descriptor, connection, events: events[index].events)
            }
            sweep()
            if inFlight == 0, pending.withLockedValue({ $0.retired && $0.checks.isEmpty }) { return }
        }
    }

    private func connection(_ descriptor: Int32, generation: UInt32) -> Connection? {
        guard descriptor >= 0, Int(descriptor) < connections.count, let connection = connections[Int(descriptor)],
              connection.generation == generation else { return nil }
        return connection
    }

    private func start(_ target: Target, done: @escaping @Sendable (CheckOutcome, Duration) -> Void) {
        let family = target.address.family == .inet6 ? AF_INET6 : AF_INET
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            done(.fail("socket: \(Errno.current)"), .zero)
            return
        }
        // Once decided, the connection ends with a reset, as HAProxy's checks do: no FIN
        // exchange and no TIME_WAIT on either side, a thousand times a second.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        let result = target.address.withSocketAddress(port: target.port) { Glibc.connect(descriptor, $0, $1) }
        if result != 0 && errno != EINPROGRESS {
            let reason = "connect: \(Errno.current)"
            close(descriptor)
            done(.fail(reason), .zero)
            return
        }
        generation &+= 1
        let output: [UInt8]
        switch exchange {
        case .connect: output = []
        case .expect(let send, _): output = send
        case .http(let check):
            if let known = requests[target] {
                output = known
            } else {
                output = HTTPAnswer.request(check, for: target)
                requests[target] = output
            }
        }
        let connection = Connection(generation: generation, started: now, output: output, done: done)
        switch exchange {
        case .connect: break
        case .expect(_, let expect): connection.expect = ExpectAnswer(expect: expect)
        case .http: connection.http = HTTPAnswer()
        }
        // Edge-triggered: one event when the connection is up, one each time data comes.
        var event = epoll_event(events: EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue,
                                data: epoll_data_t(u64: UInt64(generation) << 32 | UInt64(UInt32(descriptor))))
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event) == 0 else {
            let reason = "epoll: \(Errno.current)"
            close(descriptor)
            done(.fail(reason), .zero)
            return
        }
        if Int(descriptor) >= connections.count {
            connections += [Connection?](repeating: nil, count: Int(descriptor) + 1 - connections.count + 64)
        }
        connections[Int(descriptor)] = connection
        inFlight += 1
        deadlines.append((now + timeoutNanoseconds, descriptor, generation))
    }

    private func handle(_ descriptor: Int32, _ connection: Connection, events: UInt32) {
        if !connection.connected {
            if events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
                finish(descriptor, connection, .fail("connect: \(Errno(error == 0 ? ECONNRESET : error))"))
                return
            }
            guard events & EPOLLOUT.rawValue != 0 else { return }
            connection.connected = true
            if case .connect = exchange {
                finish(descriptor, connection, .pass)
                return
            }
        }
        if connection.sent < connection.output.count {
            let written = connection.output.withUnsafeBytes { bytes in
                send(descriptor, bytes.baseAddress! + connection.sent, bytes.count - connection.sent, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                connection.sent += written
            } else if written < 0 && errno != EAGAIN {
                finish(descriptor, connection, .fail("send: \(Errno.current)"))
                return
            }
        }
        guard events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 else { return }
        // Edge-triggered: read until the socket has nothing more, or the answer decides.
        while true {
            let count = recv(descriptor, buffer.baseAddress, buffer.count, 0)
            if count > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[..<count])
                let verdict = connection.http != nil ? connection.http!.read(bytes, check: httpCheck!) : connection.expect!.read(bytes)
                if let verdict {
                    finish(descriptor, connection, verdict)
                    return
                }
            } else if count == 0 {
                finish(descriptor, connection, connection.http != nil ? connection.http!.end(check: httpCheck!) : connection.expect!.end())
                return
            } else {
                if errno == EAGAIN || errno == EINTR { return }
                finish(descriptor, connection, .fail("recv: \(Errno.current)"))
                return
            }
        }
    }

    /// Fails the checks whose deadline has passed (they are in start order).
    private func sweep() {
        while let first = deadlines.first, first.deadline <= now || connection(first.descriptor, generation: first.generation) == nil {
            deadlines.removeFirst()
            guard let connection = connection(first.descriptor, generation: first.generation) else { continue }
            finish(first.descriptor, connection,
                   .fail(connection.connected ? "timed out after \(timeoutText)" : "connection timed out after \(timeoutText)"))
        }
    }

    private func finish(_ descriptor: Int32, _ connection: Connection, _ outcome: CheckOutcome) {
        connections[Int(descriptor)] = nil
        close(descriptor)
        inFlight -= 1
        connection.done(outcome, .nanoseconds(Int64(now &- connection.started)))
    }

    static func clock() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
