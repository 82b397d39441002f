// swift-tools-version:6.0
//
// Tandem: Pacemaker/OCF resource agents for LVS director pairs.
//
// Layering (each layer imports only the ones before it):
//   C modules (CNetlink, CPacket)
//   -> value types and wrappers (Addresses, StateFiles, Netlink, LinkLayer)
//   -> the LVS domain (LVS: service syntax, plans, the health checker's contract)
//   -> the OCF contract (OCF, OCFNetlink); MariaDB/MySQL replication (MySQLReplication) and
//      its client (MySQLClient, libmariadb: the daemon and mysql-mm only)
//   -> health checking (HealthCheck: parameters, the rise/fall engine, files shared with the daemon;
//      Probes: the checks on a SwiftNIO event loop, for the daemon only)
//   -> fencing: libvirt (Libvirt, over CLibvirt) and the fence-agents contract (FenceAgent, on
//      OCF's parameter declarations)
//   -> the node's view (NodeStatus: the agents' records and the kernel, for `tandem status`)
//   -> agents/<name>, one executable each, and the health checker's daemon (agents/healthcheckd);
//      agents/tandem, the administrator's command.
// OCFTesting, the test support library, may use every layer; nothing in production uses it.
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

        // Value types shared by every layer: addresses, prefixes, interface names, socket addresses.
        .target(name: "Addresses"),
        // Files agents keep: atomic key=value state files and flock(2) locks.
        .target(name: "StateFiles"),
        // Typed Swift over libnl-3: addresses, links, route lookups, namespaces, IPVS; the
        // Kernel protocols agents talk to.
        .target(name: "Netlink", dependencies: ["CNetlink", "Addresses"]),
        // Frames on the wire: gratuitous ARP, unsolicited neighbour advertisements.
        .target(name: "LinkLayer", dependencies: ["CPacket", "Addresses"]),
        // Linux Virtual Server: service and real-server syntax, plans, the health-checker contract.
        .target(name: "LVS", dependencies: ["Netlink", "StateFiles", "Addresses"]),
        // The OCF contract: parameters, actions, exit codes, meta-data, logging, tracing, state.
        .target(name: "OCF", dependencies: ["Addresses", "StateFiles"]),
        // What MariaDB/MySQL replication looks like: typed values (NULL kept apart from empty),
        // GTID positions, replica status by column name, lag and replication health.
        .target(name: "MySQLReplication", dependencies: ["OCF"]),
        // MariaDB/MySQL through libmariadb: connections with deadlines, reading a server's state.
        .target(name: "MySQLClient", dependencies: ["CMariaDB", "MySQLReplication"]),
        // libvirt: connections, domains and their power, errors as values (fence_libvirt only).
        .target(name: "Libvirt", dependencies: ["CLibvirt"]),
        // The fence-agents contract: requests from stdin or the command line, fence-agents
        // metadata and man page from OCF parameter declarations, exit codes, call deadlines.
        .target(name: "FenceAgent", dependencies: ["OCF"]),
        // What Tandem runs on the node, read from the state directory and the kernel (`tandem status`).
        .target(name: "NodeStatus", dependencies: ["OCF", "Netlink", "LVS", "HealthCheck", "Addresses"]),
        // OCF exit codes for netlink failures, namespace parameters, traced kernel requests.
        .target(name: "OCFNetlink", dependencies: ["OCF", "Netlink"]),
        // Health checking: parameters, check specifications, the rise/fall engine, the files the
        // agent and its daemon share, weight synchronisation.
        .target(name: "HealthCheck", dependencies: ["OCF", "OCFNetlink", "LVS", "Netlink", "Addresses", "MySQLReplication"]),
        // The checks themselves, on a SwiftNIO event loop (TCP, TLS, HTTP/1.1, ICMP, MySQL, DNS, programs).
        .target(
            name: "Probes",
            dependencies: [
                "HealthCheck", "OCF", "Addresses", "LinkLayer", "MySQLClient", "MySQLReplication", "CAres", "CEvents",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        // Test support: running agents, fake kernels, the lifecycle matrix, throw-away
        // namespaces and test networks, the malformed-input harness, CPU accounting.
        .target(
            name: "OCFTesting",
            dependencies: ["OCF", "OCFNetlink", "Addresses", "Netlink", "LinkLayer", "LVS", "CNetlink", "StateFiles", "MySQLClient", "MySQLReplication"]),

        // Agents.
        .executableTarget(
            name: "vip", dependencies: ["OCF", "OCFNetlink", "Netlink", "LinkLayer", "Addresses"],
            path: "agents/vip", linkerSettings: staticExecutable),
        .executableTarget(
            name: "ipvs", dependencies: ["OCF", "OCFNetlink", "Netlink", "LVS", "Addresses"],
            path: "agents/ipvs", linkerSettings: staticExecutable),
        .executableTarget(
            name: "ipvs-sync", dependencies: ["OCF", "OCFNetlink", "Netlink", "Addresses"],
            path: "agents/ipvs-sync", linkerSettings: staticExecutable),
        .executableTarget(
            name: "healthcheck", dependencies: ["OCF", "OCFNetlink", "Netlink", "LVS", "HealthCheck"],
            path: "agents/healthcheck", linkerSettings: staticExecutable),
        .executableTarget(
            name: "mysql-mm", dependencies: ["OCF", "MySQLClient", "MySQLReplication"], path: "agents/mysql-mm",
            linkerSettings: staticExecutable),
        .executableTarget(
            name: "fence_libvirt", dependencies: ["FenceAgent", "Libvirt", "OCF", "StateFiles"], path: "agents/fence_libvirt",
            linkerSettings: staticSwiftRuntime),
        // The health checker's daemon, installed in /usr/libexec/tandem.
        .executableTarget(
            name: "healthcheckd",
            dependencies: ["OCF", "Netlink", "LVS", "HealthCheck", "Probes", "Addresses", "StateFiles",
                           .product(name: "NIOPosix", package: "swift-nio")],
            path: "agents/healthcheckd", linkerSettings: staticExecutable),

        // The administrator's command: `tandem status`, installed in /usr/sbin.
        .executableTarget(
            name: "tandem", dependencies: ["NodeStatus", "OCF", "Netlink"], path: "agents/tandem", linkerSettings: staticExecutable),

        // Benchmarks (`make bench`): agents side by side with the scripts they replace.
        .executableTarget(
            name: "tandem-bench", dependencies: ["OCFTesting", "OCF", "StateFiles", "Netlink", "LinkLayer", "LVS", "HealthCheck", "Addresses"],
            path: "Tests/Benchmarks", linkerSettings: staticExecutable),

        // The demo (`make demo`): seed 002's director pair failing over, in the IPVS guest.
        .executableTarget(name: "tandem-demo", dependencies: ["OCFTesting"], path: "Tests/Demo", linkerSettings: staticExecutable),

        // Small fixtures for tests (node attributes against a real attrd, the health checker's
        // side of the override contract), so no test needs a shell.
        .executableTarget(
            name: "tandem-testtool",
            dependencies: ["OCF", "OCFTesting", "LVS", "Netlink", "CNetlink", "HealthCheck", "Probes", .product(name: "NIOPosix", package: "swift-nio")],
            path: "Tests/TestTool", linkerSettings: staticExecutable),

        // Unit tests: pure logic, no root needed.
        .testTarget(name: "AddressesTests", dependencies: ["Addresses"]),
        .testTarget(name: "LinkLayerTests", dependencies: ["LinkLayer", "Addresses"]),
        .testTarget(name: "OCFTests", dependencies: ["OCF", "OCFTesting"]),
        .testTarget(name: "LVSTests", dependencies: ["LVS", "Netlink", "OCF", "OCFTesting", "Addresses"]),
        .testTarget(name: "HealthCheckTests", dependencies: ["HealthCheck", "Probes", "LVS", "Netlink", "OCF", "OCFTesting", "Addresses", "StateFiles",
                                                          .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "NodeStatusTests", dependencies: ["NodeStatus", "HealthCheck", "LVS", "Netlink", "OCF", "OCFTesting", "Addresses"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "CNetlink", "Addresses"]),
        // The agents in-process on fake kernels (the lifecycle matrix, fuzzing) and through their
        // executables (meta-data golden copies and schemas, validate-all tables).
        .testTarget(
            name: "AgentTests",
            dependencies: ["OCFTesting", "OCF", "OCFNetlink", "Netlink", "LVS", "HealthCheck", "MySQLReplication", "MySQLClient", "vip", "ipvs", "ipvs-sync", "healthcheck", "mysql-mm",
                           "FenceAgent", "fence_libvirt", "tandem"],
            exclude: ["Snapshots"]),
        // In a kernel with IPVS (the qemu guest of .ci/vm): ipvs and ipvs-sync for real.
        .testTarget(
            name: "IPVSTests",
            dependencies: ["OCFTesting", "OCF", "Netlink", "LVS", "Addresses", "HealthCheck", "ipvs", "ipvs-sync", "healthcheck", "healthcheckd", "tandem"]),
        // Real parts, as root: netlink in network namespaces, frames on a veth, ocf-tester, crm_resource.
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["OCFTesting", "OCF", "Netlink", "LinkLayer", "Addresses", "MySQLClient", "MySQLReplication", "vip", "ipvs", "ipvs-sync", "mysql-mm", "tandem"]),
    ]
)
