import Addresses
import Glibc
import HealthCheck

/// tcp-expect: passes once the expected bytes have arrived.
struct ExpectAnswer {
    let expect: [UInt8]
    private var received: [UInt8] = []
    static let limit = 64 * 1024

    init(expect: [UInt8]) { self.expect = expect }

    /// The verdict once the bytes so far decide it.
    mutating func read(_ bytes: UnsafeRawBufferPointer) -> CheckOutcome? {
        received.append(contentsOf: bytes)
        if received.withUnsafeBytes({ Bytes.find(expect, in: $0) }) != nil { return .pass }
        if received.count > ExpectAnswer.limit {
            return .fail("the expected bytes did not come in the first \(ExpectAnswer.limit) bytes")
        }
        return nil
    }

    /// The verdict when the server closes the connection first.
    func end() -> CheckOutcome {
        .fail(received.isEmpty ? "connection closed without an answer"
                               : "connection closed without the expected bytes (got \(received.count) bytes)")
    }
}

/// http/https: what one HTTP/1.x answer says (the socket prober's for http, the NIO handler's
/// for https), read straight from the bytes (status line,
/// Content-Length or chunked framing): a check needs no header objects. Without a body
/// condition the status line alone decides. The check's settings are passed in, not kept (a
/// copy per check would cost more than reading the answer).
struct HTTPAnswer {
    private var received: [UInt8] = []
    private var bodyStart: Int?
    private var contentLength: Int?
    private var chunked = false
    static let headerLimit = 16 * 1024

    init() {}

    /// The request for `target`: HTTP/1.1, one request per connection.
    static func request(_ check: HTTPCheck, for target: Target) -> [UInt8] {
        let host = check.host ?? (target.address.family == .inet6 ? "[\(target.address)]" : "\(target.address)")
        var request = "\(check.method) \(check.path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: tandem-healthcheck\r\nConnection: close\r\n"
        for (name, value) in check.headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        return Array(request.utf8)
    }

    /// The verdict once the bytes so far decide it.
    mutating func read(_ bytes: UnsafeRawBufferPointer, check: HTTPCheck) -> CheckOutcome? {
        let needsBody = check.body != nil || check.bodyPattern != nil
        // The common case: no body condition, the whole status line in the first read.
        if !needsBody, received.isEmpty, let lineEnd = Bytes.find(10, in: bytes) {
            return HTTPAnswer.judge(statusLine: UnsafeRawBufferPointer(rebasing: bytes[..<lineEnd]), check: check)
        }
        let room = HTTPAnswer.headerLimit + HTTPCheck.bodyLimit - received.count
        if room > 0 { received.append(contentsOf: bytes.prefix(room)) }
        if bodyStart == nil {
            let head = received.withUnsafeBytes { all -> (CheckOutcome?, end: Int?, length: Int?, chunked: Bool) in
                if !needsBody, let lineEnd = Bytes.find(10, in: all) {
                    return (HTTPAnswer.judge(statusLine: UnsafeRawBufferPointer(rebasing: all[..<lineEnd]), check: check), nil, nil, false)
                }
                guard let end = Bytes.find(Bytes.endOfHead, in: all) else {
                    return (all.count >= HTTPAnswer.headerLimit ? .fail("HTTP: no end of headers in \(all.count) bytes") : nil, nil, nil, false)
                }
                return HTTPAnswer.readHead(UnsafeRawBufferPointer(rebasing: all[..<end]), check: check, end: end + 4)
            }
            if let verdict = head.0 { return verdict }
            guard let end = head.end else { return nil }
            (bodyStart, contentLength, chunked) = (end, head.length, head.chunked)
        }
        return judgeBody(atEnd: false, check: check)
    }

    /// The verdict when the server closes the connection.
    func end(check: HTTPCheck) -> CheckOutcome {
        guard bodyStart != nil else { return .fail("connection closed without an HTTP answer") }
        return judgeBody(atEnd: true, check: check) ?? .fail("connection closed without an HTTP answer")
    }

    /// The status line alone: fails, or passes when the status is accepted.
    static func judge(statusLine: UnsafeRawBufferPointer, check: HTTPCheck) -> CheckOutcome {
        guard let code = status(statusLine) else { return .fail("HTTP: not an HTTP/1.x answer") }
        return check.accepts(status: code) ? .pass : .fail("HTTP status \(code)")
    }

    /// `HTTP/1.x NNN …` → NNN.
    static func status(_ line: UnsafeRawBufferPointer) -> Int? {
        // "HTTP/1.1 200": the version digit, a space, three digits, then a space or the end.
        guard line.count >= 12, line.starts(with: "HTTP/1.".utf8), line[8] == 32 else { return nil }
        var code = 0
        for index in 9..<12 {
            let digit = Int(line[index]) - 48
            guard (0...9).contains(digit) else { return nil }
            code = code * 10 + digit
        }
        guard line.count == 12 || line[12] == 32 || line[12] == 13 else { return nil }
        return code
    }

