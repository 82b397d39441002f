import Glibc
import MySQLClient
import MySQLReplication
import OCF

/// What a start recorded in `$HA_RSCTMP/mysql-mm-<instance>`: the server and login, the
/// attribute names, and whether this node was promoted, so a stop (even with a configuration
/// that no longer parses) makes the right server read-only and removes the right attributes.
struct Record: Equatable {
    var endpoint: MySQLEndpoint
    var credentialsFile: String?
    var readerAttribute: String
    var writerAttribute: String?
    var promoted: Bool
    /// Where the server said it keeps its data and listens, once it answered a start: what
    /// proves it down, or reaches it, when `endpoint` stops answering.
    var dataDirectory: String? = nil
    var seenSocket: String? = nil
    var seenTCP: MySQLEndpoint? = nil

    mutating func note(_ placement: ServerPlacement) {
        dataDirectory = placement.dataDirectory.isEmpty ? nil : placement.dataDirectory
        seenSocket = placement.socket
        seenTCP = placement.tcp
    }

    /// The ways the server was seen to listen, other than `endpoint`.
    func otherEndpoints(than endpoint: MySQLEndpoint) -> [MySQLEndpoint] {
        [seenSocket.map(MySQLEndpoint.socket), seenTCP].compactMap { $0 }.filter { $0 != endpoint }
    }

    func login(timeouts context: AgentContext) -> MySQLLogin {
        MySQLLogin(defaultsFile: credentialsFile, connectTimeout: .seconds(5), readTimeout: .seconds(10)).bounded(by: context)
    }

