import Glibc
import OCF
import OCFTesting
import POSIX

/// A real libvirtd for tests, without systemd (recipe: shared/notes/libvirt-fencing.md §3–4):
/// virtlogd and libvirtd with their own configuration and logs, on libvirt's standard socket
/// (qemu:///system, which ssh transports reach too), and small TCG guest domains booted
/// straight into a kernel and a busybox initramfs that prints a marker on its serial console.
/// Domain names are unique per run; `stop()` (and `deinit`) destroys and undefines them and
/// stops both daemons. The logs stay in `directory`.
public final class LibvirtLab {
    public static let uri = "qemu:///system"
    public static let socket = "/run/libvirt/libvirt-sock"
    /// What a guest's /init prints on its console each time it boots.
    public static let bootMarker = "TANDEM-GUEST-BOOTED"

    public let directory: String
    /// The per-run prefix of every domain name.
    public let prefix: String
    public private(set) var libvirtd: ProcessIdentity?
    private var virtlogd: ProcessIdentity?
    /// Held from start to stop: the system has one libvirtd socket, so labs of suites running
    /// in parallel (fence_libvirt's, the fencing wizard's) take turns instead of killing each
    /// other's daemons as stale.
    private var turn: FileLock?
    public private(set) var guests: [Guest] = []

    /// A guest domain of the lab.
    public struct Guest: Sendable {
        public let name: String
        public let uuid: String
        public let console: String
        /// How many times it booted (markers on its console).
        public var boots: Int {
            (readFile(console) ?? "").split(whereSeparator: \.isNewline).filter { $0.contains(LibvirtLab.bootMarker) }.count
        }
    }

    /// Starts virtlogd and libvirtd; fails when a libvirtd already serves the socket (tests
    /// must not fence someone's real domains).
    public init(name: String) throws {
        prefix = "tdm\(getpid() % 100_000)-\(name)"
        directory = labLogsDirectory + "/libvirt/" + name
        _ = try Command("/bin/rm", ["-rf", directory]).run(deadline: .now + .seconds(10))
        _ = try Command("/bin/mkdir", ["-p", directory, "/run/libvirt"]).run(deadline: .now + .seconds(10))
        do {
            turn = try FileLock(path: LibvirtLab.turnLock, deadline: .now + .seconds(1200))
        } catch {
            throw LabError("another libvirt lab kept \(LibvirtLab.turnLock) for 20 minutes: \(error)")
        }
        if LibvirtLab.answers() {
            throw LabError("a libvirtd already answers on \(LibvirtLab.socket): the libvirt tests need their own")
        }
        LibvirtLab.killStale()
        try writeFile(directory + "/virtlogd.conf", "log_outputs=\"3:file:\(directory)/virtlogd.log\"\n")
        try writeFile(directory + "/libvirtd.conf", """
            auth_unix_rw = "none"
            auth_unix_ro = "none"
            log_filters = "1:remote 1:rpc 3:util 3:qemu.qemu_monitor 3:object"
            log_outputs = "2:file:\(directory)/libvirtd.log"

            """)
        virtlogd = Background.launch("/usr/sbin/virtlogd", ["-f", directory + "/virtlogd.conf", "-p", directory + "/virtlogd.pid"],
                                     output: directory + "/virtlogd.out")
        // This host's /dev/kvm opens but KVM does not work, and libvirt (9.0) then judges its
        // cached qemu capabilities stale on every lookup: each define re-probes qemu for 40 s.
        // Without /dev/kvm it probes once and runs TCG guests, as on a host without KVM. Its LXC
        // driver needs the cgroup v1 controllers without the hybrid layout's cgroup2 mount.
        libvirtd = Background.launch(AgentRunner.path(of: "tandem-testtool"),
                                     ["libvirtd-view", "/usr/sbin/libvirtd", "-f", directory + "/libvirtd.conf", "-p", directory + "/libvirtd.pid"],
                                     output: directory + "/libvirtd.out")
        try writeFile(LibvirtLab.stalePIDs, [virtlogd, libvirtd].compactMap { $0?.description }.joined(separator: "\n") + "\n")
        // The first start probes qemu's capabilities (about 13 s here); later ones take 0.3 s.
        guard waitUntil(deadline: .now + .seconds(120), { LibvirtLab.answers() }) else {
            stop()
            throw LabError("libvirtd did not answer within 120 s: \(readFile(directory + "/libvirtd.log")?.suffix(2000) ?? "")")
        }
    }