    /// The status line and the framing headers of a head ending at `end`: a verdict when the
    /// status decides, else where the body starts and how it is framed.
    static func readHead(_ head: UnsafeRawBufferPointer, check: HTTPCheck, end: Int)
        -> (CheckOutcome?, end: Int?, length: Int?, chunked: Bool) {
        let firstEnd = Bytes.find(10, in: head) ?? head.count
        let verdict = judge(statusLine: UnsafeRawBufferPointer(rebasing: head[..<firstEnd]), check: check)
        guard verdict.passed else { return (verdict, nil, nil, false) }
        var length: Int?
        var chunked = false
        var position = firstEnd + 1
        while position < head.count {
            let lineEnd = position + (Bytes.find(10, in: UnsafeRawBufferPointer(rebasing: head[position...])) ?? head.count - position)
            let line = UnsafeRawBufferPointer(rebasing: head[position..<lineEnd])
            if let value = Bytes.value(of: "content-length:", in: line) {
                length = Int(String(decoding: value, as: UTF8.self).trimmingBlanks.trimmingCarriageReturn)
            } else if let value = Bytes.value(of: "transfer-encoding:", in: line) {
                chunked = String(decoding: value, as: UTF8.self).lowercased().contains("chunked")
            }
            position = lineEnd + 1
        }
        return (nil, end, length, chunked)
    }

    /// Judges the body once it is complete (or the limit or the end of the stream is reached).
    private func judgeBody(atEnd: Bool, check: HTTPCheck) -> CheckOutcome? {
        guard let start = bodyStart else { return nil }
        let raw = received[start...]
        var body: ArraySlice<UInt8>
        var complete: Bool
        if chunked {
            let (data, last) = HTTPAnswer.dechunk(raw)
            (body, complete) = (data[...], last)
        } else {
            body = raw.prefix(contentLength ?? Int.max)
            complete = contentLength.map { raw.count >= $0 } ?? false
        }
        body = body.prefix(HTTPCheck.bodyLimit)
        guard complete || atEnd || body.count >= HTTPCheck.bodyLimit || received.count >= HTTPAnswer.headerLimit + HTTPCheck.bodyLimit else {
            return nil
        }
        if let expected = check.body, body.withUnsafeBytes({ Bytes.find(expected, in: $0) }) == nil {
            return .fail("the body does not contain '\(String(decoding: expected, as: UTF8.self))'")
        }
        if let pattern = check.bodyPattern, !pattern.matches(body) {
            return .fail("the body does not match /\(pattern.source)/")
        }
        return .pass
    }

    /// The data of a chunked body so far, and whether its last chunk has arrived.
    static func dechunk(_ raw: ArraySlice<UInt8>) -> ([UInt8], Bool) {
        var body: [UInt8] = []
        var position = raw.startIndex
        while let lineEnd = raw[position...].withUnsafeBytes({ Bytes.find(Bytes.endOfLine, in: $0) }).map({ position + $0 }) {
            let sizeText = String(decoding: raw[position..<lineEnd].prefix { $0 != 59 }, as: UTF8.self).trimmingBlanks
            guard let size = Int(sizeText, radix: 16) else { return (body, true) }
            if size == 0 { return (body, true) }
            let dataStart = lineEnd + 2
            guard dataStart + size + 2 <= raw.endIndex else {
                body += raw[dataStart..<min(raw.endIndex, dataStart + size)]
                return (body, false)
            }
            body += raw[dataStart..<(dataStart + size)]
            position = dataStart + size + 2
        }
        return (body, false)
    }
}

/// Byte searches for the answers (memchr and memcmp: the generic collection searches cost more
/// than a whole check).
enum Bytes {
    static let endOfLine: [UInt8] = [13, 10]
    static let endOfHead: [UInt8] = [13, 10, 13, 10]

    static func find(_ byte: UInt8, in haystack: UnsafeRawBufferPointer) -> Int? {
        guard let base = haystack.baseAddress, let hit = memchr(base, Int32(byte), haystack.count) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        guard !needle.isEmpty else { return 0 }
        guard let base = haystack.baseAddress, haystack.count >= needle.count else { return nil }
        return needle.withUnsafeBytes { needle -> Int? in
            let last = haystack.count - needle.count
            var index = 0
            while index <= last {
                guard let hit = memchr(base + index, Int32(needle[0]), last - index + 1) else { return nil }
                let at = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + at, needle.baseAddress!, needle.count) == 0 { return at }
                index = at + 1
            }
            return nil
        }
    }

    /// The value of a header line starting with `name` (lower case, with its colon), any case.
    static func value(of name: StaticString, in line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let count = name.utf8CodeUnitCount
        guard line.count >= count else { return nil }
        let prefix = UnsafeRawBufferPointer(start: name.utf8Start, count: count)
        for index in 0..<count {
            let byte = line[index]
            guard (65...90).contains(byte) ? byte + 32 == prefix[index] : byte == prefix[index] else { return nil }
        }
        return UnsafeRawBufferPointer(rebasing: line[count...])
    }
}

extension String {
    var trimmingBlanks: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    var trimmingCarriageReturn: String { hasSuffix("\r") ? String(dropLast()) : self }
}