    static func load(from file: StateFile) throws -> Record? {
        guard let values = try file.read() else { return nil }
        // Read back with the parameters' checks: a damaged record names nothing.
        let endpoint: MySQLEndpoint
        if let socket = values["socket"], socket.hasPrefix("/") {
            endpoint = .socket(socket)
        } else if let host = values["host"], MasterMasterParameters.isHostName(host), let port = values["port"].flatMap(UInt16.init) {
            endpoint = .tcp(host: host, port: port)
        } else {
            return nil
        }
        guard let reader = values["reader_attribute"], MasterMasterParameters.isAttributeName(reader) else { return nil }
        let writer = values["writer_attribute"].flatMap { MasterMasterParameters.isAttributeName($0) ? $0 : nil }
        let credentials = values["credentials_file"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        var record = Record(endpoint: endpoint, credentialsFile: credentials, readerAttribute: reader, writerAttribute: writer,
                            promoted: values["promoted"] == "yes")
        record.dataDirectory = values["datadir"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        record.seenSocket = values["seen_socket"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        if let text = values["seen_tcp"], let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) {
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            if MasterMasterParameters.isHostName(host) { record.seenTCP = .tcp(host: host, port: port) }
        }
        return record
    }

    func save(to file: StateFile) throws {
        var values: [(String, String)]
        switch endpoint {
        case .socket(let path): values = [("socket", path)]
        case .tcp(let host, let port): values = [("host", host), ("port", String(port))]
        }
        values += [("credentials_file", credentialsFile ?? ""), ("reader_attribute", readerAttribute),
                   ("writer_attribute", writerAttribute ?? ""), ("promoted", promoted ? "yes" : "no"),
                   ("datadir", dataDirectory ?? ""), ("seen_socket", seenSocket ?? ""), ("seen_tcp", seenTCP?.description ?? "")]
        try file.write(values)
    }
}

/// Node attributes and the promotion score, inside a promotable clone only: by hand, with
/// ocf-tester or crm_resource there is no clone to score and no attrd to tell. Failures are
/// warnings: an attribute never fails an action (the monitor's exit code carries the state).
///
/// Each call runs a cluster tool (several milliseconds each, most of a monitor's cost), so what
/// was published is kept in the state directory and published again only when it changes, or
/// once a minute in case the cluster lost it.
struct Publisher {
    let context: AgentContext
    /// How long unchanged values go without being published again.
    static let refresh = 60.0

    private var inPromotableClone: Bool {
        context.environment.meta("promoted_max") != nil || context.environment.meta("master_max") != nil
    }

    /// Every call of one publisher shares one budget (`AgentContext.attributeBudget`): a frozen
    /// attrd costs a monitor seconds, not its timeout.
    private let attributes: any NodeAttributeStore

    init(context: AgentContext) {
        self.context = context
        attributes = context.nodeAttributes
    }
    private var cache: StateFile { context.stateFile(agent: MasterMasterAgent.name, suffix: "-published") }

    func publish(_ verdict: Verdict, record: Record) {
        publish(readable: verdict.readable, writer: verdict.writer, score: verdict.score, record: record)
    }

    /// The server is down or does not answer: neither readable nor promotable.
    func publish(notRunning record: Record) {
        publish(readable: false, writer: false, score: nil, record: record)
    }

    private func publish(readable: Bool, writer: Bool, score: Int?, record: Record) {
        guard inPromotableClone else { return }
        // Cache keys apart from attribute names: "attribute NAME", "score", "at".
        var wanted = [("attribute " + record.readerAttribute, readable ? "1" : "0")]
        if let name = record.writerAttribute { wanted.append(("attribute " + name, writer ? "1" : "0")) }
        wanted.append(("score", score.map(String.init) ?? "none"))
        let now = GTIDLagMark.now
        if let published = try? cache.read(), let at = published["at"].flatMap(Double.init), now - at < Self.refresh, now >= at,
           wanted.allSatisfy({ published[$0.0] == $0.1 }) {
            return
        }
        var complete = true
        complete = attempt("setting \(record.readerAttribute)") { try attributes.update(record.readerAttribute, to: readable ? "1" : "0") } && complete
        if let name = record.writerAttribute {
            complete = attempt("setting \(name)") { try attributes.update(name, to: writer ? "1" : "0") } && complete
        }
        if let score {
            complete = attempt("setting the promotion score") { try attributes.setPromotionScore(score) } && complete
        } else {
            complete = attempt("removing the promotion score") { try attributes.removePromotionScore() } && complete
        }
        if complete { try? cache.write(wanted + [("at", String(now))]) } else { try? cache.remove() }
    }

    func remove(_ record: Record) {
        try? cache.remove()
        guard inPromotableClone else { return }
        attempt("removing \(record.readerAttribute)") { try attributes.delete(record.readerAttribute) }
        if let writer = record.writerAttribute { attempt("removing \(writer)") { try attributes.delete(writer) } }
        attempt("removing the promotion score") { try attributes.removePromotionScore() }
    }

    // MARK: The final position

    /// The node attribute with this node's final GTID position (`gtid:1-1-42,2-2-7`), the same
    /// name on every node of the clone. It travels through attrd (corosync), not the SQL port:
    /// a peer that cannot reach this server still learns what it must have before it takes
    /// the writes. attrd forgets it when this node leaves the cluster (crashed, fenced).
    var finalAttribute: String {
        String(context.instance.split(separator: ":").first ?? Substring(context.instance)) + "-final-gtid"
    }

    /// The server is read-only and its binlog final (start, demote, stop): says how far it got.
    func publishFinal(_ position: GTIDPosition?) {
        guard inPromotableClone, let position else { return }
        attempt("publishing the final position") { try attributes.update(finalAttribute, to: "gtid:" + position.description) }
    }

    /// This node takes writes: its position is no longer final.
    func removeFinal() {
        guard inPromotableClone else { return }
        attempt("removing the final position") { try attributes.delete(finalAttribute) }
    }

    /// The final positions the other nodes published (a promote must have applied them).
    /// - Throws: when attrd cannot be asked: then nobody can say what the peer wrote.
    func peersFinal() throws -> [String: GTIDPosition] {
        guard inPromotableClone else { return [:] }
        let me = context.environment.meta("on_node") ?? Self.nodeName()
        var positions: [String: GTIDPosition] = [:]
        for (node, value) in try attributes.values(of: finalAttribute) where node != me && value.hasPrefix("gtid:") {
            if let position = GTIDPosition(String(value.dropFirst(5))) { positions[node] = position }
        }
        return positions
    }

    /// uname's node name (Pacemaker names nodes so unless told otherwise).
    static func nodeName() -> String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: names.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    @discardableResult
    private func attempt(_ what: String, _ body: () throws -> Void) -> Bool {
        do {
            try body()
            return true
        } catch let error as OCFError {
            context.log.warning("\(what): \(error.reason)")
        } catch {
            context.log.warning("\(what): \(error)")
        }
        return false
    }
}
