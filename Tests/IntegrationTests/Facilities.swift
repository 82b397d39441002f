import Glibc
import OCF
import Testing

/// What the integration tests need: root (namespaces, netlink changes) and the tools of the
/// real parts. Without them the tests are skipped on a developer's machine; when the Makefile
/// asks for them (`TANDEM_INTEGRATION_TESTS=1`, as `make test` does) a missing facility is a
/// failure, never a silent skip.
enum Facilities {
    static let missing: [String] = {
        var missing: [String] = []
        if geteuid() != 0 { missing.append("root") }
        for tool in ["/usr/sbin/ocf-tester", "/usr/sbin/crm_resource", "/usr/bin/xmllint", "/usr/bin/unshare", "/usr/bin/strace"]
        where access(tool, X_OK) != 0 {
            missing.append(tool)
        }
        if access("/usr/lib/ocf/resource.d/heartbeat/IPaddr2", X_OK) != 0 { missing.append("resource-agents (IPaddr2)") }
        for tool in ["/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db"] where access(tool, X_OK) != 0 { missing.append(tool) }
        for tool in ["/usr/sbin/libvirtd", "/usr/sbin/virtlogd", "/usr/bin/virsh", "/usr/bin/qemu-system-x86_64", "/usr/sbin/sshd",
                     "/usr/lib/pacemaker/pacemaker-fenced", "/usr/sbin/stonith_admin", "/bin/busybox"]
        where access(tool, X_OK) != 0 {
            missing.append(tool)
        }
        return missing
    }()

    static var ready: Bool { missing.isEmpty }
    static var required: Bool { (getenv("TANDEM_INTEGRATION_TESTS").map { String(cString: $0) } ?? "") == "1" }
}

@Suite struct FacilityTests {
    @Test func integrationFacilitiesArePresentWhenRequired() {
        if Facilities.required && !Facilities.ready {
            Issue.record("TANDEM_INTEGRATION_TESTS=1 but the integration tests cannot run: missing \(Facilities.missing)")
        }
    }
}
