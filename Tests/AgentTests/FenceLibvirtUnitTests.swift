import FenceAgent
import Glibc
import OCF
import OCFTesting
import Testing
@testable import fence_libvirt

/// fence_libvirt's reading of requests and URIs, its descriptions, and its actions in-process
/// against libvirt's test driver (no daemon: state lives in one connection, so each request
/// sees the file's domains afresh).
@Suite struct FenceLibvirtUnitTests {
    @Test func readsTheFencersStandardInputLeniently() {
        let request = FenceRequest.standardInput("""
            # a comment
            nodename=node2

            power-timeout = 30
            uri="qemu+ssh://root@kvm1/system"
            action=off
            port=vm-node2
            nodeid=2
            power_timeout=40
            garbage line

            """)
        #expect(request.action == "off")
        #expect(request.target == "vm-node2")
        #expect(request.options == ["power_timeout": "40", "uri": "qemu+ssh://root@kvm1/system"])
        #expect(request.unreadable == ["garbage line"])
        // plug wins over port, and the node name is the last resort (pcmk_host_argument=none).
        #expect(FenceRequest.standardInput("port=a\nplug=b\nnodename=c\n").target == "b")
        #expect(FenceRequest.standardInput("nodename=c\naction=status\n").target == "c")
        #expect(FenceRequest.standardInput("").action == "reboot")
    }

    @Test func readsCommandLines() {
        let booleans: Set = ["missing_as_off"]
        let values: Set = ["uri", "power_timeout"]
        let request = FenceRequest.commandLine(["-o", "status", "-nvm1", "--uri=qemu:///system", "--power-timeout", "5", "--missing-as-off"],
                                               booleans: booleans, values: values)
        #expect(request.action == "status" && request.target == "vm1")
        #expect(request.options == ["uri": "qemu:///system", "power_timeout": "5", "missing_as_off": "1"])
        #expect(request.unreadable.isEmpty)
        let typo = FenceRequest.commandLine(["--power-timout=5", "extra", "-o"], booleans: booleans, values: values)
        #expect(typo.unreadable == ["--power-timout=5", "extra", "-o needs a value"])
        #expect(FenceRequest.commandLine(["--help"], booleans: [], values: []).wantsHelp)
    }

    @Test(arguments: [
        "qemu:///system", "qemu+ssh://root@kvm1/system?keyfile=/etc/cluster/key&no_verify=1", "qemu+libssh2://kvm1:2222/system",
        "test:///default", "qemu+ssh://root@[fd00::1]:22/system", "xen+ssh://admin@dom0/", "qemu+tls://kvm1.example.com/system",
    ])
    func acceptsLibvirtURIs(_ text: String) throws {
        let uri = try HypervisorURI(text)
        #expect(uri.text == text)
    }

    @Test(arguments: [
        ("qemu:/system", "is not a libvirt URI"), ("://x", "no valid driver"), ("qemu+rsh://h/system", "unknown transport"),
        ("qemu+ssh:///system", "needs a host"), ("qemu:///system;reboot", "contains ';'"), ("qemu:///sys tem", "contains a space"),
        ("qemu:///system\nx", "contains a control character"), ("qemu+ssh://h/system?keyfile=%0a", "malformed query parameter"),
        ("qemu+ssh://h/system?=x", "malformed query parameter"), ("qemu+ssh://$(id)/system", "contains '$'"),
    ])
    func refusesMalformedURIs(_ text: String, _ reason: String) {
        #expect(throws: ValueError.self) { try HypervisorURI(text) }
        do {
            _ = try HypervisorURI(text)
        } catch {
            #expect(error.reason.contains(reason), "\(text): \(error.reason)")
        }
    }

