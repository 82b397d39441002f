import Glibc
import Netlink
import OCF
import OCFTesting

/// The project's Pacemaker lab (`.ci/lab/lab`) from Swift: real corosync + Pacemaker nodes in
/// namespaces, with Tandem's built agents as OCF provider `tandem` and its daemons in
/// `/usr/libexec/tandem`, its fence agents (`make build` stages them in .build/sbin) in
/// `/usr/sbin`, its crmsh cluster scripts (`docs/wizards/<name>`) in `/usr/share/crmsh/scripts`. The
/// lab is always torn down and its logs are kept in `lab-logs/<name>` of the repository.
public final class PacemakerLab {
    public let directory: String
    let script: String
    let logs: String
    private var isDown = false

    /// Brings up `nodes` nodes (and `hosts` plain hosts, `host1`…, without cluster software) and
    /// waits until they are online with a DC. `LAB_*` variables of this process (`LAB_SLOW`,
    /// `LAB_UP_TIMEOUT`… as the IPVS guest sets them) reach the lab.
    /// - Parameter libvirtPower: a domain name prefix: each node's boot is then a libvirt LXC
    ///   domain `<prefix>-nodeX` (lxc:///system; a libvirtd must run), so that powering a node
    ///   off is destroying its domain (`lab up --power libvirt:PREFIX`); `blockDevices` are the
    ///   host's block devices its nodes may use (`--block`).
    public init(nodes: Int, hosts: Int = 0, name: String = "it", libvirtPower: String? = nil, blockDevices: [String] = []) throws {
        let root = repositoryRoot
        script = root + "/.ci/lab/lab"
        directory = "/tmp/tandem-lab-\(name)-\(getpid())"
        logs = labLogsDirectory + "/" + name
        let provider = PacemakerLab.providerDirectory(root: root)
        var arguments = ["up", "-n", String(nodes), "--hosts", String(hosts), "--provider", "tandem=" + provider]
        let libexec = PacemakerLab.libexecDirectory(root: root)
        if access(libexec, F_OK) == 0 { arguments += ["--libexec", libexec] }
        let sbin = root + "/.build/sbin"
        if access(sbin, F_OK) == 0 { arguments += ["--sbin", sbin] }
        // The crmsh cluster scripts (Hawk wizards), as /usr/share/crmsh/scripts/<name> in the nodes.
        let wizards = root + "/docs/wizards"
        if access(wizards, F_OK) == 0 { arguments += ["--scripts", wizards] }
        if let libvirtPower { arguments += ["--power", "libvirt:" + libvirtPower] + blockDevices.flatMap { ["--block", $0] } }
        let up = try run(arguments, timeout: .seconds(120 * PacemakerLab.slowness))
        guard up.status == 0 else { throw LabError("lab up failed (\(up.status)): \(up.errorOutput)") }
    }

    deinit { down() }

    /// Tears the lab down, keeping its logs under `lab-logs/`.
    public func down() {
        guard !isDown else { return }
        isDown = true
        _ = try? run(["down", "--logs", logs], timeout: .seconds(60))
    }

    /// Runs a command inside a node (or `client`), with Pacemaker's tools on PATH.
    /// - Parameter input: what the command reads on stdin.
    public func exec(_ node: String, _ command: [String], input: String? = nil, timeout: Duration = .seconds(60)) throws -> Command.Result {
        try run(["exec", node, "--"] + command, input: input, timeout: timeout)
    }

    /// Power loss: the node's link unplugged, its processes killed at once.
    public func crash(_ node: String) throws { try labCommand(["crash", node]) }
    /// Boots a crashed or stopped node and waits until it is online.
    public func boot(_ node: String) throws { try labCommand(["boot", node], timeout: .seconds(120 * PacemakerLab.slowness)) }
    /// Graceful shutdown of the node's cluster stack.
    public func stop(_ node: String) throws { try labCommand(["stop", node], timeout: .seconds(120 * PacemakerLab.slowness)) }
    /// Unplugs the node's link (a partition); `plug` puts it back.
    public func isolate(_ node: String) throws { try labCommand(["isolate", node]) }
    public func plug(_ node: String) throws { try labCommand(["plug", node]) }
    /// Waits until every booted node is online with a DC.
    public func waitOnline() throws { try labCommand(["wait-online"], timeout: .seconds(120 * PacemakerLab.slowness)) }

    /// Loads crm configuration text (`crm configure load update -`) on `node`.
    public func configure(_ text: String, on node: String = "node1") throws {
        let result = try exec(node, ["crm", "configure", "load", "update", "-"], input: text, timeout: .seconds(60 * PacemakerLab.slowness))
        guard result.status == 0 else { throw LabError("crm configure load failed: \(result.output)\(result.errorOutput)") }
    }

    /// `crm_mon -1` as seen from a node in a quorate partition.
    public func status() -> String { (try? run(["status"], timeout: .seconds(60)).output) ?? "" }

    func labCommand(_ arguments: [String], timeout: Duration = .seconds(60)) throws {
        let result = try run(arguments, timeout: timeout)
        guard result.status == 0 else { throw LabError("lab \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.errorOutput)") }
    }

    /// The lab's slowness factor (`LAB_SLOW`, set under emulation): what scales our deadlines too.
    public static var slowness: Int64 { getenv("LAB_SLOW").flatMap { Int64(String(cString: $0)) } ?? 1 }

    /// Runs a command in a node until its exit status says success (or failure, with
    /// `succeeds: false`), for at most `timeout`; returns whether that happened.
    public func waitUntil(node: String, _ command: [String], succeeds: Bool, timeout: Duration = .seconds(20)) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(50)
        while ContinuousClock.now < deadline {
            if try (exec(node, command).status == 0) == succeeds { return true }
            sleep(for: pause)
            pause = min(pause * 2, .milliseconds(500))
        }
        return false
    }

    /// The node's network namespace, for netlink sockets in it.
    public func namespace(_ node: String) throws -> NetworkNamespace {
        let pid = try run(["pid", node], timeout: .seconds(10)).output.split(separator: "\n").first.map(String.init) ?? ""
        return try NetworkNamespace(path: "/proc/\(pid)/ns/net")
    }

    func run(_ arguments: [String], input: String? = nil, timeout: Duration) throws -> Command.Result {
        var environment: [String: String] = ["LAB_DIR": directory, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        environment["HOME"] = "/root"
        for name in ["LAB_SLOW", "LAB_UP_TIMEOUT", "LAB_ONLINE_TIMEOUT", "LAB_STOP_TIMEOUT", "LAB_KILL_TIMEOUT"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return try Command(script, arguments, environment: environment, input: input.map { Array($0.utf8) })
            .run(deadline: .now + timeout)
    }

    /// The agents as a provider directory: `$TANDEM_PROVIDER_DIR` (the Makefile's), else the
    /// directory of built agents.
    static func providerDirectory(root: String) -> String {
        if let directory = getenv("TANDEM_PROVIDER_DIR").map({ String(cString: $0) }), !directory.isEmpty { return directory }
        return root + "/.build/provider"
    }

    /// The daemons (`make build` stages them), or TANDEM_LAB_LIBEXEC_DIR.
    static func libexecDirectory(root: String) -> String {
        if let directory = getenv("TANDEM_LAB_LIBEXEC_DIR").map({ String(cString: $0) }), !directory.isEmpty { return directory }
        return root + "/.build/libexec"
    }
}
