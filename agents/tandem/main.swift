import Glibc
import Netlink
import NodeStatus
import OCF

/// `tandem`: the node's view of what Tandem runs. Reads, never changes.
enum TandemCommand {
    static let usage = """
        Usage: tandem status [--json] [--state-dir DIR]
               tandem --help | --version

        status      What Tandem runs on this node: virtual IPs and where they are announced, each
                    IPVS service with its real servers (configured and current weight, health
                    verdict, reason, last check's latency), connection sync daemons' roles.
                    Read from the kernel and the agents' state directory; nothing is changed.
          --json    The same as JSON.
          --state-dir DIR
                    The agents' state directory (default: $HA_RSCTMP, else /run/resource-agents).

        """

    static func main() -> Int32 {
        var arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "status"?:
            arguments.removeFirst()
        case "--help"?, "-h"?, "help"?:
            Log.writeStandardOutput(usage)
            return 0
        case "--version"?, "-V"?:
            Log.writeStandardOutput("tandem \(tandemVersion)\n")
            return 0
        case "manpage"?:
            Log.writeStandardOutput(manPage())
            return 0
        default:
            Log.writeStandardError(usage)
            return 2
        }
        var json = false
        var directory = StateDirectory(environment: .current()).path
        while let argument = arguments.first {
            arguments.removeFirst()
            switch argument {
            case "--json": json = true
            case "--state-dir":
                guard let value = arguments.first else { return refuse("--state-dir needs a directory") }
                arguments.removeFirst()
                directory = value
            default:
                if argument.hasPrefix("--state-dir=") { directory = String(argument.dropFirst(12)); continue }
                return refuse("unknown option \(argument)")
            }
        }
        let status = StatusCollector.collect(stateDirectory: directory, kernel: LiveKernel(deadline: .now + .seconds(5)))
        Log.writeStandardOutput(json ? StatusReport.json(status) : StatusReport.text(status))
        return 0
    }

    static func refuse(_ problem: String) -> Int32 {
        Log.writeStandardError("tandem: \(problem)\n\n" + usage)
        return 2
    }

    /// tandem(8), written by the build like the agents' pages.
    static func manPage() -> String {
        var page = ManPage(name: "tandem", section: 8, manual: "Tandem")
        page.section("NAME")
        page.paragraph("tandem - what the Tandem cluster agents run on this node")
        page.section("SYNOPSIS")
        page.example(["tandem status [--json] [--state-dir DIR]", "tandem --help | --version"])
        page.section("DESCRIPTION")
        page.paragraph("""
            tandem status shows what the Tandem resource agents run on this node: each ocf:tandem:vip \
            address, whether the kernel holds it and where it is announced; each ocf:tandem:ipvs service \
            with its real servers, the weight each was configured with and the weight in the kernel now, \
            the ocf:tandem:healthcheck verdict with its reason and the last check's latency; and the role \
            of each ocf:tandem:ipvs-sync resource's connection sync daemons.
            """)
        page.paragraph("""
            It reads the kernel (netlink) and the agents' state directory and changes nothing: it takes \
            no lock and writes no file, so it is safe beside any cluster action. Reading IPVS needs root.
            """)
        page.section("OPTIONS")
        page.item("--json", "The same, as one JSON object: addresses, services (each with real_servers), sync_daemons, problems.")
        page.item("--state-dir DIR", "The agents' state directory. Default: $HA_RSCTMP, else /run/resource-agents.")
        page.item("-h, --help", "The usage.")
        page.item("-V, --version", "The version.")
        page.section("EXIT STATUS")
        page.paragraph("0 when the view was written (problems reading a file or the kernel are listed in it), 2 on a usage error.")
        page.section("FILES")
        page.item("/run/resource-agents", "The agents' records: vip-*, ipvs-*, ipvs-sync-*, healthcheck-*.conf and .status.")
        page.section("SEE ALSO")
        page.paragraph("ocf_tandem_vip(7), ocf_tandem_ipvs(7), ocf_tandem_ipvs-sync(7), ocf_tandem_healthcheck(7), crm_mon(8)")
        return page.text
    }
}

exit(TandemCommand.main())
