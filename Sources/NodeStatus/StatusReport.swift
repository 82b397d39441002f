/// `tandem status` for people (aligned tables) and for programs (`--json`).
public enum StatusReport {
    public static func text(_ status: NodeStatus) -> String {
        var out = ""
        if status.addresses.isEmpty && status.services.isEmpty && status.syncDaemons.isEmpty {
            out += "No Tandem resource runs on this node (state directory \(status.stateDirectory)).\n"
        }
        if !status.addresses.isEmpty {
            out += "Virtual IPs\n"
            var rows = [["RESOURCE", "ADDRESS", "INTERFACE", "STATE", "ANNOUNCED"]]
            for address in status.addresses {
                let announced: String
                if let interface = address.announcedOn {
                    announced = (address.address.contains(":") ? "NA on " : "GARP on ") + interface + (address.announcing ? " (sending)" : "")
                } else {
                    announced = "no: LVS-DR real server" + (address.arpRestrictedOn.map { ", ARP restricted on \($0)" } ?? "")
                }
                rows.append([address.resource, address.address, address.interface, address.held ? "held" : "MISSING", announced])
            }
            out += table(rows)
        }
        for service in status.services {
            if !out.isEmpty { out += "\n" }
            var heading = "IPVS service \(service.service) (\(service.resource)"
            if let netns = service.netns { heading += ", netns \(netns)" }
            heading += service.inKernel ? ", \(service.scheduler ?? "?"))" : ", NOT IN THE KERNEL)"
            out += heading + "\n"
            if let checker = service.checker {
                var line = "  checked by \(checker.resource): \(checker.check), "
                line += checker.running ? "daemon running" : "DAEMON NOT RUNNING"
                if let age = checker.heartbeatAge { line += ", status written \(seconds(milliseconds: age)) ago" }
                if !checker.firstRoundDone { line += ", first checks not done yet" }
                if let fatal = checker.fatal { line += ", stopped: \(fatal)" }
                out += line + "\n"
            } else {
                out += "  not health-checked\n"
            }
            var rows = [["REAL SERVER", "FWD", "WEIGHT", "NOW", "ACTIVE", "INACTIVE", "HEALTH", "LATENCY", "REASON"]]
            for server in service.realServers {
                rows.append([server.address, server.forwarding,
                             server.configuredWeight.map(String.init) ?? "-", server.currentWeight.map(String.init) ?? "absent",
                             String(server.activeConnections), String(server.inactiveConnections),
                             server.health ?? "-", server.latencyMicroseconds.map(latency) ?? "-", server.reason])
            }
            out += table(rows, indent: "  ")
        }
        if !status.syncDaemons.isEmpty {
            if !out.isEmpty { out += "\n" }
            out += "Connection sync\n"
            var rows = [["RESOURCE", "INTERFACE", "SYNCID", "ROLE", "NETNS"]]
            for daemon in status.syncDaemons {
                rows.append([daemon.resource, daemon.interface, String(daemon.syncID), daemon.role, daemon.netns ?? "-"])
            }
            out += table(rows)
        }
        if !status.problems.isEmpty {
            out += "\nProblems\n"
            for problem in status.problems { out += "  \(problem)\n" }
        }
        return out
    }

    /// Columns padded to their widest cell; the last column is not padded.
    static func table(_ rows: [[String]], indent: String = "  ") -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var out = ""
        for row in rows {
            var line = indent
            for (index, cell) in row.enumerated() {
                line += index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 2)
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    static func latency(_ microseconds: Int) -> String {
        microseconds < 10_000 ? "\(microseconds / 1000).\(microseconds % 1000 / 100) ms" : "\(microseconds / 1000) ms"
    }

    static func seconds(milliseconds: Int64) -> String {
        milliseconds < 10_000 ? "\(milliseconds / 1000).\(milliseconds % 1000 / 100) s" : "\(milliseconds / 1000) s"
    }

    // MARK: JSON

    public static func json(_ status: NodeStatus) -> String {
        let value: JSON = .object([
            ("state_directory", .string(status.stateDirectory)),
            ("addresses", .array(status.addresses.map { address in
                .object([("resource", .string(address.resource)), ("address", .string(address.address)),
                         ("interface", .string(address.interface)), ("held", .bool(address.held)),
                         ("announced_on", address.announcedOn.map(JSON.string) ?? .null),
                         ("arp_restricted_on", address.arpRestrictedOn.map(JSON.string) ?? .null),
                         ("announcing", .bool(address.announcing))])
            })),
            ("services", .array(status.services.map { service in
                .object([("resource", .string(service.resource)), ("service", .string(service.service)),
                         ("netns", service.netns.map(JSON.string) ?? .null), ("in_kernel", .bool(service.inKernel)),
                         ("scheduler", service.scheduler.map(JSON.string) ?? .null),
                         ("checker", service.checker.map { checker in
                             .object([("resource", .string(checker.resource)), ("check", .string(checker.check)),
                                      ("running", .bool(checker.running)),
                                      ("heartbeat_age_ms", checker.heartbeatAge.map { .number(Int($0)) } ?? .null),
                                      ("first_round_done", .bool(checker.firstRoundDone)), ("fatal", checker.fatal.map(JSON.string) ?? .null)])
                         } ?? .null),
                         ("real_servers", .array(service.realServers.map { server in
                             .object([("address", .string(server.address)), ("forwarding", .string(server.forwarding)),
                                      ("configured_weight", server.configuredWeight.map { .number(Int($0)) } ?? .null),
                                      ("current_weight", server.currentWeight.map { .number(Int($0)) } ?? .null),
                                      ("active_connections", .number(Int(server.activeConnections))),
                                      ("inactive_connections", .number(Int(server.inactiveConnections))),
                                      ("health", server.health.map(JSON.string) ?? .null), ("reason", .string(server.reason)),
                                      ("latency_us", server.latencyMicroseconds.map(JSON.number) ?? .null)])
                         }))])
            })),
            ("sync_daemons", .array(status.syncDaemons.map { daemon in
                .object([("resource", .string(daemon.resource)), ("interface", .string(daemon.interface)),
                         ("sync_id", .number(daemon.syncID)), ("role", .string(daemon.role)),
                         ("netns", daemon.netns.map(JSON.string) ?? .null)])
            })),
            ("problems", .array(status.problems.map(JSON.string))),
        ])
        var out = ""
        value.write(to: &out, indent: "")
        return out + "\n"
    }
}

/// Just enough JSON to write the status: objects keep their keys' order.
indirect enum JSON {
    case null
    case bool(Bool)
    case number(Int)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    func write(to out: inout String, indent: String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let value): out += String(value)
        case .string(let value): JSON.quote(value, to: &out)
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += indent + "  "
                item.write(to: &out, indent: indent + "  ")
                out += index == items.count - 1 ? "\n" : ",\n"
            }
            out += indent + "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{\n"
            for (index, (key, value)) in members.enumerated() {
                out += indent + "  "
                JSON.quote(key, to: &out)
                out += ": "
                value.write(to: &out, indent: indent + "  ")
                out += index == members.count - 1 ? "\n" : ",\n"
            }
            out += indent + "}"
        }
    }

    static func quote(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