    deinit { stop() }

    /// Destroys and undefines the lab's domains, then stops libvirtd and virtlogd.
    public func stop() {
        thaw()
        // Every domain of this run, also one whose start failed half-way.
        let listed = (try? virsh(["list", "--all", "--name"]).output) ?? ""
        for name in listed.split(whereSeparator: \.isNewline).map(String.init) where name.hasPrefix(prefix + "-") {
            _ = try? virsh(["destroy", name])
            _ = try? virsh(["undefine", name])
        }
        guests = []
        for daemon in [libvirtd, virtlogd].compactMap({ $0 }) {
            _ = daemon.terminate(patience: .seconds(12), by: .now + .seconds(15))
            waitpid(daemon.pid, nil, WNOHANG)
        }
        libvirtd = nil
        virtlogd = nil
        unlink(LibvirtLab.stalePIDs)
        turn = nil
    }

    /// Defines a guest domain (128 MiB, 1 vCPU, no disk, no network) and starts it; a
    /// `transient` one exists only while it runs (`virsh create`).
    @discardableResult
    public func addGuest(_ suffix: String, transient: Bool = false, start: Bool = true) throws -> Guest {
        let image = try GuestImage.shared.get()
        let name = "\(prefix)-\(suffix)"
        let console = "\(directory)/\(suffix).console"
        let xml = """
            <domain type='qemu'>
              <name>\(name)</name>
              <memory unit='MiB'>128</memory>
              <vcpu>1</vcpu>
              <os>
                <type arch='x86_64' machine='pc'>hvm</type>
                <kernel>\(image.kernel)</kernel>
                <initrd>\(image.initrd)</initrd>
                <cmdline>console=ttyS0 panic=-1 quiet</cmdline>
              </os>
              <features><acpi/></features>
              <on_poweroff>destroy</on_poweroff>
              <on_reboot>restart</on_reboot>
              <on_crash>destroy</on_crash>
              <devices>
                <serial type='file'><source path='\(console)' append='on'/><target port='0'/></serial>
                <memballoon model='none'/>
              </devices>
              <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
            </domain>

            """
        let file = "\(directory)/\(suffix).xml"
        try writeFile(file, xml)
        if transient {
            try check(virsh(["create", file]), "creating \(name)")
        } else {
            try check(virsh(["define", file]), "defining \(name)")
            if start { try check(virsh(["start", name]), "starting \(name)") }
        }
        let uuid = try virsh(["domuuid", name]).output.trimmedLine
        let guest = Guest(name: name, uuid: uuid, console: console)
        guests.append(guest)
        return guest
    }

    /// Redefines the guest with a kernel that does not exist: it runs on, and its next start fails.
    public func breakNextStart(_ guest: Guest) throws {
        let suffix = String(guest.name.dropFirst(prefix.count + 1))
        guard let xml = readFile("\(directory)/\(suffix).xml"), let image = try? GuestImage.shared.get() else {
            throw LabError("no definition of \(guest.name)")
        }
        let broken = xml.replacing("<kernel>\(image.kernel)</kernel>", with: "<kernel>/nonexistent/vmlinuz</kernel>")
            .replacing("<name>\(guest.name)</name>", with: "<name>\(guest.name)</name>\n  <uuid>\(guest.uuid)</uuid>")
        let file = "\(directory)/\(suffix)-broken.xml"
        try writeFile(file, broken)
        try check(virsh(["define", file]), "redefining \(guest.name)")
    }