    @Test func namesItselfAsSSHProgramWithStrictOptions() throws {
        var environment = ["OCF_RESKEY_uri": "qemu+ssh://root@kvm1/system?keyfile=/k", "OCF_RESKEY_known_hosts": "/etc/cluster/known_hosts",
                           "OCF_RESKEY_connect_timeout": "3"]
        let parameters = try FenceParameters.load(from: Environment(environment))
        let session = SSHSession(parameters: parameters, uri: parameters.uri.all[0])
        #expect(session.connectionURI.hasPrefix("qemu+ssh://root@kvm1/system?keyfile=/k&command=/"))
        #expect(session.connectionURI.hasSuffix("&no_tty=1"))
        #expect(session.sshOptions == ["-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "-o", "StrictHostKeyChecking=yes",
                                       "-o", "UserKnownHostsFile=/etc/cluster/known_hosts"])
        environment["OCF_RESKEY_uri"] = "qemu+libssh2://root@kvm1/system"
        let libsshParameters = try FenceParameters.load(from: Environment(environment))
        let libssh = SSHSession(parameters: libsshParameters, uri: libsshParameters.uri.all[0])
        #expect(libssh.connectionURI == "qemu+libssh2://root@kvm1/system?known_hosts=/etc/cluster/known_hosts")
        environment["OCF_RESKEY_uri"] = "qemu:///system"
        #expect(throws: ParameterProblems.self) { try FenceParameters.load(from: Environment(environment)) }
    }

    /// The test driver's default node: one running domain named `test`.
    func run(_ lines: String) -> FenceMain.Outcome {
        let log = Log(agent: "fence_libvirt", environment: Environment([:]), sink: .memory)
        return FenceMain.run(LibvirtFencing.self, request: .standardInput(lines), fromCommandLine: false, process: Environment([:]), log: log)
    }

    @Test func actionsAgainstTheTestDriver() {
        #expect(run("action=status\nuri=test:///default\nport=test\n") == .init(exitCode: 0, output: "Status: ON\n"))
        #expect(run("action=off\nuri=test:///default\nport=test\n") == .init(exitCode: 0, output: "Success: Powered OFF\n"))
        #expect(run("action=on\nuri=test:///default\nport=test\n") == .init(exitCode: 0, output: "Success: Already ON\n"))
        #expect(run("action=reboot\nuri=test:///default\nport=test\nreboot_method=reset\n").output == "Success: Rebooted (reset)\n")
        #expect(run("action=reboot\nuri=test:///default\nport=test\n").output == "Success: Rebooted\n")
        #expect(run("action=list\nuri=test:///default\n").output.hasPrefix("test,"))
        #expect(run("action=monitor\nuri=test:///default\n") == .init(exitCode: 0, output: ""))
        #expect(run("action=status\nuri=test:///default\nport=nosuch\n").exitCode == 1)
        #expect(run("action=status\nuri=test:///default\nport=nosuch\nmissing_as_off=yes\n") == .init(exitCode: 2, output: "Status: OFF\n"))
        #expect(run("action=status\nuri=bogus:///x\nport=test\n").exitCode == 1)
    }

    /// A test-driver hypervisor (libvirt's own, in-process: its state lives as long as the
    /// connection) with one domain `vm1` in the given state: 1 running, 5 shut off.
    static func hypervisor(_ name: String, vm1 runstate: Int?) throws -> String {
        let domain = runstate.map { state in """
            <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
              <name>vm1</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><memory>65536</memory><vcpu>1</vcpu>
              <os><type>hvm</type></os><test:runstate>\(state)</test:runstate>
            </domain>
            """ } ?? ""
        let path = "/tmp/tandem-fence-\(name)-\(getpid()).xml"
        try writeFile(path, "<node><cpu><mhz>2000</mhz><model>x86_64</model></cpu><memory>1048576</memory>\(domain)</node>\n")
        return "test://" + path
    }

    /// A domain defined on two hypervisors, off on the first and running on the second (a live
    /// migration with --persistent and without --undefinesource): asked alone, the first says
    /// OFF; asked together, status is ON, off powers it off on the second and succeeds only
    /// then, and a hypervisor that cannot be reached fails the action instead of counting as off.
    @Test func everyHypervisorMustAgreeItIsOff() throws {
        let source = try Self.hypervisor("source", vm1: 5), target = try Self.hypervisor("target", vm1: 1)
        let empty = try Self.hypervisor("empty", vm1: nil)
        #expect(run("action=status\nuri=\(source)\nport=vm1\n") == .init(exitCode: 2, output: "Status: OFF\n"), "one host alone is fooled")
        #expect(run("action=status\nuri=\(source) \(target)\nport=vm1\n") == .init(exitCode: 0, output: "Status: ON\n"))
        #expect(run("action=off\nuri=\(source) \(target)\nport=vm1\n") == .init(exitCode: 0, output: "Success: Powered OFF\n"))
        #expect(run("action=off\nuri=\(source) \(empty)\nport=vm1\n") == .init(exitCode: 0, output: "Success: Already OFF\n"),
                "missing on one of them is fine when another defines it")
        #expect(run("action=on\nuri=\(empty) \(source)\nport=vm1\n") == .init(exitCode: 0, output: "Success: Powered ON\n"))
        #expect(run("action=list-status\nuri=\(source) \(target)\n").output.contains("vm1,6695eb01-f6a4-8304-79aa-97f2502e193f,ON"))
        let unreachable = run("action=off\nuri=\(source) qemu+unix:///system?socket=/nonexistent/sock\nport=vm1\n")
        #expect(unreachable.exitCode == 1, "a hypervisor that cannot be asked may run it: \(unreachable)")
        #expect(run("action=status\nuri=\(empty)\nport=vm1\n").exitCode == 1)
        #expect(run("action=status\nuri=\(source) \(source)\nport=vm1\n").exitCode == 1, "a URI twice is refused")
    }

    @Test func metadataMatchesItsGoldenCopyAndFenceAgentsSchema() throws {
        let metadata = FenceMetadata.xml(LibvirtFencing.self)
        let golden = Snapshot(name: "fence_libvirt.xml")
        if Snapshot.recording {
            try golden.write(metadata)
        } else {
            let expected = try #require(golden.read(), "no golden copy \(golden.path): run make record-metadata")
            #expect(metadata == expected, "metadata of fence_libvirt differs from \(golden.path); if intended, run make record-metadata")
        }
        let file = "/tmp/tandem-fence-metadata-\(getpid()).xml"
        try writeFile(file, metadata)
        defer { unlink(file) }
        let schema = try Command("/usr/bin/xmllint", ["--noout", "--relaxng", "/usr/share/cluster/relaxng/metadata.rng", file])
            .run(deadline: .now + .seconds(30))
        #expect(schema.status == 0, "\(schema.errorOutput)")
        // Every parameter is there with its default; Pacemaker reads the target from `port`/`plug`.
        for declaration in FenceParameters.declarations {
            #expect(metadata.contains("name=\"\(declaration.name)\""))
            if let value = declaration.defaultValue { #expect(metadata.contains("default=\"\(value)\""), "\(declaration.name)") }
        }
        #expect(metadata.contains("<parameter name=\"plug\" unique=\"0\" required=\"0\" obsoletes=\"port\">"))
        #expect(metadata.contains("<action name=\"reboot\"/>") && metadata.contains("<action name=\"list\"/>"))
        let manual = FenceMetadata.manPage(LibvirtFencing.self)
        for declaration in FenceParameters.declarations { #expect(manual.contains(declaration.name.replacing("_", with: "\\-"))) }
    }
}
