import Glibc
import Labs
import OCF
import OCFTesting
import Testing

/// fence_libvirt against a real libvirtd (started here, without systemd) and TCG guest domains:
/// every action with the result verified through libvirt (virsh), the same over qemu+ssh to a
/// private sshd, host key verification, deadlines against a black hole and a frozen libvirtd,
/// refused input, and pacemaker-fenced in stand-alone mode driving the agent.
@Suite(.serialized, .enabled(if: Facilities.ready))
struct FenceLibvirtTests {
    static let agent = FenceRunner(AgentRunner.path(of: "fence_libvirt"))

    /// The fencer's stdin for one action.
    static func options(_ action: String, _ plug: String?, uri: String = LibvirtLab.uri, _ extra: [(String, String)] = []) -> [(String, String)] {
        var options = [("action", action), ("uri", uri)]
        if let plug { options += [("nodename", "node1"), ("port", plug)] }
        return options + extra
    }

    @Test func offOnStatusAndListAreVerifiedThroughLibvirt() throws {
        let lab = try LibvirtLab(name: "power")
        let guest = try lab.addGuest("n1")
        let other = try lab.addGuest("n2")
        #expect(lab.waitForBoots(guest, 1), "the guest never booted: \(readFile(guest.console) ?? "")")

        let status = try Self.agent.run(Self.options("status", guest.name))
        #expect(status.status == 0 && status.output == "Status: ON\n", "\(status)")

        let list = try Self.agent.run(Self.options("list", nil))
        #expect(list.status == 0, "\(list)")
        #expect(list.output.contains("\(guest.name),\(guest.uuid)\n") && list.output.contains("\(other.name),\(other.uuid)\n"), "\(list)")
        let listStatus = try Self.agent.run([("action", "list-status"), ("uri", LibvirtLab.uri)])
        #expect(listStatus.output.contains("\(guest.name),\(guest.uuid),ON\n"), "\(listStatus)")

        let monitor = try Self.agent.run([("action", "monitor"), ("uri", LibvirtLab.uri)])
        #expect(monitor.status == 0, "\(monitor)")

        let off = try Self.agent.run(Self.options("off", guest.name))
        #expect(off.status == 0 && off.output == "Success: Powered OFF\n", "\(off)")
        #expect(lab.state(guest) == "shut off", "off returned before libvirt saw the domain off")
        #expect(lab.state(other) == "running", "the other domain was touched")
        let statusOff = try Self.agent.run(Self.options("status", guest.name))
        #expect(statusOff.status == 2 && statusOff.output == "Status: OFF\n", "\(statusOff)")
        let offAgain = try Self.agent.run(Self.options("off", guest.name))
        #expect(offAgain.status == 0 && offAgain.output == "Success: Already OFF\n", "\(offAgain)")

        // By UUID, from the command line.
        let on = try Self.agent.run(arguments: ["-o", "on", "-n", guest.uuid, "--uri", LibvirtLab.uri])
        #expect(on.status == 0 && on.output == "Success: Powered ON\n", "\(on)")
        #expect(lab.state(guest) == "running")
        #expect(lab.waitForBoots(guest, 2), "not booted again after on")
        let onAgain = try Self.agent.run(Self.options("on", guest.name))
        #expect(onAgain.status == 0 && onAgain.output == "Success: Already ON\n", "\(onAgain)")
    }