    /// `virsh -c qemu:///system ARGS`.
    public func virsh(_ arguments: [String], timeout: Duration = .seconds(60)) throws -> Command.Result {
        try Command("/usr/bin/virsh", ["-c", LibvirtLab.uri] + arguments).run(deadline: .now + timeout)
    }

    /// The domain's state as libvirt reports it (`running`, `shut off`, …); `nil` when it has none.
    public func state(_ guest: Guest) -> String? {
        guard let result = try? virsh(["domstate", guest.name]), result.status == 0 else { return nil }
        return result.output.trimmedLine
    }

    /// The running domain's id (a new one per start); `nil` when it is off.
    public func domainID(_ guest: Guest) -> Int? {
        guard let result = try? virsh(["domid", guest.name]), result.status == 0 else { return nil }
        return Int(result.output.trimmedLine)
    }

    /// The state of an LXC domain (lxc:///system, e.g. a lab node with libvirt power); `nil`
    /// when there is none.
    public func containerState(_ name: String) -> String? {
        guard let result = try? Command("/usr/bin/virsh", ["-c", "lxc:///system", "domstate", name]).run(deadline: .now + .seconds(30)),
              result.status == 0 else { return nil }
        return result.output.trimmedLine
    }

    /// The id of a running LXC domain (a new one each time it starts); `nil` when it is off.
    public func containerID(_ name: String) -> Int? {
        guard let result = try? Command("/usr/bin/virsh", ["-c", "lxc:///system", "domid", name]).run(deadline: .now + .seconds(30)),
              result.status == 0 else { return nil }
        return Int(result.output.trimmedLine)
    }

    /// Waits until the guest's console shows `count` boots.
    public func waitForBoots(_ guest: Guest, _ count: Int, within timeout: Duration = .seconds(90)) -> Bool {
        waitUntil(deadline: .now + timeout) { guest.boots >= count }
    }

    /// SIGSTOPs libvirtd: its socket still accepts, nothing answers.
    public func freeze() { if let libvirtd { kill(libvirtd.pid, SIGSTOP) } }
    public func thaw() { if let libvirtd { kill(libvirtd.pid, SIGCONT) } }

    private func check(_ result: Command.Result, _ what: String) throws {
        guard result.status == 0 else { throw LabError("\(what): \(result.errorOutput)") }
    }

    /// Whether a libvirtd answers on the standard socket.
    static func answers() -> Bool {
        guard access(socket, F_OK) == 0,
              let result = try? Command("/usr/bin/virsh", ["-c", uri, "version"]).run(deadline: .now + .seconds(5)) else { return false }
        return result.status == 0
    }

    static let turnLock = "/run/tandem-test-libvirt.lock"

    /// Daemons a killed test run left behind (their identities, so a reused PID is never hit).
    static let stalePIDs = "/run/tandem-test-libvirt.pids"

    static func killStale() {
        for line in (readFile(stalePIDs) ?? "").split(separator: "\n") {
            if let identity = ProcessIdentity(String(line)) {
                kill(identity.pid, SIGCONT)
                _ = identity.terminate(patience: .seconds(12), by: .now + .seconds(15))
            }
        }
        unlink(stalePIDs)
    }
}

