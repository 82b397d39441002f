import HealthCheck
import NIOCore

/// tcp-expect over NIO (the plain-socket prober does the same without it): sends the
/// configured bytes, then lets `ExpectAnswer` judge what comes back.
final class ExpectHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let send: [UInt8]
    var answer: ExpectAnswer
    let once: Once

    init(send: [UInt8], expect: [UInt8], once: Once) {
        self.send = send
        answer = ExpectAnswer(expect: expect)
        self.once = once
    }

    /// Added to a connected channel: the bytes go out at once.
    func handlerAdded(context: ChannelHandlerContext) {
        if !send.isEmpty {
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: send)), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let verdict = buffer.withUnsafeReadableBytes({ answer.read($0) }) { once.finish(verdict) }
    }

    func channelInactive(context: ChannelHandlerContext) { once.finish(answer.end()) }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        once.finish(.fail(Prober.describe(error)))
    }
}

/// https: one HTTP/1.1 request behind the TLS handler, judged by `HTTPAnswer`.
final class HTTPCheckHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let check: HTTPCheck
    let request: [UInt8]
    var answer = HTTPAnswer()
    let once: Once

    init(check: HTTPCheck, target: Target, once: Once) {
        self.check = check
        request = HTTPAnswer.request(check, for: target)
        self.once = once
    }

    /// Added to a connected channel (behind the TLS handler, which holds the request until its
    /// handshake is done): the request goes out at once.
    func handlerAdded(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let verdict = buffer.withUnsafeReadableBytes({ answer.read($0, check: check) }) { once.finish(verdict) }
    }

    func channelInactive(context: ChannelHandlerContext) { once.finish(answer.end(check: check)) }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        once.finish(.fail(Prober.describe(error)))
    }
}