    @Test func rebootPowersOffThenOnAndResetRestartsTheGuest() throws {
        let lab = try LibvirtLab(name: "reboot")
        let guest = try lab.addGuest("n1")
        #expect(lab.waitForBoots(guest, 1))
        let firstID = try #require(lab.domainID(guest))

        let reboot = try Self.agent.run(Self.options("reboot", guest.name))
        #expect(reboot.status == 0 && reboot.output == "Success: Rebooted\n", "\(reboot)")
        // A new hypervisor process (a new domain id), and a guest that boots from scratch.
        let secondID = try #require(lab.domainID(guest), "not running after reboot")
        #expect(secondID != firstID)
        #expect(lab.waitForBoots(guest, 2), "the guest did not boot again")
        let log = readFile(lab.directory + "/libvirtd.log") ?? ""
        #expect(!log.isEmpty)

        let reset = try Self.agent.run(Self.options("reboot", guest.name, [("reboot_method", "reset")]))
        #expect(reset.status == 0 && reset.output == "Success: Rebooted (reset)\n", "\(reset)")
        #expect(lab.domainID(guest) == secondID, "reset keeps the process")
        #expect(lab.waitForBoots(guest, 3), "the guest did not boot again after the reset")

        // A domain that is off is simply started by a reboot.
        _ = try lab.virsh(["destroy", guest.name])
        let fromOff = try Self.agent.run(Self.options("reboot", guest.name))
        #expect(fromOff.status == 0 && lab.state(guest) == "running", "\(fromOff)")

        // A start that fails after a verified off: the node is fenced all the same (exit 0), and
        // the failed start is reported.
        try lab.breakNextStart(guest)
        let halfway = try Self.agent.run(Self.options("reboot", guest.name))
        #expect(halfway.status == 0 && halfway.output == "Success: Rebooted (off; not started)\n", "\(halfway)")
        #expect(halfway.errorOutput.contains("is off, but starting it again failed"), "\(halfway)")
        #expect(lab.state(guest) == "shut off")
    }

    @Test func transientAndMissingDomains() throws {
        let lab = try LibvirtLab(name: "transient")
        let guest = try lab.addGuest("t1", transient: true)
        // destroy makes a transient domain vanish: that is off, not a failure.
        let off = try Self.agent.run(Self.options("off", guest.name))
        #expect(off.status == 0 && off.output == "Success: Powered OFF\n", "\(off)")
        #expect(lab.state(guest) == nil, "the transient domain still exists")

        let status = try Self.agent.run(Self.options("status", guest.name))
        #expect(status.status == 1 && status.reason.contains("not found"), "\(status)")
        let asOff = try Self.agent.run(Self.options("status", guest.name, [("missing_as_off", "1")]))
        #expect(asOff.status == 2, "\(asOff)")
        let offMissing = try Self.agent.run(Self.options("off", guest.name))
        #expect(offMissing.status == 1, "\(offMissing)")
        let offMissingAsOff = try Self.agent.run(Self.options("off", guest.name, [("missing_as_off", "true")]))
        #expect(offMissingAsOff.status == 0 && offMissingAsOff.output == "Success: Already OFF\n", "\(offMissingAsOff)")
        let on = try Self.agent.run(Self.options("on", guest.name, [("missing_as_off", "true")]))
        #expect(on.status == 1, "\(on)")
    }

    @Test func overSSHWithAKeyAndAKnownHostKey() throws {
        let lab = try LibvirtLab(name: "ssh")
        let guest = try lab.addGuest("n1")
        let sshd = try SSHServer(directory: lab.directory + "/sshd")
        let uri = "qemu+ssh://root@127.0.0.1:\(sshd.port)/system?keyfile=\(sshd.clientKey)"
        let known = [("known_hosts", sshd.knownHosts)]

        let status = try Self.agent.run(Self.options("status", guest.name, uri: uri, known))
        #expect(status.status == 0 && status.output == "Status: ON\n", "\(status)")
        let off = try Self.agent.run(Self.options("off", guest.name, uri: uri, known))
        #expect(off.status == 0 && lab.state(guest) == "shut off", "\(off)")
        let reboot = try Self.agent.run(Self.options("reboot", guest.name, uri: uri, known))
        #expect(reboot.status == 0 && lab.state(guest) == "running", "\(reboot)")
        let list = try Self.agent.run([("action", "list"), ("uri", uri)] + known)
        #expect(list.output.contains(guest.name), "\(list)")
        #expect(processes(withArgumentContaining: "\(sshd.port)").filter { !Self.isSSHServer($0) }.isEmpty, "an ssh client was left running")

        // An unknown host key is refused (root's own known_hosts does not have it), and nothing is touched.
        let unknown = try Self.agent.run(Self.options("off", guest.name, uri: uri))
        #expect(unknown.status == 1 && unknown.reason.contains("Host key verification failed"), "\(unknown)")
        #expect(lab.state(guest) == "running")
        // So is a changed one.
        let wrong = lab.directory + "/wrong_known_hosts"
        let otherKey = (readFile(sshd.clientKey + ".pub") ?? "").split(separator: " ").prefix(2).joined(separator: " ")
        try writeFile(wrong, "[127.0.0.1]:\(sshd.port) \(otherKey)\n")
        let changed = try Self.agent.run(Self.options("off", guest.name, uri: uri, [("known_hosts", wrong)]))
        #expect(changed.status == 1 && changed.reason.contains("Host key verification failed"), "\(changed)")
        #expect(lab.state(guest) == "running")
    }

