import Addresses
import Glibc
import Netlink
import OCF
import OCFTesting

/// A real web server for health-check tests: nginx from Debian, one process (no master), in a
/// network namespace, serving `www/` over HTTP and, with a certificate, HTTPS. Its access log
/// records each request's time to the millisecond, so tests count checks at the server.
public final class WebServer {
    public let directory: String
    public let namespace: NetworkNamespace
    public let port: UInt16
    public let tlsPort: UInt16?
    private(set) var process: RunningCommand?

    /// - Parameters:
    ///   - directory: a fresh directory for the configuration, logs and `www/`.
    ///   - certificate: PEM certificate chain and key for HTTPS on `tlsPort`.
    public init(in namespace: NetworkNamespace, directory: String, port: UInt16 = 80, tlsPort: UInt16? = nil,
                certificate: (chain: String, key: String)? = nil, page: String = "Test Page", accessLog: Bool = true) throws {
        self.namespace = namespace
        self.directory = directory
        self.port = port
        self.tlsPort = tlsPort
        for sub in ["", "/www", "/tmp"] { mkdir(directory + sub, 0o755) }
        try writeFile(directory + "/www/ldirector.html", page + "\n")
        try writeFile(directory + "/www/index.html", page + "\n")
        var tls = ""
        if let tlsPort, let certificate {
            tls = """
                server { listen \(tlsPort) ssl; ssl_certificate \(certificate.chain); ssl_certificate_key \(certificate.key);
                         root \(directory)/www; location = /unavailable { return 503; } }
                """
        }
        try writeFile(directory + "/nginx.conf", """
            daemon off; master_process off; worker_processes 1;
            pid \(directory)/nginx.pid; error_log \(directory)/error.log;
            worker_rlimit_nofile 16384;
            events { worker_connections 8192; }
            http {
              log_format check '$msec $remote_addr $server_port $request_uri $status';
              access_log \(accessLog ? directory + "/access.log check" : "off");
              client_body_temp_path \(directory)/tmp; proxy_temp_path \(directory)/tmp;
              fastcgi_temp_path \(directory)/tmp; uwsgi_temp_path \(directory)/tmp; scgi_temp_path \(directory)/tmp;
              server { listen \(port); root \(directory)/www; location = /unavailable { return 503; } }
              \(tls)
            }
            """)
        try start()
    }

    deinit { kill() }

    /// Starts nginx and waits until it accepts connections.
    public func start() throws {
        kill()
        let command = Command("/usr/sbin/nginx", ["-c", directory + "/nginx.conf", "-p", directory])
        process = try command.start(in: namespace)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let connection = try TCPConnection.open(from: namespace, to: IPAddress("127.0.0.1")!, port: port, deadline: .now + .milliseconds(200)) {
                connection.close()
                return
            }
            if let result = process?.waitIfExited() { throw LabError("nginx exited: \(result.errorOutput) \(readFile(directory + "/error.log") ?? "")") }
            sleep(for: .milliseconds(20))
        }
        throw LabError("nginx did not listen on \(port) within 30 s")
    }

    /// SIGKILL: the server is gone at once.
    public func kill() {
        guard let process else { return }
        Glibc.kill(process.pid, SIGKILL)
        _ = process.wait(deadline: .now + .seconds(10))
        self.process = nil
    }

    /// SIGSTOP: the kernel still accepts connections, nobody answers.
    public func pause() { process.map { _ = Glibc.kill($0.pid, SIGSTOP) } }
    public func resume() { process.map { _ = Glibc.kill($0.pid, SIGCONT) } }

    /// The requests served so far: time (seconds since the epoch), client, port, path, status.
    public func requests() -> [(time: Double, client: String, port: UInt16, path: String, status: Int)] {
        (readFile(directory + "/access.log") ?? "").split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 5, let time = Double(fields[0]), let port = UInt16(fields[2]), let status = Int(fields[4]) else { return nil }
            return (time, String(fields[1]), port, String(fields[3]), status)
        }
    }
}

/// A private certificate authority made with the openssl command: server certificates for an
/// IP address, valid or expired.
public struct CertificateAuthority {
    public let directory: String
    public var certificate: String { directory + "/ca.pem" }

    public init(directory: String) throws {
        self.directory = directory
        mkdir(directory, 0o700)
        try writeFile(directory + "/index.txt", "")
        try writeFile(directory + "/serial", "1000\n")
        try writeFile(directory + "/ca.cnf", """
            [ ca ]
            default_ca = tandem
            [ tandem ]
            dir = \(directory)
            database = \(directory)/index.txt
            new_certs_dir = \(directory)
            serial = \(directory)/serial
            default_md = sha256
            policy = anything
            copy_extensions = copy
            unique_subject = no
            [ anything ]
            commonName = supplied
            """)
        try Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/ca.key", "-out", certificate,
                          "-days", "30", "-subj", "/CN=Tandem test CA"])
    }

    /// Issues a certificate for `address` (subjectAltName IP), valid now or expired last year.
    /// - Returns: the certificate and key paths.
    public func issue(for address: IPAddress, name: String, expired: Bool = false) throws -> (chain: String, key: String) {
        let base = directory + "/" + name
        try Self.openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", base + ".key", "-out", base + ".csr",
                          "-subj", "/CN=\(address)", "-addext", "subjectAltName=IP:\(address)"])
        var arguments = ["ca", "-batch", "-notext", "-config", directory + "/ca.cnf", "-cert", certificate,
                         "-keyfile", directory + "/ca.key", "-in", base + ".csr", "-out", base + ".pem"]
        arguments += expired ? ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"] : ["-days", "30"]
        try Self.openssl(arguments)
        return (base + ".pem", base + ".key")
    }

    static func openssl(_ arguments: [String]) throws {
        let result = try Command("/usr/bin/openssl", arguments).run(deadline: .now + .seconds(120))
        guard result.status == 0 else { throw LabError("openssl \(arguments.first ?? ""): \(result.errorOutput)") }
    }
}