/// The guests' kernel (Debian's cloud kernel, made for virtual machines: it boots under TCG in
/// about 3.5 s, where the generic one takes 40 s) and an initramfs made here: busybox-static
/// and an /init that mounts /proc, prints the boot marker on the console and sleeps. The kernel
/// package is fetched with `apt-get download` into .build/libvirt-guest, never installed.
public enum GuestImage {
    public static let shared: Result<(kernel: String, initrd: String), LabError> = {
        do {
            let cache = repositoryRoot + "/.build/libvirt-guest"
            let kernel = try cloudKernel(cache: cache)
            let initrd = cache + "/initrd-\(getpid()).cpio"
            guard let busybox = try? readWholeFile("/bin/busybox") else { return .failure(LabError("cannot read /bin/busybox (busybox-static)")) }
            let script = """
                #!/bin/busybox sh
                /bin/busybox mount -t proc proc /proc
                echo \(LibvirtLab.bootMarker)
                while true; do /bin/busybox sleep 3600; done

                """
            var archive = CPIOArchive()
            for directory in ["bin", "proc", "dev", "sys"] { archive.add(directory, mode: 0o040755, contents: []) }
            archive.add("dev/console", mode: 0o020600, contents: [], device: (5, 1))
            archive.add("bin/busybox", mode: 0o100755, contents: busybox)
            archive.add("bin/sh", mode: 0o120777, contents: Array("busybox".utf8))
            archive.add("init", mode: 0o100755, contents: Array(script.utf8))
            try writeBinaryFile(initrd, archive.finished())
            return .success((kernel, initrd))
        } catch {
            return .failure(LabError("building the guest image: \(error)"))
        }
    }()

    /// The cloud kernel linux-image-cloud-amd64 depends on, extracted into `cache` once.
    static func cloudKernel(cache: String) throws -> String {
        let depends = try Command("/usr/bin/apt-cache", ["depends", "linux-image-cloud-amd64"]).run(deadline: .now + .seconds(60))
        guard let package = depends.output.split(separator: "\n").compactMap({ line -> String? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 && String(parts[0]).trimmedLine == "Depends" ? String(parts[1]).trimmedLine : nil
        }).first else { throw LabError("apt-cache depends linux-image-cloud-amd64: \(depends.output)\(depends.errorOutput)") }
        let root = "\(cache)/\(package)"
        let version = String(package.dropFirst("linux-image-".count))
        let kernel = "\(root)/boot/vmlinuz-\(version)"
        if access(kernel, R_OK) == 0 { return kernel }
        _ = try Command("/bin/mkdir", ["-p", cache]).run(deadline: .now + .seconds(10))
        var download = try Command("/usr/bin/env", ["-C", cache, "apt-get", "download", package]).run(deadline: .now + .seconds(600))
        if download.status != 0 {
            _ = try Command("/usr/bin/apt-get", ["update", "-qq"]).run(deadline: .now + .seconds(600))
            download = try Command("/usr/bin/env", ["-C", cache, "apt-get", "download", package]).run(deadline: .now + .seconds(600))
        }
        guard download.status == 0, let deb = listDirectory(cache).first(where: { $0.hasPrefix(package + "_") && $0.hasSuffix(".deb") }) else {
            throw LabError("apt-get download \(package): \(download.errorOutput)")
        }
        let extract = try Command("/usr/bin/dpkg-deb", ["-x", "\(cache)/\(deb)", root]).run(deadline: .now + .seconds(300))
        guard extract.status == 0, access(kernel, R_OK) == 0 else { throw LabError("dpkg-deb -x \(deb): \(extract.errorOutput)") }
        unlink("\(cache)/\(deb)")
        return kernel
    }
}

/// A cpio archive in the "newc" format the kernel unpacks as an initramfs.
struct CPIOArchive {
    private var bytes: [UInt8] = []
    private var inode = 1

    mutating func add(_ name: String, mode: UInt32, contents: [UInt8], device: (UInt32, UInt32) = (0, 0)) {
        let fields: [UInt32] = [UInt32(inode), mode, 0, 0, 1, 0, UInt32(contents.count), 0, 0, device.0, device.1,
                                UInt32(name.utf8.count + 1), 0]
        inode += 1
        bytes += Array("070701".utf8)
        for field in fields {
            let hex = String(field, radix: 16, uppercase: true)
            bytes += Array((String(repeating: "0", count: 8 - hex.count) + hex).utf8)
        }
        bytes += Array(name.utf8) + [0]
        pad()
        bytes += contents
        pad()
    }

    private mutating func pad() { while bytes.count % 4 != 0 { bytes.append(0) } }

    mutating func finished() -> [UInt8] {
        add("TRAILER!!!", mode: 0, contents: [])
        return bytes
    }
}

