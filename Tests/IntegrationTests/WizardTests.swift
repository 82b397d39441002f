import Addresses
import Glibc
import Labs
import MySQLClient
import OCF
import OCFTesting
import Testing

/// The crmsh cluster scripts of `docs/wizards/` (Hawk's wizards), as crm finds them installed in
/// `/usr/share/crmsh/scripts` on the lab's nodes (`lab up --scripts`), against the agents'
/// real meta-data: each is listed with its category and short description (also through
/// Hawk's JSON API), `show` works, `verify` with typical values prints the expected CIB and
/// changes nothing, `run … dry_run=yes` only prints, and bad input (a missing required
/// parameter, a value outside an enum, an address that is none) is refused. Then the wizards
/// are applied for real with `crm script run`: the LVS-DR real server's clone on two nodes,
/// mysql-mm on a real MariaDB pair, libvirt fencing on nodes that are libvirt LXC domains
/// (the director needs IPVS: `Tests/IPVSTests/WizardDirectorTests.swift`, in the guest).
@Suite(.serialized, .enabled(if: Facilities.ready))
struct WizardTests {
    /// One wizard: what crm must show for it and how it must treat input.
    struct Wizard: Sendable, CustomStringConvertible {
        let name: String
        let category: String
        let shortdesc: String
        /// Parameters `show` lists as required.
        let required: [String]
        let typical: [String]
        /// What `verify` prints for `typical`, without its leading tab.
        let cib: String
        /// Input the wizard refuses before it does anything, and a part of crm's message.
        let refused: [(arguments: [String], message: String)]
        /// Input whose CIB crm refuses (verify only: a run would try to load it).
        var refusedByCrm: [(arguments: [String], message: String)] = []
        var description: String { name }
    }

