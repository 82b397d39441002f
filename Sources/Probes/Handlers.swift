import HealthCheck
import NIOCore

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
