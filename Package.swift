// swift-tools-version:6.0
//
// Tandem: Pacemaker/OCF resource agents for LVS director pairs.
//
// Layers, each using only the ones before it (`.ci/lint/imports` checks this and that every
// import is a declared dependency). Each line: what the layer is, then its targets.
//    1. C libraries, through pkg-config or libc's headers: CNetlink, CPacket, CEvents, CMariaDB,
//       CAres, CLibvirt
//    2. system calls and plain values (errno, addresses, GTID positions): POSIX, Addresses, MySQLReplication
//    3. the kernel, files and servers, typed: StateFiles, Netlink, LinkLayer, MySQLClient, Libvirt
//    4. the LVS domain (service syntax, plans, the health checker's contract): LVS
//    5. the OCF contract (parameters, actions, exit codes, meta-data, logs, traces, state): OCF
//    6. the OCF contract for netlink failures and for fence agents: OCFNetlink, FenceAgent
//    7. health checking (parameters, the rise/fall engine, the files shared with the daemon), the
//       records the kernel agents keep in $HA_RSCTMP, fencing's power sequence: HealthCheck,
//       AgentRecords, PowerFencing
//    8. the checks on a SwiftNIO event loop (the daemon only), the node's view: Probes, NodeStatus
//    9. the agents, the checker's daemon, the administrator's command: vip, ipvs, ipvs-sync,
//       healthcheck, mysql-mm, fence_libvirt, healthcheckd, tandem
// Test support, which nothing in production uses:
//   10. test doubles (agent runners, fakes, the lifecycle matrix, the fuzzer): OCFTesting
//   11. labs with real parts (namespaces, servers, libvirtd, clusters): Labs
//   12. the benchmarks, the demo, the tests' fixtures (and every test target): tandem-bench,
//       tandem-demo, tandem-testtool
import PackageDescription

// Release builds of the agents and tools are fully static: nothing from the Swift toolchain or
// the C libraries is needed at run time, and a monitor starts in about a millisecond (no
// dynamic loading). fence_libvirt is the exception: libvirt exists only as a shared library,
// so it links the Swift runtime statically and libvirt dynamically.
let staticExecutable: [LinkerSetting] = [.unsafeFlags(["-static-executable"], .when(configuration: .release))]
let staticSwiftRuntime: [LinkerSetting] = [.unsafeFlags(["-static-stdlib"], .when(configuration: .release))]