    static let wizards: [Wizard] = [
        Wizard(
            name: "tandem-lvs-director", category: "Server", shortdesc: "LVS director (Tandem)",
            required: ["id", "vip", "service", "realservers", "sync:interface"],
            typical: ["id=web", "vip=198.18.0.105", "service=tcp:198.18.0.105:80", "realservers=198.18.0.101 gate, 198.18.0.102 gate",
                      "check=http", "healthcheck:http_path=/ldirector.html", "healthcheck:http_body=Test Page",
                      "virtual-ip:nic=eth0", "virtual-ip:cidr_netmask=24", "ipvs:scheduler=wlc", "sync:interface=eth0", "sync:syncid=1"],
            cib: """
                primitive web-vip ocf:tandem:vip
                	ip="198.18.0.105"
                	cidr_netmask="24"
                	nic="eth0"
                	op start timeout=20s
                	op stop timeout=20s
                	op monitor interval=10s timeout=20s

                primitive web-service ocf:tandem:ipvs
                	service="tcp:198.18.0.105:80"
                	scheduler="wlc"
                	realservers="198.18.0.101 gate, 198.18.0.102 gate"
                	op start timeout=20s
                	op stop timeout=60s
                	op monitor interval=10s timeout=20s

                primitive web-check ocf:tandem:healthcheck
                	services="tcp:198.18.0.105:80"
                	check="http"
                	http_path="/ldirector.html"
                	http_body="Test Page"
                	op start timeout=30s
                	op stop timeout=30s
                	op monitor interval=10s timeout=20s
                	op monitor interval=60s timeout=20s OCF_CHECK_LEVEL=10

                group web web-vip web-service web-check

                primitive web-sync ocf:tandem:ipvs-sync
                	interface="eth0"
                	syncid="1"
                	op start timeout=20s
                	op stop timeout=20s
                	op promote timeout=20s
                	op demote timeout=20s
                	op monitor interval=11s role=Promoted timeout=20s
                	op monitor interval=13s role=Unpromoted timeout=20s

                clone web-sync-clone web-sync
                	meta promotable=true promoted-max=1 promoted-node-max=1 clone-max=2

                colocation web-sync-master-with-director inf: web-sync-clone:Promoted web

                order web-then-sync-master Mandatory: web web-sync-clone:promote
                """,
            refused: [
                (["id=web", "vip=198.18.0.105", "service=tcp:198.18.0.105:80"], "Missing required parameter(s): realservers"),
                (["id=web", "vip=198.18.0.105", "service=tcp:198.18.0.105:80", "realservers=198.18.0.101", "check=htp"],
                 "check=htp does not match 'tcp|tcp-expect|http|https|mysql|dns|ping|external|none'"),
                (["id=web", "vip=198.18.0.105", "service=tcp:198.18.0.105:80", "realservers=198.18.0.101", "ipvs:scheduler=fifo"],
                 "scheduler=fifo does not match 'rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh'"),
                (["id=web", "vip=198.18.0.300", "service=tcp:198.18.0.105:80", "realservers=198.18.0.101"],
                 "vip=198.18.0.300 is not an IP address"),
                (["id=web", "vip=198.18.0.105", "service=tcp:198.18.0.105:80", "realservers=198.18.0.101", "sync:syncid=1"],
                 "Missing required parameter(s): sync:interface"),
            ]),
        Wizard(
            name: "tandem-lvs-dr-realserver", category: "Server", shortdesc: "LVS-DR real server (Tandem)",
            required: ["id", "ip"],
            typical: ["id=rs-vip-web", "ip=198.18.0.105", "nic=eth0"],
            cib: """
                primitive rs-vip-web ocf:tandem:vip
                	ip="198.18.0.105"
                	nic="eth0"
                	lvs_dr_realserver="true"
                	op start timeout=20s
                	op stop timeout=20s
                	op monitor interval=30s timeout=20s

                clone rs-vip-web-clone rs-vip-web meta interleave=true
                """,
            refused: [
                (["id=rs-vip-web"], "Missing required parameter(s): ip"),
                (["id=rs-vip-web", "ip=198.18.0.105", "lvs_dr_realserver=false"], "lvs_dr_realserver=false does not match 'true'"),
                (["id=rs-vip-web", "ip=198.18.0.105", "arp_mode=gratuitous"], "arp_mode=gratuitous does not match 'request|reply|both'"),
                (["id=rs-vip-web", "ip=vip.example"], "ip=vip.example is not an IP address"),
                (["id=rs-vip-web", "ip=198.18.0.105", "nick=eth0"], "Unknown parameter nick"),
            ]),
        Wizard(
            name: "tandem-mysql-mm", category: "Database", shortdesc: "MySQL master-master (Tandem)",
            required: ["writer_vip"],
            typical: ["writer_vip=198.18.0.60", "reader_vip=198.18.0.61", "cidr_netmask=24", "nic=eth0", "host=127.0.0.1",
                      "credentials_file=/etc/tandem/mysql-mm.cnf", "db_node1=node1", "db_node2=node2"],
            cib: """
                primitive mysql-mm ocf:tandem:mysql-mm
                	host="127.0.0.1"
                	credentials_file="/etc/tandem/mysql-mm.cnf"
                	reader_attribute="readable"
                	op start timeout=30s
                	op stop timeout=30s
                	op promote timeout=90s
                	op demote timeout=30s
                	op monitor interval=9s role=Promoted timeout=30s on-fail=demote
                	op monitor interval=10s role=Unpromoted timeout=30s

                clone mysql-mm-clone mysql-mm
                	meta promotable=true promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1

                primitive mysql-mm-writer-vip ocf:tandem:vip
                	params ip="198.18.0.60"
                	cidr_netmask="24"
                	nic="eth0"
                	op start timeout=20s
                	op stop timeout=20s
                	op monitor interval=10s timeout=20s

                colocation mysql-mm-writer-vip-with-writer inf: mysql-mm-writer-vip mysql-mm-clone:Promoted

                order mysql-mm-promote-then-writer-vip Mandatory: mysql-mm-clone:promote mysql-mm-writer-vip:start

                primitive mysql-mm-reader-vip ocf:tandem:vip
                	params ip="198.18.0.61"
                	cidr_netmask="24"
                	nic="eth0"
                	op start timeout=20s
                	op stop timeout=20s
                	op monitor interval=10s timeout=20s

                location mysql-mm-reader-vip-on-readable mysql-mm-reader-vip
                	rule -inf: not_defined readable or readable ne 1

                colocation mysql-mm-reader-vip-prefers-replica 100: mysql-mm-reader-vip mysql-mm-clone:Unpromoted

                location mysql-mm-on-db-nodes mysql-mm-clone
                	rule -inf: #uname ne node1 and #uname ne node2
                """,
            refused: [
                (["reader_vip=198.18.0.61"], "Missing required parameter(s): writer_vip"),
                (["writer_vip=198.18.0.60", "lag_source=binlog"], "lag_source=binlog does not match 'gtid|heartbeat|seconds_behind_master'"),
                (["writer_vip=198.18.0.60", "max_lag=ten"], "max_lag=ten is not an integer"),
            ],
            // Half a restriction to the database nodes is a rule crm cannot parse, never a silent one-node clone.
            refusedByCrm: [(["writer_vip=198.18.0.60", "db_node1=node1"], "Unexpected end of line parsing 'location mysql-mm-on-db-nodes")]),
        Wizard(
            name: "tandem-libvirt-fencing", category: "Stonith", shortdesc: "libvirt fencing (Tandem)",
            required: ["id", "uri", "node1"],
            typical: ["uri=qemu+ssh://root@kvm-host/system?keyfile=/etc/cluster/fence_key", "known_hosts=/etc/cluster/fence_known_hosts",
                      "ssh_persist=120", "node1=node1", "domain1=node1-vm", "node2=node2"],
            cib: """
                primitive fence-libvirt-node1 stonith:fence_libvirt
                	params uri="qemu+ssh://root@kvm-host/system?keyfile=/etc/cluster/fence_key"
                	pcmk_host_map="node1:node1-vm"
                	known_hosts="/etc/cluster/fence_known_hosts"
                	ssh_persist="120"
                	op monitor interval=60s timeout=20s

                location fence-libvirt-node1-not-on-target fence-libvirt-node1 -inf: node1

                primitive fence-libvirt-node2 stonith:fence_libvirt
                	params uri="qemu+ssh://root@kvm-host/system?keyfile=/etc/cluster/fence_key"
                	pcmk_host_map="node2:node2"
                	known_hosts="/etc/cluster/fence_known_hosts"
                	ssh_persist="120"
                	op monitor interval=60s timeout=20s

                location fence-libvirt-node2-not-on-target fence-libvirt-node2 -inf: node2

                property cib-bootstrap-options: stonith-enabled=true
                """,
            refused: [
                (["node1=node1"], "Missing required parameter(s): uri"),
                (["uri=qemu:///system"], "Missing required parameter(s): node1"),
                (["uri=qemu:///system", "node1=node1", "reboot_method=cycle"], "reboot_method=cycle does not match 'onoff|reset'"),
                (["uri=qemu:///system", "node1=node1", "ssh_persist=long"], "ssh_persist=long is not an integer"),
            ]),
    ]

