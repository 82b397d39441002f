import HealthCheck
import NIOCore
import NIOHTTP1

/// tcp-expect: sends the configured bytes, passes once the expected bytes have arrived.
final class ExpectHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let send: [UInt8]
    let expect: [UInt8]
    let once: Once
    var received: [UInt8] = []
    static let limit = 64 * 1024

    init(send: [UInt8], expect: [UInt8], once: Once) {
        self.send = send
        self.expect = expect
        self.once = once
    }

    /// Added to a connected channel: the bytes go out at once.
    func handlerAdded(context: ChannelHandlerContext) {
        if !send.isEmpty {
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: send)), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
        if received.firstRange(of: expect) != nil {
            once.finish(.pass)
        } else if received.count > ExpectHandler.limit {
            once.finish(.fail("the expected bytes did not come in the first \(ExpectHandler.limit) bytes"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        once.finish(.fail(received.isEmpty ? "connection closed without an answer"
                                           : "connection closed without the expected bytes (got \(received.count) bytes)"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        once.finish(.fail(Prober.describe(error)))
    }
}

/// http/https: one HTTP/1.1 request; the status and, when asked, the body decide.
final class HTTPCheckHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    let check: HTTPCheck
    let target: Target
    let once: Once
    var status: Int?
    var body: [UInt8] = []
    var bodyComplete = false

    init(check: HTTPCheck, target: Target, once: Once) {
        self.check = check
        self.target = target
        self.once = once
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Added once the connection is up (for https, while the handshake runs: the TLS
        // handler holds the request until it is done).
        var headers = HTTPHeaders()
        let host = check.host ?? (target.address.family == .inet6 ? "[\(target.address)]" : "\(target.address)")
        headers.add(name: "Host", value: host)
        headers.add(name: "User-Agent", value: "tandem-healthcheck")
        headers.add(name: "Connection", value: "close")
        for (name, value) in check.headers { headers.replaceOrAdd(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: check.method), uri: check.path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            guard check.accepts(status: Int(head.status.code)) else {
                once.finish(.fail("HTTP status \(head.status.code)"))
                return
            }
            if check.body == nil && check.bodyPattern == nil { once.finish(.pass) }
        case .body(var buffer):
            let room = HTTPCheck.bodyLimit - body.count
            if room > 0 { body += buffer.readBytes(length: min(room, buffer.readableBytes)) ?? [] }
            if body.count >= HTTPCheck.bodyLimit { judgeBody() }
        case .end:
            judgeBody()
        }
    }

    func judgeBody() {
        if let expected = check.body, body.firstRange(of: expected) == nil {
            once.finish(.fail("the body does not contain '\(String(decoding: expected, as: UTF8.self))'"))
        } else if let pattern = check.bodyPattern, !pattern.matches(body) {
            once.finish(.fail("the body does not match /\(pattern.source)/"))
        } else {
            once.finish(.pass)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        once.finish(.fail(status == nil ? "connection closed without an HTTP answer" : "connection closed in the body"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        once.finish(.fail(Prober.describe(error)))
    }
}