    @Test func aKeptSSHConnectionServesTheNextActions() throws {
        let lab = try LibvirtLab(name: "persist")
        let guest = try lab.addGuest("n1")
        let sshd = try SSHServer(directory: lab.directory + "/sshd")
        let uri = "qemu+ssh://root@127.0.0.1:\(sshd.port)/system?keyfile=\(sshd.clientKey)"
        let kept = [("known_hosts", sshd.knownHosts), ("ssh_persist", "30")]
        func masters() -> Set<pid_t> {
            Set(processes(withArgumentContaining: "/run/tandem/fence_libvirt/cm-"))
        }
        let before = masters()
        let first = try Self.agent.run(Self.options("status", guest.name, uri: uri, kept))
        #expect(first.status == 0, "\(first)")
        let kept1 = masters().subtracting(before)
        #expect(kept1.count == 1, "one kept connection: \(kept1)")
        let second = try Self.agent.run(Self.options("status", guest.name, uri: uri, kept))
        #expect(second.status == 0 && second.elapsed < first.elapsed, "the second status logs in again: \(first.elapsed) then \(second.elapsed)")
        let off = try Self.agent.run(Self.options("off", guest.name, uri: uri, kept))
        #expect(off.status == 0 && lab.state(guest) == "shut off", "\(off)")
        #expect(masters().subtracting(before) == kept1, "a second connection was opened")
        // The kept connection ends with the host's sshd session.
        sshd.stop()
        #expect(waitUntil(deadline: .now + .seconds(10)) { masters().isDisjoint(with: kept1) })
    }

    @Test func aHostThatNeverAnswersFailsWithinConnectTimeout() throws {
        let hole = try BlackHoleListener()
        let lab = try LibvirtLab(name: "blackhole")
        let sshd = try SSHServer(directory: lab.directory + "/sshd")
        for uri in ["qemu+ssh://root@127.0.0.1:\(hole.port)/system?keyfile=\(sshd.clientKey)",
                    "qemu+libssh2://root@127.0.0.1:\(hole.port)/system?keyfile=\(sshd.clientKey)&known_hosts=\(sshd.knownHosts)"] {
            let result = try Self.agent.run(Self.options("status", "n1", uri: uri, [("connect_timeout", "2")]), timeout: .seconds(30))
            #expect(result.status == 1 && !result.timedOut, "\(result)")
            #expect(result.reason.contains("timed out"), "Pacemaker reads a timeout from 'timed out': \(result)")
            #expect(result.elapsed < .seconds(4), "gave up after \(result.elapsed), connect_timeout=2")
            let clean = waitUntil(deadline: .now + .seconds(5)) { processes(withArgumentContaining: "\(hole.port)").isEmpty }
            #expect(clean, "an ssh client to the black hole was left running")
            let transport = uri.hasPrefix("qemu+ssh") ? "ssh" : "libssh2"
            FaultTable.record("fence_libvirt", "hypervisor accepts and never answers (\(transport))",
                              expected: "status 1 'timed out' within connect_timeout (2 s), no ssh left",
                              observed: "status \(result.status) after \(Int(result.elapsed / .milliseconds(1))) ms: \(result.reason)\(clean ? "" : ", SSH LEFT")",
                              holds: result.status == 1 && result.reason.contains("timed out") && result.elapsed < .seconds(4) && clean)
        }
    }

