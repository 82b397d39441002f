import Glibc
import HealthCheck
import OCF
import OCFTesting
import Testing

/// Parameters that may hold a password (healthcheck's http_headers, an Authorization header,
/// and tcp_send, a Redis AUTH): their values appear in no log line, exit reason or trace of
/// `crm resource trace`, whether they are valid or refused, and the man page says so.
@Suite struct SecretParameterTests {
    static let marker = "s3cr3t-\(UInt32.random(in: 100_000...999_999))"
    static let base = ["services": "tcp:192.0.2.10:80", "check": "http"]

    static let cases: [(String, [String: String])] = [
        ("valid header", ["http_headers": "Authorization: Bearer \(marker)"]),
        ("header without a colon", ["http_headers": "Authorization Bearer \(marker)"]),
        ("header with a control character", ["http_headers": "Authorization: Bearer \(marker)\u{1}"]),
        ("second header bad", ["http_headers": "X-Check: lvs|\(marker)"]),
        ("valid tcp_send", ["check": "tcp-expect", "tcp_send": "AUTH \(marker)\\r\\n", "tcp_expect": "+OK"]),
        ("bad escape in tcp_send", ["check": "tcp-expect", "tcp_send": "AUTH \(marker)\\q", "tcp_expect": "+OK"]),
    ]

    @Test(arguments: cases)
    func neverEchoed(_ name: String, _ parameters: [String: String]) throws {
        let directory = "/tmp/tandem-secrets-\(getpid())"
        mkdir(directory, 0o700)
        let trace = directory + "/trace-\(UInt32.random(in: 0...UInt32.max))"
        var runner = AgentRunner(agent: "healthcheck", stateDirectory: directory)
        runner.environment["OCF_TRACE_FILE"] = trace
        runner.environment["OCF_TRACE_RA"] = "1"
        for action in ["validate-all", "start", "monitor"] {
            let result = try runner.run(action, Self.base.merging(parameters) { $1 })
            #expect(!result.errorOutput.contains(Self.marker) && !result.output.contains(Self.marker), "\(name), \(action): \(result)")
            #expect(!(result.exitReason ?? "").contains(Self.marker))
            let traced = readFile(trace) ?? ""
            #expect(!traced.isEmpty, "\(name), \(action): traced")
            #expect(!traced.contains(Self.marker), "\(name), \(action): \(traced)")
            unlink(trace)
        }
    }

    @Test func declaredSecretAndShownSo() throws {
        let secrets = HealthCheckParameters.declarations.filter(\.isSecret).map(\.name).sorted()
        #expect(secrets == ["http_headers", "tcp_send"])
        let page = try Command(AgentRunner.path(of: "healthcheck"), ["manpage"]).run(deadline: .now + .seconds(10)).output
        #expect(page.contains("cibsecret"), "the man page says how to keep it out of the CIB")
    }
}
