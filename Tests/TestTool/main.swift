// tandem-testtool: small fixtures for tests, so no test needs a shell.
//
//   tandem-testtool attribute-update NAME VALUE   node attributes against a real attrd (run
//   tandem-testtool attribute-delete NAME         inside a lab node, where attrd answers)
//   tandem-testtool exit CODE                     exit with CODE
//   tandem-testtool leave-child                   print "done" and exit, leaving a child that
//                                                 holds stdout open for 20 s
//   tandem-testtool close-and-hang                close stdout and stderr, then sleep 30 s
//   tandem-testtool ignore-term-and-hang          ignore SIGTERM, sleep 60 s (only SIGKILL ends it)
//   tandem-testtool hang-until-term               sleep 60 s; SIGTERM's handler exits 0 (a daemon
//                                                 that ends cleanly when asked)
//   tandem-testtool health-writer SERVICE RS DIR N
//                                                 the health checker's side of the override
//                                                 contract, N times: under the lock, weight
//                                                 N % 7 into the file, then into the kernel;
//                                                 prints the last weight
//   tandem-testtool probe-http COUNT ADDRESS...  HTTP checks of every ADDRESS:80 at once, COUNT
//                                                 rounds a second apart; prints passes and failures
//                                                 (PROBE_PATH: the path, / by default; PROBE_BODY:
//                                                 a body substring to expect)
//   attrd_updater …, crm_attribute --promotion …  (run through a link of that name, see
//                                                 RecordedAttributes) node attributes and the
//                                                 promotion score into TANDEM_RECORDED_ATTRIBUTES,
//                                                 for agents tested outside a cluster
//   tandem-testtool libvirtd-view PROGRAM ARG... PROGRAM in a mount namespace of its own where
//                                                 /dev/kvm cannot be used and the hybrid cgroup
//                                                 hierarchy has no cgroup2 part (libvirtd on this
//                                                 host: see LibvirtLab)
//   tandem-testtool external-check SUFFIX         a healthcheck external program: passes when
//                                                 TANDEM_RS_ADDRESS ends with SUFFIX (and
//                                                 TANDEM_RS_PORT and TANDEM_SERVICE are set)
//   tandem-testtool libvirt-close-freezer LISTEN TARGET
//                                                 a unix socket at LISTEN that forwards each
//                                                 connection to libvirtd's socket TARGET until the
//                                                 client asks to close its connection
//                                                 (REMOTE_PROC_CONNECT_CLOSE), then answers nothing
//                                                 more: libvirtd frozen at that moment
//   tandem-testtool external-hang PREFIX          a healthcheck external program: passes when
//                                                 TANDEM_RS_ADDRESS starts with PREFIX, else hangs
//                                                 for 60 s, ignoring SIGTERM
import Addresses
import CNetlink
import Glibc
import HealthCheck
import Labs
import NIOPosix
import Probes
import LVS
import Netlink
import OCF
import OCFTesting
import POSIX