    @Test func aFrozenLibvirtdFailsWithinConnectTimeout() throws {
        let lab = try LibvirtLab(name: "frozen")
        let guest = try lab.addGuest("n1")
        lab.freeze()
        defer { lab.thaw() }
        for action in ["status", "off", "monitor"] {
            let result = try Self.agent.run(Self.options(action, action == "monitor" ? nil : guest.name, [("connect_timeout", "2")]),
                                            timeout: .seconds(30))
            #expect(result.status == 1 && result.reason.contains("timed out") && result.elapsed < .seconds(4), "\(action): \(result)")
            if action == "off" {
                FaultTable.record("fence_libvirt", "libvirtd frozen (SIGSTOP)", expected: "off 1 'timed out' within connect_timeout (2 s)",
                                  observed: "off \(result.status) after \(Int(result.elapsed / .milliseconds(1))) ms: \(result.reason)",
                                  holds: result.status == 1 && result.reason.contains("timed out") && result.elapsed < .seconds(4))
            }
        }
        lab.thaw()
        #expect(lab.state(guest) == "running", "the domain was touched")
    }

    /// libvirtd freezing right after the verified off, when the agent closes its connection
    /// (a proxy in front of the real libvirtd stops answering at the close): the fence is done,
    /// so the agent reports success within connect_timeout instead of hanging into a timeout.
    @Test func aLibvirtdThatFreezesAtTheCloseDoesNotUndoTheFence() throws {
        let lab = try LibvirtLab(name: "close")
        let guest = try lab.addGuest("n1")
        #expect(lab.waitForBoots(guest, 1))
        let socket = lab.directory + "/freezer.sock"
        let freezer = try Command(AgentRunner.path(of: "tandem-testtool"), ["libvirt-close-freezer", socket, LibvirtLab.socket]).start()
        defer {
            kill(freezer.pid, SIGKILL)
            _ = freezer.wait(deadline: .now + .seconds(5))
        }
        #expect(waitUntil(deadline: .now + .seconds(10)) { access(socket, F_OK) == 0 })
        let uri = "qemu+unix:///system?socket=" + socket
        let began = ContinuousClock.now
        let off = try Self.agent.run(Self.options("off", guest.name, uri: uri, [("connect_timeout", "3")]), timeout: .seconds(60))
        let took = began.duration(to: .now)
        print("fence_libvirt off with libvirtd frozen at the close: exit \(off.status) after \(took)")
        #expect(off.status == 0 && off.output == "Success: Powered OFF\n", "\(off)")
        #expect(off.errorOutput.contains("closing the connection") && off.errorOutput.contains("the action was done already"), "\(off)")
        #expect(took < .seconds(15))
        #expect(lab.state(guest) == "shut off")
        FaultTable.record("fence_libvirt", "libvirtd frozen at the close, after a verified off",
                          expected: "off 0 'Powered OFF' within connect_timeout (3 s) of the close, a warning",
                          observed: "off \(off.status) '\(off.output.split(separator: "\n").first ?? "")' after \(Int(took / .milliseconds(1))) ms",
                          holds: off.status == 0 && off.output == "Success: Powered OFF\n" && took < .seconds(15))
    }

    /// libvirtd killed: every action fails at once with the reason (nothing listens), and
    /// nothing is assumed off.
    @Test func aKilledLibvirtdFailsAtOnce() throws {
        let lab = try LibvirtLab(name: "killed")
        let guest = try lab.addGuest("n1")
        let daemon = try #require(lab.libvirtd)
        kill(daemon.pid, SIGKILL)
        #expect(waitUntil(deadline: .now + .seconds(10)) { daemon.isDone })
        let off = try Self.agent.run(Self.options("off", guest.name, [("connect_timeout", "5")]), timeout: .seconds(30))
        let status = try Self.agent.run(Self.options("status", guest.name, [("connect_timeout", "5")]), timeout: .seconds(30))
        let holds = off.status == 1 && off.reason.contains("cannot connect") && off.elapsed < .seconds(3) && status.status == 1
        FaultTable.record("fence_libvirt", "libvirtd killed", expected: "off and status 1 at once: cannot connect (never 'off')",
                          observed: "off \(off.status) after \(Int(off.elapsed / .milliseconds(1))) ms: \(off.reason); status \(status.status)",
                          holds: holds)
        #expect(holds, "\(off)\n\(status)")
    }

