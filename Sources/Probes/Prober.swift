import Addresses
import HealthCheck
import MySQLClient
import MySQLReplication
import Glibc

import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import OCF
import POSIX

/// Runs checks concurrently, each with its own deadline; a check never blocks another. tcp,
/// tcp-expect and plain http go to the plain-socket prober; https goes through SwiftNIO and
/// NIOSSL on one event loop, ping and dns through their own libraries and threads, mysql and
/// external programs on a thread each (`BlockingWorkers`), all with deadlines swept on that
/// loop. Results come back through a callback on a prober thread.
public final class Prober: @unchecked Sendable {
    let loop: any EventLoop
    let spec: CheckSpec
    let timeout: Duration
    let tls: NIOSSLContext?
    let sockets: SocketProber?
    /// mysql and external checks: a thread per check in flight, at most one per target.
    let workers: BlockingWorkers?
    let pinger: Pinger?
    let resolver: DNSResolver?
    /// mysql, gtid lag: each replica's oldest received but unapplied position, and when it was seen.
    let lagMarks = NIOLockedValueBox<[Target: GTIDLagMark]>([:])

    /// - Throws: a readable message when the TLS context cannot be built (CA file unreadable)
    ///   or the ICMP socket cannot be opened.
    public init(loop: any EventLoop, spec: CheckSpec, timeout: Duration) throws {
        self.loop = loop
        self.spec = spec
        self.timeout = timeout
        if case .http(let http) = spec, let settings = http.tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = settings.verify ? .fullVerification : .none
            if let caFile = settings.caFile { configuration.trustRoots = .file(caFile) }
            do {
                tls = try NIOSSLContext(configuration: configuration)
            } catch {
                throw ProbeSetupError("TLS: \(error)")
            }
        } else {
            tls = nil
        }
        switch spec {
        case .external, .mysql:
            // Blocking work (a program, libmariadb), each call bounded by its own timeouts; the
            // verdict still comes at the check's deadline.
            workers = BlockingWorkers()
        default:
            workers = nil
        }
        pinger = if case .ping = spec { try Pinger() } else { nil }
        resolver = if case .dns = spec { try DNSResolver(timeout: timeout) } else { nil }
        sockets = switch spec {
        case .tcp: try SocketProber(exchange: .connect, timeout: timeout)
        case .tcpExpect(let send, let expect): try SocketProber(exchange: .expect(send: send, expect: expect), timeout: timeout)
        case .http(let http) where http.tls == nil: try SocketProber(exchange: .http(http), timeout: timeout)
        default: nil
        }
        guard sockets == nil else { return }
        // The sweep keeps the prober until it is retired and its last check has ended.
        let tick = TimeAmount.milliseconds(min(50, max(5, Int64(timeout / .milliseconds(1)) / 20)))
        sweep = loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in self.sweepLate() }
    }

    /// Checks one target; `done` is called exactly once, on a prober thread, with the outcome
    /// and how long the check took. May be called from any thread.
    public func check(_ target: Target, service: String, done: @escaping @Sendable (CheckOutcome, Duration) -> Void) {
        if let sockets {
            sockets.check(target, done: done)
        } else {
            loop.execute {
                let started = ContinuousClock.now
                self.start(target, service: service, once: Once { outcome in done(outcome, started.duration(to: .now)) })
            }
        }
    }

    /// No more checks will come (a reload made a new prober): the checks in flight still end
    /// with a verdict, then the prober's threads, sockets and pool go.
    public func retire() {
        sockets?.retire()
        loop.execute { self.retired = true }
    }

    /// Touched on the loop only.
    private var retired = false

    /// On the loop: the check starts, and its deadline joins the queue the sweep looks at (a
    /// blocking check's when its thread begins it).
    private func start(_ target: Target, service: String, once: Once) {
        if workers == nil { deadlines.append((NIODeadline.now() + timeAmount + backstop, once)) }
        switch spec {
        case .none:
            once.finish(.pass)
        case .tcp, .tcpExpect:
            preconditionFailure("stream checks run on the socket prober")
        case .http(let http):
            // https only: plain http runs on the socket prober.
            guard let tls else { preconditionFailure("plain http runs on the socket prober") }
            connect(target, once: once) { channel in
                let name = http.tls?.serverName.flatMap { IPAddress($0) == nil ? $0 : nil }
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: name))
                try channel.pipeline.syncOperations.addHandler(HTTPCheckHandler(check: http, target: target, once: once))
            }
        case .ping:
            pinger?.ping(target.address, loop: loop, once: once)
        case .external(let program, let arguments):
            run(program, arguments, target: target, service: service, once: once)
        case .mysql(let mysql):
            query(mysql, target: target, once: once)
        case .dns(let dns):
            resolver?.query(dns, target: target, loop: loop, once: once)
        }
    }

    /// An external program is killed at the timeout by its own deadline (and says so); the
    /// sweep only stands behind that. Every check of a prober has the same, so deadlines stay in
    /// start order.
    var backstop: TimeAmount {
        if case .external = spec { return .seconds(1) }
        return .zero
    }

    /// The time a check may take, as NIO counts it.
    var timeAmount: TimeAmount {
        .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + Int64(timeout.components.attoseconds / 1_000_000_000))
    }

    /// Checks in the order they started, with their deadlines: every check has the same timeout,
    /// so deadlines come in order and one repeating sweep fails the late ones (no timer per
    /// check). Touched on the loop only.
    private var deadlines = CircularBuffer<(NIODeadline, Once)>()
    private var sweep: RepeatedTask?

    /// Fails the checks whose deadline has passed.
    private func sweepLate() {
        let now = NIODeadline.now()
        let reason = "timed out after \(Interval(timeout))"
        while let (deadline, once) = deadlines.first, deadline <= now || once.isFinished {
            deadlines.removeFirst()
            once.finish(.fail(reason))
        }
        if retired && deadlines.isEmpty {
            sweep?.cancel()
            sweep = nil
            pinger?.stop()
            resolver?.stop()
            workers?.retire()
        }
    }

    /// Connects (a check's own deadline still applies: the sweep closes the channel when it
    /// passes) and lets `ready` put its handlers in once the connection is up.
    private func connect(_ target: Target, once: Once, _ ready: @escaping @Sendable (any Channel) throws -> Void) {
        let address: SocketAddress
        if let known = addresses[target] {
            address = known
        } else {
            do {
                address = try SocketAddress(ipAddress: target.address.description, port: Int(target.port))
            } catch {
                once.finish(.fail("\(error)"))
                return
            }
            addresses[target] = address
        }
        ClientBootstrap(group: loop)
            .connectTimeout(timeAmount)
            .channelInitializer { channel in
                once.onFinish { channel.close(promise: nil) }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .connect(to: address)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    do { try ready(channel) } catch { once.finish(.fail(Prober.describe(error))) }
                case .failure(let error):
                    once.finish(.fail(Prober.describe(error)))
                }
            }
    }

    /// Socket addresses, parsed once per target (on the loop).
    private var addresses: [Target: SocketAddress] = [:]

    /// Runs `body` on a thread of its own; the check's time (the deadline `body` gets, and the
    /// one the sweep holds it to) starts when the thread begins it, never while it waited. A
    /// target whose previous blocking call has not returned fails at once instead of taking a
    /// second thread.
    private func blocking(_ target: Target, once: Once, _ body: @escaping @Sendable (ContinuousClock.Instant) -> CheckOutcome) {
        guard let workers else { return }
        guard workers.claim(target) else {
            once.finish(.fail("its previous check has not ended (it hangs past the timeout)"))
            return
        }
        let loop = self.loop
        let timeout = self.timeout
        let limit = timeAmount + backstop
        let started = workers.run {
            let deadline = ContinuousClock.now + timeout
            loop.execute { self.deadlines.append((NIODeadline.now() + limit, once)) }
            let outcome = body(deadline)
            workers.release(target)
            loop.execute { once.finish(outcome) }
        }
        if !started {
            workers.release(target)
            once.finish(.fail("no thread could be started for the check"))
        }
    }

    /// Runs the external program, killed when the timeout passes.
    private func run(_ program: String, _ arguments: [String], target: Target, service: String, once: Once) {
        var environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TANDEM_RS_ADDRESS": target.address.description,
                           "TANDEM_RS_PORT": String(target.port), "TANDEM_SERVICE": service]
        if case .v6 = target.address { environment["TANDEM_RS_FAMILY"] = "inet6" } else { environment["TANDEM_RS_FAMILY"] = "inet" }
        let command = Command(program, arguments, environment: environment)
        let timeout = self.timeout
        blocking(target, once: once) { deadline in
            do {
                let result = try command.run(deadline: deadline)
                if result.timedOut { return .fail("\(program) killed after \(Interval(timeout))") }
                if result.status == 0 { return .pass }
                let detail = result.errorOutput.split(separator: "\n").last.map { ": " + $0 } ?? ""
                return .fail("\(program) exited with \(result.status)\(detail)")
            } catch {
                return .fail("\(error)")
            }
        }
    }

    /// The mysql check: login, query, and the role or replication rules (MySQLVerdict). The
    /// sweep gives the verdict at the deadline whatever the thread does.
    private func query(_ check: MySQLCheck, target: Target, once: Once) {
        let timeout = self.timeout
        let lagMarks = self.lagMarks
        blocking(target, once: once) { _ in
            do {
                let login = MySQLLogin(defaultsFile: check.defaultsFile, database: check.database, connectTimeout: timeout, readTimeout: timeout)
                let connection = try MySQLConnection(.tcp(host: target.address.description, port: target.port), login: login)
                guard try !connection.query(check.query).isEmpty else { return .fail("the query returned no rows") }
                var mark = lagMarks.withLockedValue { $0[target] }
                let outcome = try MySQLVerdict.outcome(connection, check: check, marks: &mark)
                lagMarks.withLockedValue { $0[target] = mark }
                return outcome
            } catch {
                return .fail("MySQL \(error)")
            }
        }
    }

    /// A short reason for a failed connection or exchange.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as IOError: return error.description.replacingFirst("IOError: ", with: "")
        case is ChannelError where "\(error)" == "connectTimeout(...)": return "connection timed out"
        case let error as NIOSSLError: return "TLS: \(error)"
        case let error as BoringSSLError: return "TLS: \(error)"
        default: return "\(error)"
        }
    }
}

public struct ProbeSetupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The probers' own threads (socket loop, ICMP reader, DNS): detached, each holding what its
/// body captures until the body returns.
enum ProbeThread {
    static func start(_ name: String, _ run: @escaping () -> Void) throws(ProbeSetupError) {
        do {
            try Threads.detach(run)
        } catch {
            throw ProbeSetupError("cannot start the \(name) thread: \(error)")
        }
    }
}

/// Calls back once: the first outcome wins (a timeout, or the check's own end), and the
/// clean-ups registered run then. Used on the event loop's thread only.
final class Once: @unchecked Sendable {
    private var done: (@Sendable (CheckOutcome) -> Void)?
    private var cleanups: [() -> Void] = []

    init(_ done: @escaping @Sendable (CheckOutcome) -> Void) { self.done = done }

    var isFinished: Bool { done == nil }

    func finish(_ outcome: CheckOutcome) {
        guard let done else { return }
        self.done = nil
        done(outcome)
        let cleanups = self.cleanups
        self.cleanups = []
        for cleanup in cleanups { cleanup() }
    }

    func onFinish(_ cleanup: @escaping () -> Void) {
        if done == nil { cleanup() } else { cleanups.append(cleanup) }
    }
}

extension String {
    func replacingFirst(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
