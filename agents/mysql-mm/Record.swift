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
        return Record(endpoint: endpoint, credentialsFile: credentials, readerAttribute: reader, writerAttribute: writer,
                      promoted: values["promoted"] == "yes")
    }

    func save(to file: StateFile) throws {
        var values: [(String, String)]
        switch endpoint {
        case .socket(let path): values = [("socket", path)]
        case .tcp(let host, let port): values = [("host", host), ("port", String(port))]
        }
        values += [("credentials_file", credentialsFile ?? ""), ("reader_attribute", readerAttribute),
                   ("writer_attribute", writerAttribute ?? ""), ("promoted", promoted ? "yes" : "no")]
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

    private var attributes: NodeAttributes { NodeAttributes(deadline: context.deadline) }
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
