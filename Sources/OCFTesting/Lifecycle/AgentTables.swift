/// Each agent's lifecycle table — OCF's answers plus the cells its resource defines, with the
/// reasons — and values to generate parameter sets from. Shared by the fake-kernel runs and the
/// real ones, so both hold each agent to the same matrix.
extension LifecycleTable {
    public static var ipvs: LifecycleTable {
        var table = LifecycleTable.ocf(promotable: false, reloadable: true)
        table.expect(.drifted, .monitor, [.success], after: .repaired, because: "on_drift=repair: monitor puts the real server back")
        table.expect(.drifted, .probe, [.success], after: .unchanged, because: "the service is there; a probe reports and never repairs")
        table.expect(.heldByOther, .start, [.success], after: .repaired,
                     because: "the service identity is this resource's: an existing service is adopted and corrected")
        table.expect(.heldByOther, .stop, [.success], after: .clean, because: "the service identity is this resource's: stop removes it")
        table.expect(.heldByOther, .monitor, [.success], after: .running, because: "the service is there: drift is repaired")
        table.expect(.heldByOther, .probe, [.success], after: .unchanged, because: "the service is there")
        table.expect(.heldByOther, .reloadAgent, [.success], after: .reloaded, because: "the service is there: reload corrects it")
        return table
    }

    public static var ipvsSync: LifecycleTable {
        var table = LifecycleTable.ocf(promotable: true, reloadable: false)
        table.expect(.drifted, .probe, [.notRunning], after: .unchanged, because: "no daemon runs: a probe says stopped")
        table.expect(.drifted, .monitor, [.genericError], after: .unchanged,
                     because: "started here and gone without a stop: a failure, not a clean stop")
        table.expect(.heldByOther, .start, [.genericError], after: .unchanged,
                     because: "one backup daemon per namespace: another resource's is never replaced")
        return table
    }

    /// mysql-mm against a real server: drifted = the replica's IO thread stopped by hand,
    /// held by another = read_only switched OFF by an admin, facility missing = mysqld cleanly
    /// stopped.
    public static var mysqlMM: LifecycleTable {
        // No notify: the peer's final position travels as a node attribute, not in notifications.
        var table = LifecycleTable.ocf(promotable: true, reloadable: true, notifies: false)
        table.expect(.drifted, .monitor, [.degraded], after: .unchanged,
                     because: "a stopped replication thread degrades the replica: it stays, neither readable nor promotable")
        table.expect(.drifted, .probe, [.degraded], after: .unchanged, because: "as monitor; a probe starts nothing")
        table.expect(.drifted, .promote, [.genericError], after: .unchanged,
                     because: "a replica whose IO thread is stopped may miss transactions: never promoted")
        table.expect(.drifted, .demote, [.success], after: .unchanged, because: "already read-only; demote touches no replication thread")
        table.expect(.heldByOther, .start, [.success], after: .running,
                     because: "the cluster owns read_only: a started instance is unpromoted, so start closes a server opened by hand")
        table.expect(.heldByOther, .stop, [.success], after: .clean, because: "stop leaves the server read-only, whoever opened it")
        table.expect(.heldByOther, .monitor, [.runningPromoted], after: .unchanged,
                     because: "a writable server is reported promoted, so Pacemaker demotes a writer it did not open")
        table.expect(.heldByOther, .probe, [.runningPromoted], after: .unchanged, because: "as monitor: every writer is reported")
        table.expect(.heldByOther, .demote, [.success], after: .clean,
                     because: "Pacemaker demotes what a probe found promoted: demote closes it")
        table.expect(.promoted, .reloadAgent, [.success], after: .promoted,
                     because: "the new settings (kept with what start recorded) apply to the writer without a demotion")
        table.expect(.facilityMissing, .start, [.genericError], after: .unchanged,
                     because: "mysqld is started by the system or another resource: start waits for it, then fails")
        table.expect(.facilityMissing, .monitor, [.notRunning], after: .unchanged, because: "mysqld cleanly down: stopped")
        table.expect(.facilityMissing, .validateAll, [.success], after: .unchanged,
                     because: "validate-all checks the configuration and the credentials file, not whether mysqld runs")
        table.expect(.facilityMissing, .reloadAgent, [.success], after: .unchanged, because: "nothing started here: nothing to reload")
        table.expect(.facilityMissing, .promote, [.genericError], after: .unchanged, because: "nothing started here")
        return table
    }

    public static func vip(realServer: Bool) -> LifecycleTable {
        var table = LifecycleTable.ocf(promotable: false, reloadable: true, facilityMissing: .invalidArguments)
        table.expect(.facilityMissing, .monitor, [.notRunning], after: .unchanged,
                     because: "the configured interface is not here and nothing was started here: cleanly stopped")
        if realServer {
            table.expect(.drifted, .monitor, [.genericError], after: .unchanged,
                         because: "the ARP sysctls were put back by hand: this node may answer ARP for the address")
            table.expect(.drifted, .probe, [.genericError], after: .unchanged,
                         because: "the address is there but the node may answer ARP for it: failed, as a probe may say")
            table.expect(.drifted, .reloadAgent, [.success], after: .unchanged,
                         because: "reload applies announcement and link settings; the sysctls are start's")
            table.expect(.heldByOther, .start, [.success], after: .running,
                         because: "real-server addresses share the ARP sysctls: another one's is no obstacle")
        } else {
            table.expect(.drifted, .probe, [.notRunning], after: .unchanged, because: "the address is gone: a probe says stopped")
            table.expect(.drifted, .reloadAgent, [.success], after: .unchanged,
                         because: "reload applies announcement and link settings; putting the address back is start's")
        }
        return table
    }
}

