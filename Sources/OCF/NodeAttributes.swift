/// Where agents keep node attributes, the way they tell Pacemaker's placement rules about this
/// node (`location … rule -inf: not_defined rs_ok or rs_ok ne 1`) and its promotion scores: the
/// cluster's attrd (`NodeAttributes`), or a store in memory for agents run in-process by tests.
public protocol NodeAttributeStore: Sendable {
    /// Sets a transient attribute of this node.
    /// - Parameter dampen: how long attrd waits for further changes before writing.
    func update(_ name: String, to value: String, dampen: Duration?) throws(OCFError)
    /// Removes a transient attribute of this node.
    func delete(_ name: String) throws(OCFError)
    /// A transient attribute's value on every node that has one (node name → value).
    func values(of name: String) throws(OCFError) -> [String: String]
    /// Sets this node's promotion score for the resource running the agent.
    func setPromotionScore(_ score: Int) throws(OCFError)
    func removePromotionScore() throws(OCFError)
}

extension NodeAttributeStore {
    public func update(_ name: String, to value: String) throws(OCFError) { try update(name, to: value, dampen: nil) }
}

/// Node attributes in the cluster, through the official tools, run with argument arrays: `attrd_updater` for transient
/// attributes (kept by pacemaker-attrd, gone at reboot), `crm_attribute --promotion` for
/// promotion scores. Attribute names and values are checked first, so nothing odd reaches
/// another program.
public struct NodeAttributes: NodeAttributeStore {
    let deadline: ContinuousClock.Instant
    let attrdUpdater: String
    let crmAttribute: String

    /// - Parameters:
    ///   - deadline: every command must end by then (pass the action's deadline).
    ///   - attrdUpdater, crmAttribute: the programs; bare names are looked up in `PATH`.
    public init(deadline: ContinuousClock.Instant, attrdUpdater: String = "attrd_updater",
                crmAttribute: String = "crm_attribute") {
        self.deadline = deadline
        self.attrdUpdater = attrdUpdater
        self.crmAttribute = crmAttribute
    }

    /// Sets a transient attribute of this node: `attrd_updater -n NAME -U VALUE [-d DAMPEN]`.
    /// - Parameter dampen: how long attrd waits for further changes before writing.
    public func update(_ name: String, to value: String, dampen: Duration?) throws(OCFError) {
        try checkName(name)
        try checkValue(value)
        var arguments = ["-n", name, "-U", value]
        if let dampen { arguments += ["-d", "\(dampen.components.seconds)s"] }
        try run(attrdUpdater, arguments)
    }

    /// Removes a transient attribute of this node: `attrd_updater -n NAME -D`.
    public func delete(_ name: String) throws(OCFError) {
        try checkName(name)
        try run(attrdUpdater, ["-n", name, "-D"])
    }

    /// A transient attribute's value on every node that has one: `attrd_updater -Q -A -n NAME`.
    /// attrd forgets a node's values when the node leaves the cluster (crashed, fenced or shut
    /// down), so only nodes that are members answer.
    /// - Returns: node name → value; empty when no node has the attribute.
    public func values(of name: String) throws(OCFError) -> [String: String] {
        try checkName(name)
        let result: Command.Result
        do {
            result = try Command(attrdUpdater, ["-Q", "-A", "-n", name]).run(deadline: deadline)
        } catch {
            throw OCFError.notInstalled("\(error)")
        }
        if result.timedOut { throw OCFError.generic("\(attrdUpdater) -Q -A -n \(name) timed out: attrd does not answer") }
        guard result.status == 0 else {
            if result.errorOutput.includes("does not exist") { return [:] }
            let detail = result.errorOutput.split(separator: "\n").last.map(String.init) ?? "exit status \(result.status)"
            throw OCFError.generic("\(attrdUpdater) -Q -A -n \(name) failed: \(detail)")
        }
        var values: [String: String] = [:]
        for line in result.output.split(separator: "\n") {
            let fields = NodeAttributes.quotedFields(String(line))
            if fields["name"] == name, let host = fields["host"], let value = fields["value"] { values[host] = value }
        }
        return values
    }

    /// The `key="value"` fields of one line of attrd_updater's query output.
    static func quotedFields(_ line: String) -> [String: String] {
        var fields: [String: String] = [:]
        var rest = Substring(line)
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].drop(while: { $0 == " " })
            let afterEquals = rest[rest.index(after: equals)...]
            guard afterEquals.first == "\"" else { break }
            let valueStart = afterEquals.index(after: afterEquals.startIndex)
            guard let close = afterEquals[valueStart...].firstIndex(of: "\"") else { break }
            fields[String(key)] = String(afterEquals[valueStart..<close])
            rest = afterEquals[afterEquals.index(after: close)...]
        }
        return fields
    }

    /// Sets this node's promotion score for the resource running the agent (promotable clones):
    /// `crm_attribute --promotion -v SCORE`. The resource is `OCF_RESOURCE_INSTANCE`, which
    /// crm_attribute reads from the environment.
    public func setPromotionScore(_ score: Int) throws(OCFError) {
        try run(crmAttribute, ["--promotion", "-v", String(score)])
    }

    /// Removes this node's promotion score: `crm_attribute --promotion -D`.
    public func removePromotionScore() throws(OCFError) {
        try run(crmAttribute, ["--promotion", "-D"])
    }

    /// Attribute names as Pacemaker's XML ids allow, and never an option.
    public static func isValidName(_ name: String) -> Bool {
        let allowed = name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
        }
        return !name.isEmpty && !name.hasPrefix("-") && allowed
    }

    private func checkName(_ name: String) throws(OCFError) {
        guard NodeAttributes.isValidName(name) else {
            throw OCFError.generic("invalid node attribute name '\(name)'")
        }
    }

    private func checkValue(_ value: String) throws(OCFError) {
        guard !value.hasPrefix("-") || Int(value) != nil, !value.contains("\n") else {
            throw OCFError.generic("invalid node attribute value '\(value)'")
        }
    }

    private func run(_ program: String, _ arguments: [String]) throws(OCFError) {
        guard ContinuousClock.now < deadline else {
            throw OCFError.generic("\(program) \(arguments.joined(separator: " ")): no time left (attrd did not answer)")
        }
        let result: Command.Result
        do {
            result = try Command(program, arguments).run(deadline: deadline)
        } catch {
            throw OCFError.notInstalled("\(error)")
        }
        if result.timedOut {
            throw OCFError.generic("\(program) \(arguments.joined(separator: " ")) timed out: attrd does not answer")
        }
        guard result.status == 0 else {
            let detail = result.errorOutput.split(separator: "\n").last.map(String.init) ?? "exit status \(result.status)"
            throw OCFError.generic("\(program) \(arguments.joined(separator: " ")) failed: \(detail)")
        }
    }
}

extension AgentContext {
    /// How long an action gives Pacemaker's attribute tools, at most: a frozen attrd must cost
    /// an action a few seconds, never its whole timeout (a stop that times out gets the node fenced).
    public static let attributeBudget = Duration.seconds(5)

    /// Node attributes within `attributeBudget` from now (and the action's deadline): every call
    /// made through one value shares that budget.
    public var nodeAttributes: any NodeAttributeStore { attributeStore(min(deadline, .now + Self.attributeBudget)) }
}