    /// In a two-node lab: every wizard as crm and Hawk see it, its typical values verified and
    /// dry-run, bad input refused, the CIB untouched by all of that; then the LVS-DR real server
    /// applied for real: the VIP on lo of both nodes, both quiet about it on the network.
    @Test func wizardsAreInstalledVerifiedAndRefuseBadInputAndTheRealServerRuns() throws {
        let lab = try PacemakerLab(nodes: 2, name: "wizards")
        defer { lab.down() }

        let list = try crm(lab, ["script", "list"])
        #expect(list.status == 0, "\(list)")
        let categories = Self.categories(of: list.output)
        for wizard in Self.wizards {
            #expect(categories[wizard.category]?.contains(wizard.name + " " + wizard.shortdesc) == true,
                    "\(wizard): not listed under \(wizard.category) with its short description:\n\(list.output)")
            #expect(!list.errorOutput.contains(wizard.name), "\(wizard): \(list.errorOutput)")
        }
        // Hawk's wizard list: crm script json through a command file.
        let json = try crm(lab, ["-f", "-"], input: "script json '[\"list\"]'\n")
        for wizard in Self.wizards {
            let entry = json.output.split(separator: "\n").first { $0.contains("\"name\": \"\(wizard.name)\"") } ?? ""
            #expect(entry.contains("\"category\": \"\(wizard.category.lowercased())\"") && entry.contains("\"shortdesc\": \"\(wizard.shortdesc)\"")
                        && !entry.contains("\"error\""), "\(wizard): not in Hawk's list: \(json)")
        }

        // The agents' own parameters, hidden by default (advanced), appear with "all".
        let all = try crm(lab, ["script", "show", "tandem-lvs-director", "all"])
        #expect(all.status == 0 && all.output.contains("  ipvs:on_drift\n") && all.output.contains("  healthcheck:tls_ca_file\n")
                    && all.output.contains("Common Parameters"), "\(all)")

        for wizard in Self.wizards {
            let show = try crm(lab, ["script", "show", wizard.name])
            #expect(show.status == 0 && show.output.hasPrefix("\(wizard.name) (\(wizard.category))\n\(wizard.shortdesc)\n"), "\(wizard): \(show)")
            for parameter in wizard.required {
                #expect(show.output.contains("  \(parameter) (required)"), "\(wizard): \(parameter) is not shown as required:\n\(show.output)")
            }

            let verify = try crm(lab, ["script", "verify", wizard.name] + wizard.typical)
            #expect(verify.status == 0, "\(wizard): \(verify)")
            #expect(Self.cibText(ofVerify: verify.output) == wizard.cib, "\(wizard): verify printed\n\(verify.output)")

            let dryRun = try crm(lab, ["script", "run", wizard.name] + wizard.typical + ["dry_run=yes", "nodes=node1"])
            #expect(dryRun.status == 0, "\(wizard): \(dryRun)")
            #expect(dryRun.output.contains("** node1 - crm --wait --no configure load update /tmp/crm-tmp-"), "\(wizard): \(dryRun)")
            let firstLine = wizard.cib.split(separator: "\n")[0]
            #expect(dryRun.output.contains("temporary file <<END\n" + firstLine), "\(wizard): \(dryRun)")

            for (arguments, message) in wizard.refused + wizard.refusedByCrm {
                let refused = try crm(lab, ["script", "verify", wizard.name] + arguments)
                #expect(refused.status == 1 && refused.errorOutput.contains(message), "\(wizard) \(arguments): \(refused)")
            }
            // run checks its input as verify does (once per wizard: each crm costs a second).
            let (arguments, message) = wizard.refused[0]
            let notRun = try crm(lab, ["script", "run", wizard.name] + arguments + ["nodes=node1"])
            #expect(notRun.status == 1 && notRun.errorOutput.contains(message), "\(wizard) \(arguments) run: \(notRun)")
        }
        // Neither verify nor a dry run nor refused input changed the cluster.
        let resources = try lab.exec("node1", ["cibadmin", "--query", "--scope", "resources"])
        #expect(resources.status == 0 && !resources.output.contains("<primitive"), "\(resources.output)")
        let stonith = try lab.exec("node1", ["crm_attribute", "--type", "crm_config", "--name", "stonith-enabled", "--query", "--quiet"])
        #expect(Self.trimmed(stonith.output) == "false", "\(stonith.output)")

        // The real server's wizard for real: the VIP on lo of every node, ARP kept quiet.
        let vip = "198.18.0.80"
        let run = try crm(lab, ["script", "run", "tandem-lvs-dr-realserver", "id=rs-vip", "ip=\(vip)", "nic=eth0"])
        #expect(run.status == 0, "\(run)")
        for node in ["node1", "node2"] {
            #expect(try lab.waitUntil(node: node, ["sh", "-c", "ip -o -4 addr show dev lo | grep -q ' \(vip)/32 '"], succeeds: true,
                                      timeout: .seconds(60 * PacemakerLab.slowness)), "\(node) has no \(vip) on lo:\n\(lab.status())")
            let sysctls = try lab.exec(node, ["sysctl", "-n", "net.ipv4.conf.eth0.arp_ignore", "net.ipv4.conf.eth0.arp_announce",
                                              "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce"])
            #expect(sysctls.output.split(separator: "\n") == ["1", "2", "1", "2"], "\(node): \(sysctls.output)")
        }
        #expect(lab.status().contains("Started: [ node1 node2 ]"), "\(lab.status())")
        // Nobody answers ARP for the VIP (a node's own address answers).
        #expect(try lab.exec("client", ["ping", "-c", "1", "-W", "1", "198.18.0.2"]).status == 0)
        #expect(try lab.exec("client", ["ping", "-c", "2", "-W", "1", vip]).status != 0, "a real server answered for \(vip)")
    }

    /// mysql-mm's wizard on a real MariaDB pair (one server in each of two lab nodes, GTID
    /// replication both ways): one writer is promoted, the writer address reaches its server,
    /// the reader address the replica's.
    @Test func mysqlMasterMasterWizardPromotesOneWriterBehindTheWriterAddress() throws {
        let lab = try PacemakerLab(nodes: 2, name: "wizard-mysql-mm")
        defer { lab.down() }
        let nodes = ["node1", "node2"]
        let pair = try MariaDBPair(name: "wizard", namespaces: try nodes.map { try lab.namespace($0) },
                                   addresses: [IPAddress("198.18.0.1")!, IPAddress("198.18.0.2")!])
        defer {
            lab.down()
            for server in pair.servers { server.kill(signal: SIGKILL) }
            // The servers' data (about 90 MB); their logs stay in the pair's directory.
            _ = try? Command("/bin/rm", ["-rf", pair.directory + "/db1/data", pair.directory + "/db2/data"]).run(deadline: .now + .seconds(60))
        }
        let writerVIP = "198.18.0.60", readerVIP = "198.18.0.61"
        let run = try crm(lab, ["script", "run", "tandem-mysql-mm", "writer_vip=\(writerVIP)", "reader_vip=\(readerVIP)",
                                "cidr_netmask=24", "nic=eth0", "host=127.0.0.1", "credentials_file=\(pair.agentCredentials)",
                                "connect_timeout=2s", "read_timeout=5s"])
        #expect(run.status == 0, "\(run)")

        // One writer: read_only OFF on exactly one server, Promoted there, the writer address with it.
        var writer: Int?
        let promoted = waitUntil(deadline: .now + .seconds(120 * PacemakerLab.slowness)) {
            let states = [pair.readOnly(0), pair.readOnly(1)]
            guard states.filter({ $0 == false }).count == 1, let index = states.firstIndex(of: false) else { return false }
            writer = index
            return Self.location(lab, "mysql-mm-writer-vip") == nodes[index]
                && lab.status().contains("Promoted: [ \(nodes[index]) ]")
        }
        try #require(promoted, "no single writer with the writer address:\n\(lab.status())\n\(pair.diagnostics())")
        let writerIndex = try #require(writer)
        let replica = nodes[1 - writerIndex]
        #expect(lab.status().contains("Unpromoted: [ \(replica) ]"), "\(lab.status())")
        // The reader address goes to the replica once it is readable.
        #expect(waitUntil(deadline: .now + .seconds(60 * PacemakerLab.slowness)) { Self.location(lab, "mysql-mm-reader-vip") == replica },
                "the reader address is not on the replica \(replica):\n\(lab.status())")

        // From the client: the writer address reaches the writer, which takes a write; the
        // reader address the replica, which has it.
        let client = try lab.namespace("client")
        let login = MySQLLogin(defaultsFile: pair.appCredentials, database: "lab", connectTimeout: .seconds(2), readTimeout: .seconds(5))
        func serverID(at address: String, _ statement: String? = nil) -> Int? {
            try? client.perform { () -> Int? in
                guard let connection = try? MySQLConnection(.tcp(host: address, port: 3306), login: login) else { return nil }
                if let statement, (try? connection.query(statement)) == nil { return nil }
                guard let id = (try? connection.query("SELECT @@server_id AS id"))?.first?["id"].integer else { return nil }
                return Int(id)
            }
        }
        #expect(serverID(at: writerVIP, "INSERT INTO t (node, note) VALUES (0, 'through the writer address')") == writerIndex + 1)
        try pair.waitInSync()
        #expect(serverID(at: readerVIP) == 2 - writerIndex)
        #expect(try pair.rowCount(1 - writerIndex) == 1)
    }

    /// libvirt fencing's wizard on a two-node lab whose nodes are libvirt LXC domains, the
    /// devices reaching the hypervisor's libvirtd over lxc+ssh (as seed 001's test): each
    /// device runs on the node it does not fence, fencing is on, and a fence through the
    /// cluster powers the node's domain off and on.
    @Test func libvirtFencingWizardGivesEachNodeADeviceElsewhere() throws {
        let libvirt = try LibvirtLab(name: "wizard-fencing")
        let lab = try PacemakerLab(nodes: 2, name: "wizard-fencing", libvirtPower: libvirt.prefix)
        let sshd = try SSHServer(directory: libvirt.directory + "/sshd", namespace: try lab.namespace("sw"), address: "198.18.0.254")
        defer {
            lab.down()
            withExtendedLifetime(sshd) {}
            libvirt.stop()
        }
        let domain = { (node: String) in "\(libvirt.prefix)-\(node)" }
        let run = try crm(lab, ["script", "run", "tandem-libvirt-fencing",
                                "uri=lxc+ssh://root@198.18.0.254:\(sshd.port)/system?keyfile=\(sshd.clientKey)",
                                "known_hosts=\(sshd.knownHosts)", "ssh_persist=60",
                                "node1=node1", "domain1=\(domain("node1"))", "node2=node2", "domain2=\(domain("node2"))"])
        #expect(run.status == 0, "\(run)")

        let placed = waitUntil(deadline: .now + .seconds(90 * PacemakerLab.slowness)) {
            Self.location(lab, "fence-libvirt-node1") == "node2" && Self.location(lab, "fence-libvirt-node2") == "node1"
        }
        #expect(placed, "each device should run on the other node:\n\(lab.status())")
        let stonith = try lab.exec("node1", ["crm_attribute", "--type", "crm_config", "--name", "stonith-enabled", "--query", "--quiet"])
        #expect(Self.trimmed(stonith.output) == "true", "\(stonith.output)")
        for (node, device) in [("node2", "fence-libvirt-node1"), ("node1", "fence-libvirt-node2")] {
            let query = try lab.exec(node, ["stonith_admin", "--query", device])
            #expect(query.status == 0, "\(device) on \(node): \(query.output)\(query.errorOutput)")
        }
        let targets = try lab.exec("node1", ["stonith_admin", "--list", "node2"])
        #expect(targets.output.contains("fence-libvirt-node2") && !targets.output.contains("fence-libvirt-node1"), "\(targets.output)")

        // A fence through the cluster: node2's domain is powered off and started again.
        let before = try #require(libvirt.containerID(domain("node2")))
        let reboot = try lab.exec("node1", ["stonith_admin", "--reboot", "node2", "--timeout", "60"], timeout: .seconds(90))
        #expect(reboot.status == 0, "\(reboot.output)\(reboot.errorOutput)")
        #expect(libvirt.containerID(domain("node2")) != before, "node2's domain was not powered off")
        let history = try lab.exec("node1", ["stonith_admin", "--history", "node2", "--verbose"])
        #expect(history.output.contains("reboot of node2 successful"), "\(history.output)")
        // By the device the wizard made for node2 (the history does not name it; the fencer's log does).
        let log = readFile(lab.directory + "/node1/log/pacemaker/pacemaker.log") ?? ""
        #expect(log.contains("Operation 'reboot' [") && log.contains("targeting node2 using fence-libvirt-node2 returned 0"),
                "node2 was not fenced by fence-libvirt-node2")
    }

    // MARK: Helpers

    /// crm in a lab node, its output without colours (crmsh colours its messages even with -D plain).
    func crm(_ lab: PacemakerLab, _ arguments: [String], input: String? = nil, node: String = "node1") throws -> CrmResult {
        let result = try lab.exec(node, ["crm"] + arguments, input: input, timeout: .seconds(120 * PacemakerLab.slowness))
        return CrmResult(status: result.status, output: Self.plain(result.output), errorOutput: Self.plain(result.errorOutput))
    }

    struct CrmResult: CustomStringConvertible {
        let status: Int32
        let output: String
        let errorOutput: String
        var description: String { "exit \(status)\n\(output)\(errorOutput)" }
    }

    static func plain(_ text: String) -> String {
        var result = ""
        var escape = false
        for character in text {
            if escape {
                if character.isLetter { escape = false }
                continue
            }
            if character == "\u{1B}" { escape = true; continue }
            result.append(character)
        }
        return result
    }

    /// `crm script list` by category: "Server" → ["apache Apache Webserver", …] (names and
    /// descriptions with their padding reduced to one space). A category is a line "Name:".
    static func categories(of list: String) -> [String: [String]] {
        var categories: [String: [String]] = [:]
        var current = ""
        for line in list.split(separator: "\n") {
            if line.hasSuffix(":") {
                current = String(line.dropLast())
                continue
            }
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2 else { continue }
            categories[current, default: []].append(fields[0] + " " + fields[1].drop { $0 == " " })
        }
        return categories
    }

    /// The CIB text of `crm script verify`'s one action, without the action's heading and the
    /// tab every line starts with; blank separator lines empty.
    static func cibText(ofVerify output: String) -> String {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        guard let heading = lines.firstIndex(of: "1. Configure cluster resources") else { return output }
        return lines[(heading + 1)...]
            .map { $0.hasPrefix("\t") ? String($0.dropFirst()) : String($0) }
            .map { $0.allSatisfy { $0 == " " || $0 == "\t" } ? "" : $0 }
            .drop { $0.isEmpty }
            .reversed().drop { $0.isEmpty }.reversed()
            .joined(separator: "\n")
    }

    static func trimmed(_ text: String) -> String {
        String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    /// The node a resource runs on, as node1 sees it (nil: stopped or unknown).
    static func location(_ lab: PacemakerLab, _ resource: String) -> String? {
        guard let result = try? lab.exec("node1", ["crm_resource", "--locate", "--resource", resource]), result.status == 0,
              let line = result.output.split(separator: "\n").first(where: { $0.contains("is running on:") }) else { return nil }
        return line.split(separator: " ").last.map(String.init)
    }
}