/// Values each agent accepts, per parameter, for `ParameterFuzzer`.
public enum FuzzValues {
    public static let ipvs: [String: [String]] = [
        "service": ["tcp:192.0.2.10:80", "udp:192.0.2.10:53", "fwmark:7", "tcp:[2001:db8::10]:443", "sctp:192.0.2.11:3868"],
        "scheduler": ["rr", "wlc", "sh", "mh", "fo"], "sched_flags": ["sh-port", "flag-1", "mh-fallback,mh-port"],
        "persistent": ["0", "60", "2592000"], "netmask": ["255.255.255.0", "24", "64"], "one_packet": ["true", "false"],
        "pe": ["sip"], "realservers": ["10.0.0.1 masq", "10.0.0.1, 10.0.0.2 gate 3", "[2001:db8::2] ipip", "", "10.0.0.1:8080 masq 0 uthresh=5"],
        "on_drift": ["repair", "report", "fail"], "drain_timeout": ["0", "5"], "netns": ["lvs", "/run/netns/lvs", "nosuch", "/proc/1/ns/net"],
    ]
    /// `SOCKET` and `CREDENTIALS` stand for the world's real paths.
    public static let mysqlMM: [String: [String]] = [
        "socket": ["SOCKET"], "host": ["198.18.0.2"], "port": ["3306"], "credentials_file": ["CREDENTIALS"],
        "connect_timeout": ["2s", "5s"], "read_timeout": ["5s", "1m"], "max_lag": ["10", "0", "3600"],
        "lag_source": ["gtid", "seconds_behind_master"], "heartbeat_table": ["percona.heartbeat"],
        "reader_attribute": ["readable", "db_ok"], "writer_attribute": ["writable"], "kill_connections_on_demote": ["true", "false"],
        "catchup_timeout": ["0s", "30s"], "require_peer_readonly": ["true", "false"],
    ]
    public static let ipvsSync: [String: [String]] = [
        "interface": ["sync0", "eth0", "nosuch0"], "syncid": ["0", "7", "255"], "maxlen": ["0", "1500", "65507"],
        "group": ["224.0.0.81", "239.1.2.3", "ff02::81"], "port": ["0", "8848"], "ttl": ["1", "255"],
        "netns": ["lvs", "/run/netns/lvs", "nosuch"],
    ]
    public static let vip: [String: [String]] = [
        "ip": ["198.18.0.50", "198.18.0.51", "2001:db8::50", "198.19.0.50"], "cidr_netmask": ["24", "255.255.255.0", "32", "64"],
        "nic": ["eth0", "eth1", "lo"], "broadcast": ["198.18.0.255"], "iflabel": ["web", "x1"], "lvs_dr_realserver": ["true", "false"],
        "arp_count": ["0", "1", "5", "100"], "arp_interval_ms": ["10", "200", "10000"], "arp_mode": ["request", "reply", "both"],
        "arp_refresh_on_monitor": ["true", "false"], "nodad": ["true", "false"], "preferred_lft": ["forever", "0", "3600"],
        "noprefixroute": ["true", "false"], "check_link": ["true", "false"],
    ]
}

extension LifecycleTable {
    public static var healthcheck: LifecycleTable {
        var table = LifecycleTable.ocf(promotable: false, reloadable: true)
        table.expect(.drifted, .probe, [.genericError], after: .unchanged,
                     because: "started here and the daemon is gone: failed, as a probe may say")
        table.expect(.drifted, .reloadAgent, [.success], after: .unchanged,
                     because: "no daemon runs to reload: the new parameters apply at the next start")
        table.expect(.facilityMissing, .monitor, [.notRunning], after: .unchanged,
                     because: "nothing was started here: cleanly stopped")
        return table
    }
}

extension FuzzValues {
    public static let healthcheck: [String: [String]] = [
        "services": ["tcp:192.0.2.10:80", "tcp:192.0.2.10:80 tcp:192.0.2.10:443", "fwmark:7"],
        "check": ["tcp", "http", "https", "none", "ping", "tcp-expect", "external", "mysql", "dns"], "check_port": ["80", "8080"],
        "interval": ["200ms", "1s", "5"], "fast_interval": ["100ms", "1s"], "timeout": ["100ms", "2s"],
        "rise": ["1", "2", "100"], "fall": ["1", "3"], "on_failure": ["quiesce", "remove"],
        "fallback": ["127.0.0.1:8080 masq", "10.0.0.9"], "slow_start": ["0", "30"], "attribute": ["hc_healthy"],
        "degraded_on": ["never", "some-down", "all-down"], "tcp_send": ["PING\\r\\n"], "tcp_expect": ["+PONG"],
        "http_method": ["GET", "HEAD"], "http_path": ["/", "/health"], "http_host": ["www.example.com"],
        "http_headers": ["X-Check: 1"], "http_status": ["200", "200-299,301"], "http_body": ["OK"], "http_body_regex": ["^OK"],
        "tls_verify": ["true", "false"], "tls_ca_file": ["/etc/ssl/certs/ca-certificates.crt"], "tls_server_name": ["www.example.com"],
        "external_command": ["/bin/true"], "external_arguments": ["-v"], "netns": ["nosuch"],
        "mysql_defaults_file": ["/etc/mysql/debian.cnf"], "mysql_database": ["mysql"], "mysql_query": ["SELECT 1"],
        "mysql_max_lag": ["5"], "mysql_lag_source": ["gtid", "heartbeat"], "mysql_heartbeat_table": ["percona.heartbeat"],
        "dns_name": ["www.example.com"], "dns_type": ["A", "MX"], "dns_expect": ["192.0.2.1"],
    ]
}