let package = Package(
    name: "Tandem",
    products: [
        .executable(name: "vip", targets: ["vip"]),
        .executable(name: "ipvs", targets: ["ipvs"]),
        .executable(name: "ipvs-sync", targets: ["ipvs-sync"]),
        .executable(name: "healthcheck", targets: ["healthcheck"]),
        .executable(name: "healthcheckd", targets: ["healthcheckd"]),
        .executable(name: "mysql-mm", targets: ["mysql-mm"]),
        .executable(name: "fence_libvirt", targets: ["fence_libvirt"]),
        .executable(name: "tandem", targets: ["tandem"]),
    ],
    dependencies: [
        // Network clients for the health checks (the daemon only; agents stay without them).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // C libraries, through pkg-config. `make deps` installs the -dev packages.
        .systemLibrary(
            name: "CNetlink", path: "Sources/CNetlink", pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-route-3-dev", "libnl-genl-3-dev"])]),
        .systemLibrary(
            name: "CMariaDB", path: "Sources/CMariaDB", pkgConfig: "libmariadb",
            providers: [.apt(["libmariadb-dev", "libssl-dev", "zlib1g-dev"])]),
        .systemLibrary(
            name: "CLibvirt", path: "Sources/CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(name: "CAres", path: "Sources/CAres", pkgConfig: "libcares", providers: [.apt(["libc-ares-dev"])]),
        // AF_PACKET socket headers (part of libc; no library to link).
        .systemLibrary(name: "CPacket", path: "Sources/CPacket"),
        // epoll and eventfd headers (part of libc) for the plain-socket prober.
        .systemLibrary(name: "CEvents", path: "Sources/CEvents"),

        // The system-call layer: errno values with their messages, calls retried on EINTR,
        // whole writes, reads to the end or until a deadline on a file descriptor.
        .target(name: "POSIX"),
        // Value types shared by every layer: addresses, prefixes, interface names, socket addresses.
        .target(name: "Addresses"),
        // Files agents keep: atomic key=value state files and flock(2) locks.
        .target(name: "StateFiles", dependencies: ["POSIX"]),
        // Typed Swift over libnl-3: addresses, links, route lookups, namespaces, IPVS; the
        // Kernel protocols agents talk to; veth pairs, bridges and routes for the labs.
        .target(name: "Netlink", dependencies: ["CNetlink", "Addresses", "POSIX"]),
        // Frames on the wire: gratuitous ARP, unsolicited neighbour advertisements.
        .target(name: "LinkLayer", dependencies: ["CPacket", "Addresses", "POSIX"]),
        // Linux Virtual Server: service and real-server syntax, plans, the health-checker contract.
        .target(name: "LVS", dependencies: ["Netlink", "StateFiles", "Addresses"]),
        // The OCF contract: parameters, actions, exit codes, meta-data, logging, tracing, state.
        .target(name: "OCF", dependencies: ["Addresses", "StateFiles", "POSIX"]),
        // What MariaDB/MySQL replication looks like: typed values (NULL kept apart from empty),
        // GTID positions, replica status by column name, lag and replication health.
        .target(name: "MySQLReplication"),
        // MariaDB/MySQL through libmariadb: connections with deadlines, reading a server's state.
        .target(name: "MySQLClient", dependencies: ["CMariaDB", "MySQLReplication"]),
        // libvirt: connections, domains and their power, errors as values (fence_libvirt only).
        .target(name: "Libvirt", dependencies: ["CLibvirt"]),
        // The fence-agents contract: requests from stdin or the command line, fence-agents
        // metadata and man page from OCF parameter declarations, exit codes, call deadlines.
        .target(name: "FenceAgent", dependencies: ["OCF", "POSIX"]),
        // The records vip, ipvs and ipvs-sync keep in $HA_RSCTMP, one typed codec each: the agents
        // write them and `tandem status` reads them.
        .target(name: "AgentRecords", dependencies: ["OCF", "OCFNetlink", "Netlink", "LVS", "Addresses"]),
        // Fencing by power: the hypervisor and domain protocols, and the sequence that owns
        // off/verify/on/reboot over them within the device's deadlines (libvirt is one switch).
        .target(name: "PowerFencing", dependencies: ["FenceAgent", "OCF"]),
        // What Tandem runs on the node, read from the state directory and the kernel (`tandem status`).
        .target(name: "NodeStatus", dependencies: ["AgentRecords", "OCF", "Netlink", "LVS", "HealthCheck", "Addresses", "POSIX"]),
        // OCF exit codes for netlink failures, namespace parameters, traced kernel requests.
        .target(name: "OCFNetlink", dependencies: ["OCF", "Netlink", "Addresses"]),
        // Health checking: parameters, check specifications, the rise/fall engine, the files the
        // agent and its daemon share, weight synchronisation.
        .target(name: "HealthCheck", dependencies: ["OCF", "OCFNetlink", "LVS", "Netlink", "Addresses", "MySQLReplication", "POSIX"]),
        // The checks themselves, on a SwiftNIO event loop (TCP, TLS, HTTP/1.1, ICMP, MySQL, DNS, programs).
        .target(
            name: "Probes",
            dependencies: [
                "HealthCheck", "OCF", "Addresses", "LinkLayer", "MySQLClient", "MySQLReplication", "CAres", "CEvents", "POSIX",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        // Test doubles: running agents and fence agents, fake kernels and sysctls, recorded node
        // attributes, the lifecycle matrix, the parameter fuzzer, the malformed-input harness,
        // schema checks. No root, no lab.
        .target(name: "OCFTesting", dependencies: ["OCF", "Addresses", "Netlink", "StateFiles", "POSIX", "PowerFencing"]),
        // Labs, with real parts and as root: network namespaces and veth test networks, web
        // servers, MariaDB servers and pairs, libvirtd with LXC guests, sshd, corosync + Pacemaker
        // clusters, director pairs, the fault table. For the root and guest suites, the benchmarks
        // and the demo only.
        .target(
            name: "Labs",
            dependencies: ["OCFTesting", "OCF", "Addresses", "Netlink", "LinkLayer", "MySQLClient", "MySQLReplication", "POSIX"]),

        // Agents.
        .executableTarget(
            name: "vip", dependencies: ["AgentRecords", "OCF", "OCFNetlink", "Netlink", "LinkLayer", "Addresses", "POSIX"],
            path: "agents/vip", linkerSettings: staticExecutable),
        .executableTarget(
            name: "ipvs", dependencies: ["AgentRecords", "OCF", "OCFNetlink", "Netlink", "LVS", "Addresses"],
            path: "agents/ipvs", linkerSettings: staticExecutable),
        .executableTarget(
            name: "ipvs-sync", dependencies: ["AgentRecords", "OCF", "OCFNetlink", "Netlink", "Addresses"],
            path: "agents/ipvs-sync", linkerSettings: staticExecutable),
        .executableTarget(
            name: "healthcheck", dependencies: ["OCF", "OCFNetlink", "Netlink", "LVS", "HealthCheck", "POSIX"],
            path: "agents/healthcheck", linkerSettings: staticExecutable),
        .executableTarget(
            name: "mysql-mm", dependencies: ["OCF", "MySQLClient", "MySQLReplication", "POSIX"], path: "agents/mysql-mm",
            linkerSettings: staticExecutable),
        .executableTarget(
            name: "fence_libvirt", dependencies: ["FenceAgent", "PowerFencing", "Libvirt", "OCF", "POSIX"], path: "agents/fence_libvirt",
            linkerSettings: staticSwiftRuntime),
        // The health checker's daemon, installed in /usr/libexec/tandem.
        .executableTarget(
            name: "healthcheckd",
            dependencies: ["OCF", "Netlink", "LVS", "HealthCheck", "Probes", "Addresses", "StateFiles", "POSIX",
                           .product(name: "NIOPosix", package: "swift-nio")],
            path: "agents/healthcheckd", linkerSettings: staticExecutable),

        // The administrator's command: `tandem status`, installed in /usr/sbin.
        .executableTarget(
            name: "tandem", dependencies: ["NodeStatus", "OCF", "Netlink"], path: "agents/tandem", linkerSettings: staticExecutable),

        // Benchmarks (`make bench`): agents side by side with the scripts they replace.
        .executableTarget(
            name: "tandem-bench", dependencies: ["Labs", "OCFTesting", "OCF", "StateFiles", "Netlink", "LVS", "HealthCheck", "Addresses", "MySQLClient", "MySQLReplication"],
            path: "Tests/Benchmarks", linkerSettings: staticExecutable),

        // The demo (`make demo`): seed 002's director pair failing over, in the IPVS guest.
        .executableTarget(name: "tandem-demo", dependencies: ["Labs", "OCFTesting"], path: "Tests/Demo", linkerSettings: staticExecutable),

        // Small fixtures for tests (node attributes against a real attrd, the health checker's
        // side of the override contract), so no test needs a shell.
        .executableTarget(
            name: "tandem-testtool",
            dependencies: ["OCF", "OCFTesting", "Labs", "LVS", "Netlink", "CNetlink", "HealthCheck", "Probes", "Addresses", "POSIX", .product(name: "NIOPosix", package: "swift-nio")],
            path: "Tests/TestTool", linkerSettings: staticExecutable),

        // Unit tests: pure logic, no root needed.
        .testTarget(name: "AddressesTests", dependencies: ["Addresses"]),
        .testTarget(name: "LinkLayerTests", dependencies: ["LinkLayer", "Addresses"]),
        .testTarget(name: "OCFTests", dependencies: ["OCF", "OCFTesting", "Addresses"]),
        .testTarget(name: "LVSTests", dependencies: ["LVS", "Netlink", "OCF", "Addresses"]),
        .testTarget(name: "HealthCheckTests", dependencies: ["HealthCheck", "Probes", "LVS", "Netlink", "OCF", "OCFTesting", "Addresses", "StateFiles",
                                                          .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "NodeStatusTests", dependencies: ["NodeStatus", "HealthCheck", "LVS", "Netlink", "OCF", "OCFTesting", "Addresses"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "CNetlink", "Addresses"]),
        // The agents in-process on fake kernels (the lifecycle matrix, fuzzing) and through their
        // executables (meta-data golden copies and schemas, validate-all tables).
        .testTarget(
            name: "AgentTests",
            dependencies: ["OCFTesting", "OCF", "OCFNetlink", "Netlink", "LVS", "HealthCheck", "MySQLReplication", "MySQLClient", "Addresses", "vip", "ipvs", "ipvs-sync", "healthcheck", "mysql-mm",
                           "FenceAgent", "PowerFencing", "fence_libvirt", "tandem"],
            exclude: ["Snapshots"]),
        // In a kernel with IPVS (the qemu guest of .ci/vm): ipvs and ipvs-sync for real.
        .testTarget(
            name: "IPVSTests",
            dependencies: ["Labs", "OCFTesting", "OCF", "Netlink", "LVS", "Addresses", "HealthCheck", "ipvs", "ipvs-sync", "healthcheck", "healthcheckd", "tandem"]),
        // Real parts, as root: netlink in network namespaces, frames on a veth, ocf-tester, crm_resource.
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Labs", "OCFTesting", "OCF", "Netlink", "Addresses", "MySQLClient", "MySQLReplication", "vip", "ipvs", "ipvs-sync", "mysql-mm", "tandem"]),
    ]
)
