// swift-tools-version:6.0
//
// Tandem: Pacemaker/OCF resource agents for LVS director pairs.
//
// Layering (each layer imports only the ones before it):
//   C modules (CNetlink, CPacket)
//   -> value types and wrappers (Addresses, Netlink, LinkLayer)
//   -> the OCF contract (OCF; OCFTesting for tests)
//   -> agents/<name>, one executable each.
import PackageDescription

let package = Package(
    name: "Tandem",
    products: [
        .executable(name: "vip", targets: ["vip"]),
        .executable(name: "ipvs", targets: ["ipvs"]),
        .executable(name: "ipvs-sync", targets: ["ipvs-sync"]),
    ],
    targets: [
        // C libraries, through pkg-config. `make deps` installs the -dev packages.
        .systemLibrary(
            name: "CNetlink", path: "Sources/CNetlink", pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-route-3-dev", "libnl-genl-3-dev"])]),
        // AF_PACKET socket headers (part of libc; no library to link).
        .systemLibrary(name: "CPacket", path: "Sources/CPacket"),

        // Value types shared by every layer: addresses, prefixes, interface names.
        .target(name: "Addresses"),
        // Typed Swift over libnl-3: addresses, links, route lookups, namespaces.
        .target(name: "Netlink", dependencies: ["CNetlink", "Addresses"]),
        // Frames on the wire: gratuitous ARP, unsolicited neighbour advertisements.
        .target(name: "LinkLayer", dependencies: ["CPacket", "Addresses"]),
        // Linux Virtual Server: service and real-server syntax, plans, the health-checker contract.
        .target(name: "LVS", dependencies: ["Netlink", "OCF", "Addresses"]),
        // The OCF contract: parameters, actions, exit codes, meta-data, logging, state.
        .target(name: "OCF", dependencies: ["Addresses"]),
        // OCF exit codes for netlink failures, shared by the agents that talk to the kernel.
        .target(name: "OCFNetlink", dependencies: ["OCF", "Netlink"]),
        // Test support: running agents, throw-away namespaces, the malformed-input harness.
        .target(name: "OCFTesting", dependencies: ["OCF", "Addresses", "Netlink", "LinkLayer"]),

        // Agents.
        .executableTarget(
            name: "vip", dependencies: ["OCF", "OCFNetlink", "Netlink", "LinkLayer", "Addresses"],
            path: "agents/vip"),

        .executableTarget(
            name: "ipvs", dependencies: ["OCF", "OCFNetlink", "Netlink", "LVS", "Addresses"],
            path: "agents/ipvs"),
        .executableTarget(
            name: "ipvs-sync", dependencies: ["OCF", "OCFNetlink", "Netlink", "Addresses"],
            path: "agents/ipvs-sync"),

        // Benchmarks (`make bench`): agents side by side with the scripts they replace.
        .executableTarget(
            name: "tandem-bench", dependencies: ["OCFTesting", "OCF", "Netlink", "LinkLayer", "LVS", "Addresses"],
            path: "Tests/Benchmarks"),

        // Drives library pieces inside a lab node (node attributes against a real attrd).
        .executableTarget(name: "tandem-testtool", dependencies: ["OCF"], path: "Tests/TestTool"),

        // Unit tests: pure logic, no root needed.
        .testTarget(name: "AddressesTests", dependencies: ["Addresses"]),
        .testTarget(name: "LinkLayerTests", dependencies: ["LinkLayer", "Addresses"]),
        .testTarget(name: "OCFTests", dependencies: ["OCF", "OCFTesting"]),
        .testTarget(name: "LVSTests", dependencies: ["LVS", "Netlink", "OCF", "Addresses"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "CNetlink", "Addresses"]),
        // The agents through their executables: meta-data golden copies and schemas, validate-all tables.
        .testTarget(
            name: "AgentTests", dependencies: ["OCFTesting", "OCF", "vip", "ipvs", "ipvs-sync"],
            exclude: ["Snapshots"]),
        // In a kernel with IPVS (the qemu guest of .ci/vm): ipvs and ipvs-sync for real.
        .testTarget(
            name: "IPVSTests",
            dependencies: ["OCFTesting", "OCF", "Netlink", "LVS", "Addresses", "ipvs"]),
        // Real parts, as root: netlink in network namespaces, frames on a veth, ocf-tester, crm_resource.
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["OCFTesting", "OCF", "Netlink", "LinkLayer", "Addresses", "vip"]),
    ]
)
