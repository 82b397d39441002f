import HealthCheck
import NIOCore

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

/// http/https: one HTTP/1.1 request; the status and, when asked, the body decide. The answer
/// is read straight from the bytes (status line, Content-Length or chunked framing): a check
/// needs no header objects, and NIO's full HTTP codec costs a health checker more than the
/// check itself.
final class HTTPCheckHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let check: HTTPCheck
    let target: Target
    let once: Once
    var received: [UInt8] = []
    var bodyStart: Int?
    var status: Int?
    var contentLength: Int?
    var chunked = false
    static let headerLimit = 16 * 1024

    init(check: HTTPCheck, target: Target, once: Once) {
        self.check = check
        self.target = target
        self.once = once
    }

    /// Added to a connected channel (for https behind the TLS handler, which holds the request
    /// until its handshake is done): the request goes out at once.
    func handlerAdded(context: ChannelHandlerContext) {
        let host = check.host ?? (target.address.family == .inet6 ? "[\(target.address)]" : "\(target.address)")
        var request = "\(check.method) \(check.path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: tandem-healthcheck\r\nConnection: close\r\n"
        for (name, value) in check.headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let room = HTTPCheckHandler.headerLimit + HTTPCheck.bodyLimit - received.count
        if room > 0 { received += buffer.readBytes(length: min(room, buffer.readableBytes)) ?? [] }
        if bodyStart == nil {
            guard let end = received.firstRange(of: [13, 10, 13, 10]) else {
                if received.count >= HTTPCheckHandler.headerLimit { once.finish(.fail("HTTP: no end of headers in \(received.count) bytes")) }
                return
            }
            guard readHead(received[..<end.lowerBound]) else { return }
            bodyStart = end.upperBound
        }
        judgeBody(atEnd: false)
    }

    /// The status line and the framing headers; `false` when the check is decided.
    func readHead(_ head: ArraySlice<UInt8>) -> Bool {
        let lines = head.split(separator: 10, omittingEmptySubsequences: false).map { $0.last == 13 ? $0.dropLast() : $0 }
        let words = lines.first?.split(separator: 32, maxSplits: 2) ?? []
        guard words.count >= 2, words[0].starts(with: Array("HTTP/1.".utf8)), words[1].count == 3,
              let code = Int(String(decoding: words[1], as: UTF8.self)) else {
            once.finish(.fail("HTTP: not an HTTP/1.x answer"))
            return false
        }
        status = code
        guard check.accepts(status: code) else {
            once.finish(.fail("HTTP status \(code)"))
            return false
        }
        if check.body == nil && check.bodyPattern == nil {
            once.finish(.pass)
            return false
        }
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 58) else { continue }
            let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingBlanks.lowercased()
            if name == "content-length" { contentLength = Int(value) }
            if name == "transfer-encoding" && value.contains("chunked") { chunked = true }
        }
        return true
    }

    /// Judges the body once it is complete (or the limit or the end of the stream is reached).
    func judgeBody(atEnd: Bool) {
        guard let start = bodyStart else { return }
        let raw = received[start...]
        var body: [UInt8]
        var complete: Bool
        if chunked {
            (body, complete) = HTTPCheckHandler.dechunk(raw)
        } else {
            body = Array(raw.prefix(contentLength ?? Int.max))
            complete = contentLength.map { raw.count >= $0 } ?? false
        }
        body = Array(body.prefix(HTTPCheck.bodyLimit))
        guard complete || atEnd || body.count >= HTTPCheck.bodyLimit || received.count >= HTTPCheckHandler.headerLimit + HTTPCheck.bodyLimit else {
            return
        }
        if let expected = check.body, body.firstRange(of: expected) == nil {
            once.finish(.fail("the body does not contain '\(String(decoding: expected, as: UTF8.self))'"))
        } else if let pattern = check.bodyPattern, !pattern.matches(body) {
            once.finish(.fail("the body does not match /\(pattern.source)/"))
        } else {
            once.finish(.pass)
        }
    }

    /// The data of a chunked body so far, and whether its last chunk has arrived.
    static func dechunk(_ raw: ArraySlice<UInt8>) -> ([UInt8], Bool) {
        var body: [UInt8] = []
        var position = raw.startIndex
        while let lineEnd = raw[position...].firstRange(of: [13, 10]) {
            let sizeText = String(decoding: raw[position..<lineEnd.lowerBound].prefix { $0 != 59 }, as: UTF8.self).trimmingBlanks
            guard let size = Int(sizeText, radix: 16) else { return (body, true) }
            if size == 0 { return (body, true) }
            let dataStart = lineEnd.upperBound
            guard dataStart + size + 2 <= raw.endIndex else {
                body += raw[dataStart..<min(raw.endIndex, dataStart + size)]
                return (body, false)
            }
            body += raw[dataStart..<(dataStart + size)]
            position = dataStart + size + 2
        }
        return (body, false)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if bodyStart != nil {
            judgeBody(atEnd: true)
        } else {
            once.finish(.fail("connection closed without an HTTP answer"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        once.finish(.fail(Prober.describe(error)))
    }
}

extension String {
    var trimmingBlanks: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