    /// The ssh options directory (/run/tandem/fence_libvirt) full or read-only: a +ssh action
    /// fails with the reason before it connects; a local URI does not need it.
    @Test(arguments: ["full", "read-only"]) func aBrokenRunDirectoryFailsSSHActionsClearly(_ fault: String) throws {
        let lab = try LibvirtLab(name: "rundir")
        let guest = try lab.addGuest("n1")
        let sshd = try SSHServer(directory: lab.directory + "/sshd")
        mkdir("/run/tandem", 0o700)
        let directory = try FaultyDirectory("/run/tandem/fence_libvirt")
        if fault == "full" { try directory.fill() } else { try directory.makeReadOnly() }
        let uri = "qemu+ssh://root@127.0.0.1:\(sshd.port)/system?keyfile=\(sshd.clientKey)"
        let over = try Self.agent.run(Self.options("status", guest.name, uri: uri, [("known_hosts", sshd.knownHosts)]))
        let local = try Self.agent.run(Self.options("status", guest.name))
        try? directory.repair()
        let holds = over.status == 1 && over.reason.contains(fault == "full" ? "No space left" : "Read-only") && local.status == 0
        FaultTable.record("fence_libvirt", "its run directory \(fault) (+ssh)",
                          expected: "status over ssh 1 naming the error; over the local socket 0",
                          observed: "ssh: status \(over.status): \(over.reason); local: status \(local.status)", holds: holds)
        #expect(holds, "\(over)\n\(local)")
    }

    /// A low descriptor limit (32: libvirt's client opens a socket, an event pipe and a few
    /// more): status and off as usual.
    @Test func aLowDescriptorLimit() throws {
        let lab = try LibvirtLab(name: "fds")
        let guest = try lab.addGuest("n1")
        func limited(_ action: String) throws -> Command.Result {
            let options = Self.options(action, guest.name).map { "\($0.0)=\($0.1)\n" }.joined()
            return try Command("/usr/bin/prlimit", ["--nofile=32:32", "--", AgentRunner.path(of: "fence_libvirt")],
                               input: Array(options.utf8)).run(deadline: .now + .seconds(30))
        }
        let status = try limited("status")
        let off = try limited("off")
        let holds = status.status == 0 && status.output == "Status: ON\n" && off.status == 0 && lab.state(guest) == "shut off"
        FaultTable.record("fence_libvirt", "descriptor limit 32", expected: "status 0 'ON', off 0 (verified)",
                          observed: "status \(status.status) '\(status.output.split(separator: "\n").first ?? "")', off \(off.status)\(off.errorOutput.isEmpty ? "" : " (\(off.errorOutput.split(separator: "\n").last ?? ""))")",
                          holds: holds)
        #expect(holds, "\(status.errorOutput)\(off.errorOutput)")
    }

