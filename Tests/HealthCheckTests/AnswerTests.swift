import Addresses
import Glibc
@testable import HealthCheck
@testable import Probes
import Testing

/// What an HTTP or tcp-expect answer says, fed the way sockets deliver it: whole, or in pieces.
struct AnswerTests {
    static let page = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 10\r\n\r\nTest Page\n"
    static let chunkedPage = "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: Chunked\r\n\r\n5;x=y\r\nTest \r\n5\r\nPage\n\r\n0\r\n\r\n"

    func check(body: String? = nil, pattern: String? = nil, statuses: [ClosedRange<Int>] = [200...399]) throws -> HTTPCheck {
        HTTPCheck(method: "GET", path: "/", host: nil, headers: [], statuses: statuses, body: body.map { Array($0.utf8) },
                  bodyPattern: try pattern.map { try Pattern($0) }, tls: nil)
    }

    /// Feeds `text` in pieces of `size` bytes; the first verdict, or the one at the end.
    func verdict(_ check: HTTPCheck, _ text: String, pieces size: Int = .max, closed: Bool = true) -> CheckOutcome? {
        var answer = HTTPAnswer()
        var rest = Array(text.utf8)[...]
        while !rest.isEmpty {
            let piece = rest.prefix(size)
            rest = rest.dropFirst(size)
            if let verdict = piece.withUnsafeBytes({ answer.read($0, check: check) }) { return verdict }
        }
        return closed ? answer.end(check: check) : nil
    }

    @Test(arguments: [1, 2, 7, 13, .max])
    func statusAndBodyDecideWhateverThePieces(size: Int) throws {
        #expect(verdict(try check(), AnswerTests.page, pieces: size) == .pass)
        #expect(verdict(try check(statuses: [204...204]), AnswerTests.page, pieces: size) == .fail("HTTP status 200"))
        #expect(verdict(try check(body: "Test Page"), AnswerTests.page, pieces: size, closed: false) == .pass)
        #expect(verdict(try check(body: "Missing"), AnswerTests.page, pieces: size, closed: false)
                == .fail("the body does not contain 'Missing'"))
        #expect(verdict(try check(pattern: "^Test P[a-z]+"), AnswerTests.page, pieces: size, closed: false) == .pass)
        #expect(verdict(try check(body: "Test Page"), AnswerTests.chunkedPage, pieces: size, closed: false) == .pass)
        #expect(verdict(try check(body: "Test Pag"), AnswerTests.chunkedPage, pieces: size, closed: false) == .pass)
        #expect(verdict(try check(body: "t P"), AnswerTests.chunkedPage, pieces: size, closed: false) == .pass,
                "the body across two chunks")
    }

    @Test func aBodyCheckWaitsForTheWholeBody() throws {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nTest"
        #expect(verdict(try check(body: "Page"), head, closed: false) == nil, "five bytes of ten: no verdict yet")
        #expect(verdict(try check(body: "Page"), head) == .fail("the body does not contain 'Page'"), "closed early")
        let noLength = "HTTP/1.0 200 OK\r\n\r\nTest Page"
        #expect(verdict(try check(body: "Page"), noLength, closed: false) == nil, "no length: the end of the stream decides")
        #expect(verdict(try check(body: "Page"), noLength) == .pass)
    }

    @Test func whatIsNotHTTPFails() throws {
        #expect(verdict(try check(), "SSH-2.0-OpenSSH_9.2\r\n") == .fail("HTTP: not an HTTP/1.x answer"))
        #expect(verdict(try check(), "HTTP/1.1 20 OK\r\n") == .fail("HTTP: not an HTTP/1.x answer"))
        #expect(verdict(try check(), "HTTP/2 200\r\n") == .fail("HTTP: not an HTTP/1.x answer"))
        #expect(verdict(try check(), "") == .fail("connection closed without an HTTP answer"))
        #expect(verdict(try check(), "HTTP/1.1 503 Service Unavailable\r\n") == .fail("HTTP status 503"))
        #expect(verdict(try check(), "HTTP/1.1 301\r\n") == .pass, "a status line without a reason phrase")
        let endless = "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 1000)
        #expect(verdict(try check(body: "x"), endless, closed: false) == .fail("HTTP: no end of headers in 22017 bytes"))
    }

    @Test func theRequestNamesTheServer() throws {
        let v6 = Target(address: IPAddress("2001:db8::5")!, port: 8080)
        let request = String(decoding: HTTPAnswer.request(try check(), for: v6), as: UTF8.self)
        #expect(request.hasPrefix("GET / HTTP/1.1\r\nHost: [2001:db8::5]\r\n"))
        #expect(request.hasSuffix("Connection: close\r\n\r\n"))
    }

    @Test func expectFindsTheBytesAcrossReads() {
        var answer = ExpectAnswer(expect: Array("+OK".utf8))
        #expect(Array("220 mail +".utf8).withUnsafeBytes { answer.read($0) } == nil)
        #expect(Array("OK ready".utf8).withUnsafeBytes { answer.read($0) } == .pass)
        let silent = ExpectAnswer(expect: Array("+OK".utf8))
        #expect(silent.end() == .fail("connection closed without an answer"))
    }

    @Test func byteSearch() {
        let text = Array("abcabd".utf8)
        text.withUnsafeBytes { bytes in
            #expect(Bytes.find(Array("abd".utf8), in: bytes) == 3)
            #expect(Bytes.find(Array("abe".utf8), in: bytes) == nil)
            #expect(Bytes.find(Array("abcabdx".utf8), in: bytes) == nil)
            #expect(Bytes.find([], in: bytes) == 0)
        }
    }
}