let arguments = Array(CommandLine.arguments.dropFirst())
if let program = CommandLine.arguments.first?.split(separator: "/").last, program == "attrd_updater" || program == "crm_attribute" {
    do {
        exit(try RecordedAttributes.record(program: String(program), arguments))
    } catch {
        Log.writeStandardError("\(program): \(error)\n")
        exit(1)
    }
}
let attributes = NodeAttributes(deadline: .now + .seconds(20))
do {
    switch (arguments.first, arguments.count) {
    case ("attribute-update", 3): try attributes.update(arguments[1], to: arguments[2])
    case ("attribute-delete", 2): try attributes.delete(arguments[1])
    case ("exit", 2): exit(Int32(arguments[1]) ?? 255)
    case ("health-writer", 5):
        let service = try ServiceSpec(parsing: arguments[1])
        let destination = try RealServers.parse(arguments[2], for: service)[0]
        let store = HealthOverrides.Store(service: service, namespace: nil, directory: arguments[3])
        var weight: Int32 = 0
        for round in 1...(Int(arguments[4]) ?? 1) {
            weight = Int32(round % 7)
            try store.withLock(deadline: .now + .seconds(20)) {
                try store.save(HealthOverrides([destination.key: .weight(weight)]))
                var changed = destination
                changed.weight = weight
                if let failure = try IPVSSocket().apply([.updateDestination(service.identity, changed)]).first ?? nil { throw failure }
            }
        }
        print(weight)
    case ("libvirtd-view", let count) where count >= 2:
        let newMountNamespace: Int32 = 0x0002_0000  // CLONE_NEWNS
        guard unshare(newMountNamespace) == 0, mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil) == 0 else {
            throw LabError("unshare/mount: \(Errno.current)")
        }
        // A null device (1:3) nobody but root may open: libvirt finds it unusable for qemu's
        // user, and qemu's probe (as root) gets no KVM from it. Plain /dev/null would look usable
        // (probed again at every lookup); a regular file cannot be moved into qemu's /dev.
        let noDevice = "/run/tandem-test-no-kvm"
        unlink(noDevice)
        guard mknod(noDevice, S_IFCHR, dev_t((1 << 8) | 3)) == 0, chmod(noDevice, 0) == 0 else {
            throw LabError("mknod \(noDevice): \(Errno.current)")
        }
        if access("/dev/kvm", F_OK) == 0, mount(noDevice, "/dev/kvm", nil, UInt(MS_BIND), nil) != 0 {
            throw LabError("hiding /dev/kvm: \(Errno.current)")
        }
        // libvirt's LXC driver cannot set up a container's cgroups on this host's hybrid layout
        // ("Unable to create directory /sys/fs/cgroup/unified"); with the v1 controllers alone it can.
        if access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0, umount2("/sys/fs/cgroup/unified", Int32(MNT_DETACH)) != 0 {
            throw LabError("unmounting /sys/fs/cgroup/unified: \(Errno.current)")
        }
        var argv = arguments.dropFirst().map { strdup($0) } + [nil]
        execv(arguments[1], &argv)
        throw LabError("cannot run \(arguments[1]): \(Errno.current)")
    case ("external-check", 2):
        let address = getenv("TANDEM_RS_ADDRESS").map { String(cString: $0) } ?? ""
        guard getenv("TANDEM_RS_PORT") != nil, getenv("TANDEM_SERVICE") != nil else {
            Log.writeStandardError("TANDEM_RS_PORT or TANDEM_SERVICE missing\n")
            exit(3)
        }
        guard address.hasSuffix(arguments[1]) else {
            Log.writeStandardError("\(address) is not the one\n")
            exit(1)
        }
    case ("libvirt-close-freezer", 3):
        try CloseFreezer(listen: arguments[1], target: arguments[2]).serve()
    case ("external-hang", 2):
        let address = getenv("TANDEM_RS_ADDRESS").map { String(cString: $0) } ?? ""
        guard !address.hasPrefix(arguments[1]) else { exit(0) }
        signal(SIGTERM, SIG_IGN)
        sleep(for: .seconds(60))
    case ("probe-http", let count) where count >= 3:
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let body = getenv("PROBE_BODY").map { String(cString: $0) }
        let check = HTTPCheck.plain(path: getenv("PROBE_PATH").map { String(cString: $0) } ?? "/", body: body)
        let prober = try Prober(loop: group.next(), spec: .http(check), timeout: .seconds(1))
        let targets = arguments.dropFirst(2).compactMap { IPAddress($0).map { Target(address: $0, port: 80) } }
        for _ in 0..<(Int(arguments[1]) ?? 1) {
            let results = NIOLockedBox()
            for target in targets { prober.check(target, service: "") { outcome, _ in results.add(outcome) } }
            sleep(for: .milliseconds(1500))
            print(results.summary)
        }
    case ("close-and-hang", 1):
        close(STDOUT_FILENO)
        close(STDERR_FILENO)
        sleep(for: .seconds(30))
    case ("ignore-term-and-hang", 1):
        signal(SIGTERM, SIG_IGN)
        sleep(for: .seconds(60))
    case ("hang-until-term", 1):
        signal(SIGTERM) { _ in _exit(0) }
        sleep(for: .seconds(60))
    case ("leave-child", 1):
        if fork() == 0 {
            sleep(for: .seconds(20))
            _exit(0)
        }
        print("done")
    default:
        print("usage: tandem-testtool attribute-update NAME VALUE | attribute-delete NAME | exit CODE | leave-child | close-and-hang")
        exit(2)
    }
} catch {
    print("tandem-testtool: \(error)")
    exit(1)
}

/// Outcomes gathered from the event loop.
final class NIOLockedBox: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var outcomes: [CheckOutcome] = []
    init() { pthread_mutex_init(&mutex, nil) }
    func add(_ outcome: CheckOutcome) {
        pthread_mutex_lock(&mutex)
        outcomes.append(outcome)
        pthread_mutex_unlock(&mutex)
    }
    var summary: String {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        var counts: [String: Int] = [:]
        for outcome in outcomes { counts[outcome == .pass ? "pass" : "\(outcome)", default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    }
}

/// A unix-socket forwarder to libvirtd that stops forwarding once the client sends
/// REMOTE_PROC_CONNECT_CLOSE: libvirtd frozen right after the work was done.
struct CloseFreezer {
    let listen: String
    let target: String

    func serve() throws -> Never {
        let server = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        unlink(listen)
        guard server >= 0, Self.withAddress(listen, { bind(server, $0, $1) }) == 0, Glibc.listen(server, 16) == 0 else {
            throw LabError("cannot listen on \(listen): \(Errno.current)")
        }
        while true {
            let client = accept(server, nil, nil)
            guard client >= 0 else { continue }
            let upstream = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard Self.withAddress(target, { connect(upstream, $0, $1) }) == 0 else {
                close(client)
                close(upstream)
                continue
            }
            let frozen = Flag()
            Self.pump(from: upstream, to: client, frozen: frozen, watch: false)
            Self.pump(from: client, to: upstream, frozen: frozen, watch: true)
        }
    }

    /// Copies bytes on a thread; the client's side is read message by message (4-byte length,
    /// then program, version, procedure) to spot the close.
    static func pump(from source: Int32, to destination: Int32, frozen: Flag, watch: Bool) {
        try? Threads.detach {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                guard count > 0 else { return }
                if frozen.isSet { continue }
                guard watch else {
                    _ = buffer.withUnsafeBytes { write(destination, $0.baseAddress, count) }
                    continue
                }
                pending += buffer[..<count]
                while pending.count >= 16 {
                    let length = Int(pending[0..<4].reduce(0) { $0 << 8 | UInt32($1) })
                    let program = pending[4..<8].reduce(0) { $0 << 8 | UInt32($1) }
                    let procedure = pending[12..<16].reduce(0) { $0 << 8 | UInt32($1) }
                    if program == 0x2000_8086 && procedure == 2 {
                        frozen.set()
                        pending = []
                        break
                    }
                    guard length >= 16, pending.count >= length else { break }
                    _ = pending.withUnsafeBytes { write(destination, $0.baseAddress, length) }
                    pending.removeFirst(length)
                }
            }
        }
    }

    static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        _ = withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in path.utf8.prefix(bytes.count - 1).enumerated() { bytes[index] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