    @Test func badInputIsRefusedAndTouchesNothing() throws {
        let lab = try LibvirtLab(name: "input")
        let guest = try lab.addGuest("n1")
        let id = lab.domainID(guest)
        let cases: [(String, [(String, String)], String)] = [
            ("unknown action", [("action", "frobnicate"), ("port", guest.name)], "unrecognised action 'frobnicate'"),
            ("no plug", [("action", "off"), ("uri", LibvirtLab.uri)], "plug is required for off"),
            ("malformed URI", Self.options("off", guest.name, uri: "qemu:/system"), "is not a libvirt URI"),
            ("unknown transport", Self.options("off", guest.name, uri: "qemu+rsh://host/system"), "unknown transport 'rsh'"),
            ("ssh without host", Self.options("off", guest.name, uri: "qemu+ssh:///system"), "needs a host"),
            ("shell in the URI", Self.options("off", guest.name, uri: "qemu+ssh://h/system?command=/bin/sh;reboot"), "contains ';'"),
            ("backquote in the URI", Self.options("off", guest.name, uri: "qemu:///system`reboot`"), "contains '`'"),
            ("shell in the plug", Self.options("off", "\(guest.name);reboot"), "is not a domain name or UUID"),
            ("dollar in the plug", Self.options("off", "$(reboot)"), "is not a domain name or UUID"),
            ("bad number", Self.options("off", guest.name, [("power_timeout", "soon")]), "power_timeout: 'soon' is not an integer"),
            ("bad method", Self.options("reboot", guest.name, [("reboot_method", "cycle")]), "reboot_method: 'cycle' is not one of onoff, reset"),
            ("missing key file", Self.options("off", guest.name, uri: "qemu+ssh://h/system?keyfile=/nonexistent/key"), "keyfile /nonexistent/key cannot be read"),
            ("known_hosts for a local URI", Self.options("off", guest.name, [("known_hosts", "/etc/hosts")]), "applies to ssh URIs only"),
        ]
        for (what, options, message) in cases {
            let result = try Self.agent.run(options)
            #expect(result.status == 1, "\(what): \(result)")
            #expect(result.reason.hasPrefix("ERROR: ") && result.reason.contains(message), "\(what): \(result)")
        }
        let typo = try Self.agent.run(arguments: ["-o", "off", "-n", guest.name, "--power-timout=5"])
        #expect(typo.status == 1 && typo.reason.contains("unknown option --power-timout"), "\(typo)")
        #expect(lab.domainID(guest) == id && lab.state(guest) == "running", "a refused request touched the domain")

        // Unknown keys on stdin (a leftover parameter) are warnings, never fatal.
        let leftover = try Self.agent.run(Self.options("status", guest.name, [("ipaddr", "10.0.0.1")]))
        #expect(leftover.status == 0 && leftover.errorOutput.contains("ipaddr is not a parameter"), "\(leftover)")
        // validate-all as stonith_admin -K runs it: the dummy target node1, nothing contacted.
        let validate = try Self.agent.run([("action", "validate-all"), ("nodename", "node1"), ("port", "node1"), ("uri", "qemu+ssh://kvm1/system")])
        #expect(validate.status == 0, "\(validate)")
    }

    @Test func metadataIsValidForFenceAgentsAndPacemaker() throws {
        let metadata = try Self.agent.run(arguments: ["-o", "metadata"])
        #expect(metadata.status == 0)
        let file = labLogsDirectory + "/fence_libvirt-metadata.xml"
        try writeFile(file, metadata.output)
        let schema = try Command("/usr/bin/xmllint", ["--noout", "--relaxng", "/usr/share/cluster/relaxng/metadata.rng", file])
            .run(deadline: .now + .seconds(30))
        #expect(schema.status == 0, "\(schema.errorOutput)")
        let link = try FencerLink()
        defer { link.remove() }
        let shown = try Command("/usr/sbin/stonith_admin", ["--metadata", "--agent", "fence_libvirt"]).run(deadline: .now + .seconds(30))
        #expect(shown.status == 0 && shown.output.contains("name=\"uri\"") && shown.output.contains("name=\"reboot_method\""), "\(shown.errorOutput)")
    }

    @Test func standAloneFencerDrivesTheAgent() throws {
        let lab = try LibvirtLab(name: "fencer")
        let node1 = try lab.addGuest("node1")
        let node2 = try lab.addGuest("node2")
        let link = try FencerLink()
        defer { link.remove() }
        let fencer = try StandAloneFencer(directory: lab.directory + "/fencer")
        defer { fencer.stop() }
        let device = "libvirt-\(lab.prefix)"
        let register = try fencer.admin(["--register", device, "--agent", "fence_libvirt", "--option", "uri=\(LibvirtLab.uri)",
                                          "--option", "pcmk_host_map=node1:\(node1.name);node2:\(node2.name)"])
        #expect(register.status == 0, "\(register.errorOutput)")
        let query = try fencer.admin(["--query", device])
        #expect(query.status == 0, "monitor: \(query.errorOutput)")
        let list = try fencer.admin(["--list", "node2"])
        #expect(list.status == 0 && list.output.contains(device), "\(list.output)\(list.errorOutput)")
        let targets = try fencer.admin(["--list-targets", device])
        #expect(targets.output.contains(node1.name) && targets.output.contains(node2.name), "\(targets.output)")

        let off = try fencer.admin(["--fence", "node2", "--timeout", "60"])
        #expect(off.status == 0, "\(off.output)\(off.errorOutput)")
        #expect(lab.state(node2) == "shut off" && lab.state(node1) == "running")
        let on = try fencer.admin(["--unfence", "node2", "--timeout", "60"])
        #expect(on.status == 0 && lab.state(node2) == "running", "\(on.output)\(on.errorOutput)")
        let id = lab.domainID(node1)
        let reboot = try fencer.admin(["--reboot", "node1", "--timeout", "60"])
        #expect(reboot.status == 0 && lab.state(node1) == "running" && lab.domainID(node1) != id, "\(reboot.output)\(reboot.errorOutput)")
        let history = try fencer.admin(["--history", "*", "--verbose"])
        #expect(history.status == 0, "\(history.errorOutput)")
        #expect(try fencer.admin(["--deregister", device]).status == 0)
    }

