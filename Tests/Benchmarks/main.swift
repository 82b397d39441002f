import Labs
// tandem-bench: Tandem's agents side by side with what they replace, in one run, on the same
// system state. `make bench` runs it; docs/benchmarks.md shows its tables.
//
//   tandem-bench vip    vip against ocf:heartbeat:IPaddr2 in a veth namespace pair
//   tandem-bench ipvs   ipvs against ipvsadm (needs a kernel with IPVS: make bench runs it in
//                       the qemu guest)
//   tandem-bench healthcheck
//                       healthcheck against keepalived and ldirectord, 1000 real servers over
//                       HTTP (a kernel with IPVS, as for ipvs; BENCH_WINDOW sets the seconds)
//   tandem-bench mysql  mysql-mm against ocf:heartbeat:mysql on a real MariaDB pair: monitor CPU
//                       and wall, promote when caught up
//   tandem-bench mysql-failover
//                       seed 004 under Pacemaker: the writer's mysqld killed, time until the rw
//                       VIP writes on the other master (a kernel with IPVS)
//   tandem-bench fence  fence_libvirt against fence_virsh on a real libvirtd's TCG guest, through
//                       the same sshd: status, off, on, reboot
//   tandem-bench failover
//                       seed 002's director pair under Pacemaker: failover outage, connections
//                       kept and monitoring CPU against IPaddr2 + ldirectord (a kernel with IPVS)
//
// BENCH_RUNS sets how many runs each median is taken over.
import Glibc
import OCFTesting

guard geteuid() == 0 else {
    print("tandem-bench needs root (network namespaces)")
    exit(2)
}
let arguments = CommandLine.arguments.dropFirst()
do {
    switch arguments.first {
    case "vip", nil:
        let runs = Int(getenv("BENCH_RUNS").map { String(cString: $0) } ?? "") ?? 25
        let lab = try VethLab(localAddresses: ["198.18.0.1/24"], peerAddresses: ["198.18.0.2/24"])
        exit(VIPBench(lab: lab, runs: runs).run())
    case "mysql":
        let runs = Int(getenv("BENCH_RUNS").map { String(cString: $0) } ?? "") ?? 50
        exit(try MySQLBench(runs: runs).run())
    case "fence":
        let runs = Int(getenv("BENCH_RUNS").map { String(cString: $0) } ?? "") ?? 5
        exit(try FenceBench(runs: runs).run())
    case "mysql-failover":
        exit(try MySQLFailoverBench().run())
    case "failover":
        exit(try FailoverBench().run())
    case "healthcheck":
        exit(try HealthCheckBench().run())
    case "ipvs":
        let runs = Int(getenv("BENCH_RUNS").map { String(cString: $0) } ?? "") ?? 9
        exit(try IPVSBench(runs: runs).run())
    default:
        print("usage: tandem-bench [vip|ipvs|healthcheck|failover|mysql|mysql-failover|fence]")
        exit(2)
    }
} catch {
    print("tandem-bench: \(error)")
    exit(1)
}
