// tandem-testtool: small fixtures for tests, so no test needs a shell.
//
//   tandem-testtool attribute-update NAME VALUE   node attributes against a real attrd (run
//   tandem-testtool attribute-delete NAME         inside a lab node, where attrd answers)
//   tandem-testtool exit CODE                     exit with CODE
//   tandem-testtool leave-child                   print "done" and exit, leaving a child that
//                                                 holds stdout open for 20 s
//   tandem-testtool close-and-hang                close stdout and stderr, then sleep 30 s
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
import Addresses
import CNetlink
import Glibc
import HealthCheck
import NIOPosix
import Probes
import LVS
import Netlink
import OCF
import OCFTesting

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
            throw LabError("unshare/mount: \(String(cString: strerror(errno)))")
        }
        // A null device (1:3) nobody but root may open: libvirt finds it unusable for qemu's
        // user, and qemu's probe (as root) gets no KVM from it. Plain /dev/null would look usable
        // (probed again at every lookup); a regular file cannot be moved into qemu's /dev.
        let noDevice = "/run/tandem-test-no-kvm"
        unlink(noDevice)
        guard mknod(noDevice, S_IFCHR, dev_t((1 << 8) | 3)) == 0, chmod(noDevice, 0) == 0 else {
            throw LabError("mknod \(noDevice): \(String(cString: strerror(errno)))")
        }
        if access("/dev/kvm", F_OK) == 0, mount(noDevice, "/dev/kvm", nil, UInt(MS_BIND), nil) != 0 {
            throw LabError("hiding /dev/kvm: \(String(cString: strerror(errno)))")
        }
        // libvirt's LXC driver cannot set up a container's cgroups on this host's hybrid layout
        // ("Unable to create directory /sys/fs/cgroup/unified"); with the v1 controllers alone it can.
        if access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0, umount2("/sys/fs/cgroup/unified", Int32(MNT_DETACH)) != 0 {
            throw LabError("unmounting /sys/fs/cgroup/unified: \(String(cString: strerror(errno)))")
        }
        var argv = arguments.dropFirst().map { strdup($0) } + [nil]
        execv(arguments[1], &argv)
        throw LabError("cannot run \(arguments[1]): \(String(cString: strerror(errno)))")
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