    /// Seed 001 end to end: a two-node cluster whose nodes are libvirt LXC domains (destroying
    /// one through libvirt is its power loss), `crm-examples/apache-stonith.crm` as it is but for
    /// the lab's URI, names, address and disk (an ext4 image on a loop device stands in for the
    /// SAN's XFS disk), fence_libvirt reaching the hypervisor's libvirtd over `lxc+ssh` to an sshd
    /// on the cluster network. The node holding the group stops answering (its link cut): while
    /// the hypervisor's sshd hangs, fencing fails and the group does not move; once it answers,
    /// the node's domain is destroyed (and started again) before the group starts on the other.
    @Test func seed001ANodeThatStopsAnsweringIsFencedThroughItsHypervisorFirst() throws {
        let libvirt = try LibvirtLab(name: "seed001")
        let disk = try LoopDisk(image: libvirt.directory + "/san.img")
        let lab = try PacemakerLab(nodes: 2, name: "seed001", libvirtPower: libvirt.prefix, blockDevices: [disk.device ?? ""])
        defer { lab.down() }
        let domain = { (node: String) in "\(libvirt.prefix)-\(node)" }
        for node in ["node1", "node2"] { #expect(libvirt.containerState(domain(node)) == "running", "\(node) is not a running domain") }
        let sshd = try SSHServer(directory: libvirt.directory + "/sshd", namespace: try lab.namespace("sw"), address: "198.18.0.254")
        let documentRoot = "/tmp/tandem-seed001-www-\(getpid())"
        mkdir(documentRoot, 0o755)
        defer { rmdir(documentRoot) }

        var configuration = try #require(readFile(repositoryRoot + "/crm-examples/apache-stonith.crm"))
        for (from, to) in [
            ("qemu+ssh://root@kvm-host/system?keyfile=/etc/cluster/fence_key",
             "lxc+ssh://root@198.18.0.254:\(sshd.port)/system?keyfile=\(sshd.clientKey)"),
            ("/etc/cluster/fence_known_hosts", sshd.knownHosts),
            ("node1:node1-vm;node2:node2-vm", "node1:\(domain("node1"));node2:\(domain("node2"))"),
            ("ip=192.168.1.100", "ip=198.18.0.80"),
            ("device=/dev/disk/by-label/apache-docs directory=/srv/www fstype=xfs",
             "device=\(disk.device ?? "") directory=\(documentRoot) fstype=ext4"),
        ] {
            #expect(configuration.contains(from), "the example no longer has \(from)")
            configuration = configuration.replacing(from, with: to)
        }
        try lab.configure(configuration)
        func location(_ resource: String, from node: String) -> String? {
            guard let result = try? lab.exec(node, ["crm_resource", "--locate", "--resource", resource]), result.status == 0,
                  let line = result.output.split(separator: "\n").first(where: { $0.contains("is running on:") }) else { return nil }
            return line.split(separator: " ").last.map(String.init)
        }
        var holder: String?
        #expect(waitUntil(deadline: .now + .seconds(120 * PacemakerLab.slowness)) {
            holder = location("apache-service", from: "node1")
            return holder != nil && location("apache-ip", from: "node1") == holder && location("apache-fs", from: "node1") == holder
        }, "the group did not start: \(lab.status())")
        let crashed = try #require(holder)
        let survivor = crashed == "node1" ? "node2" : "node1"
        let crashedID = try #require(libvirt.containerID(domain(crashed)))
        // The device answers: its monitor went through fence_libvirt.
        #expect(try lab.waitUntil(node: survivor, ["stonith_admin", "--query", "kvm-stonith"], succeeds: true, timeout: .seconds(60)))

        // The hypervisor's sshd hangs: a fence cannot be carried out, and nothing moves.
        sshd.freeze()
        try lab.isolate(crashed)
        let frozenUntil = ContinuousClock.now + .seconds(40 * PacemakerLab.slowness)
        var movedWhileUnfenced = false
        while ContinuousClock.now < frozenUntil {
            if location("apache-ip", from: survivor) == survivor || location("apache-service", from: survivor) == survivor { movedWhileUnfenced = true }
            sleep(for: .milliseconds(500))
        }
        #expect(!movedWhileUnfenced, "the group started on \(survivor) while \(crashed) was not fenced")
        #expect(libvirt.containerID(domain(crashed)) == crashedID, "\(crashed) was powered off although the hypervisor did not answer")
        let failed = try lab.exec(survivor, ["stonith_admin", "--history", crashed, "--verbose"])
        #expect(failed.output.contains("failed") || failed.output.contains("pending"), "no failed fencing of \(crashed): \(failed.output)")
        let untouched = libvirt.containerID(domain(crashed)) == crashedID
        FaultTable.record("fence_libvirt", "the ssh to the hypervisor frozen (its sshd SIGSTOPped), under Pacemaker",
                          expected: "fencing fails (timed out), nothing powered off, the group does not move; once sshd answers the node is fenced, then the group moves",
                          observed: "fencing \(failed.output.contains("failed") ? "failed" : "pending"), domain \(untouched ? "untouched" : "POWERED OFF"), group \(movedWhileUnfenced ? "MOVED" : "stayed")",
                          holds: !movedWhileUnfenced && untouched)

        // The hypervisor answers again: the next attempt powers the node's domain off (and on:
        // the default action is reboot) before the group starts on the survivor.
        sshd.thaw()
        let thawed = ContinuousClock.now
        var poweredOffAt: ContinuousClock.Instant?
        var startedAt: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(120 * PacemakerLab.slowness)
        while ContinuousClock.now < deadline && startedAt == nil {
            if poweredOffAt == nil && libvirt.containerID(domain(crashed)) != crashedID { poweredOffAt = .now }
            if location("apache-service", from: survivor) == survivor { startedAt = .now }
            sleep(for: .milliseconds(100))
        }
        let off = try #require(poweredOffAt, "\(crashed)'s domain was never powered off: \(lab.status())")
        let started = try #require(startedAt, "the group never started on \(survivor): \(lab.status())")
        #expect(off <= started, "the group started on \(survivor) before \(crashed)'s domain was powered off")
        #expect(location("apache-ip", from: survivor) == survivor && location("apache-fs", from: survivor) == survivor)
        let history = try lab.exec(survivor, ["stonith_admin", "--history", crashed, "--verbose"])
        #expect(history.output.contains("reboot of \(crashed)") && history.output.contains("successful"), "\(history.output)")
        try writeFile(libvirt.directory + "/report.md", """
            \(crashed) isolated; the hypervisor's sshd hung for \(40 * PacemakerLab.slowness) s: group moved meanwhile: \(movedWhileUnfenced)
            sshd answering again → \(crashed)'s domain powered off after \(thawed.duration(to: off))
            → group started on \(survivor) \(off.duration(to: started)) later

            fencer history on \(survivor) while the hypervisor hung:
            \(failed.output)
            fencer history on \(survivor) at the end:
            \(history.output)
            """)
    }

    static func isSSHServer(_ pid: pid_t) -> Bool {
        (readFile("/proc/\(pid)/cmdline") ?? "").hasPrefix("/usr/sbin/sshd")
    }
}
