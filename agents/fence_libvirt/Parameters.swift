import OCF

/// How `reboot` restarts a domain.
enum RebootMethod: String, OCFEnumeration {
    /// Power off (destroy), verify it, power on: the guest starts from a fresh process.
    case onoff
    /// A hardware reset of the running domain (`virDomainReset`): faster, same process.
    case reset
}

/// fence_libvirt's options, named as on stdin (`uri=…`) and on the command line (`--uri=…`).
struct FenceParameters: ParameterSet {
    @Parameter("uri", short: "libvirt connection URI(s)",
               long: "The hypervisor's libvirt URI: qemu:///system on the host itself, qemu+ssh://root@kvm1/system?keyfile=/etc/cluster/fence_key "
                   + "for a remote one (OpenSSH; its host key must be known: see known_hosts), or any other libvirt URI. Several URIs, "
                   + "separated by spaces, when the domain may be defined on several hosts (live migration with --persistent and without "
                   + "--undefinesource leaves it defined on both): off then powers it off wherever it runs and succeeds only when every "
                   + "one of them is reached and says it is off; status is ON when any says it runs; on and reboot start it where it ran, "
                   + "else on the first that defines it, and only when every one is reached.")
    var uri: HypervisorURIs = .localSystem

    @Parameter("connect_timeout", short: "Seconds to connect and for each query",
               long: "Seconds to wait for the connection to the hypervisor, and for each query over it. A host that accepts the "
                   + "connection and never answers, or a frozen libvirtd, fails the action after this long.", valid: 1...300)
    var connectTimeout: Int = 10

    @Parameter("power_timeout", short: "Seconds for a power change to be verified",
               long: "Seconds for off (destroy) or on (start) to be done and verified through libvirt.", valid: 1...600)
    var powerTimeout: Int = 20

    @Parameter("power_wait", short: "Seconds between off and on in a reboot",
               long: "Seconds to wait, in a reboot, after the domain is verified off and before it is started again.", valid: 0...600)
    var powerWait: Int = 0

    @Parameter("delay", short: "Seconds to wait before fencing",
               long: "Seconds to wait before off or reboot (in a two-node cluster, on one node's device only, so that one node wins).",
               valid: 0...3600)
    var delay: Int = 0

    @Parameter("reboot_method", short: "How reboot restarts the domain",
               long: "onoff: destroy, verify it is off, start it again. reset: a hardware reset of the running domain (a domain that is off is started).")
    var rebootMethod: RebootMethod = .onoff

    @Parameter("missing_as_off", short: "A domain that does not exist counts as off",
               long: "Count a domain the hypervisor(s) do not know as off (a transient domain disappears when it is destroyed). "
                   + "Without it, a missing domain is an error. The risk: a domain that was migrated to, or defined on, a host this "
                   + "device does not ask is missing here and counted as off while it runs there, and Pacemaker recovers its "
                   + "resources elsewhere: two nodes run them. List every host the domain can run on in uri, or leave this off.")
    var missingAsOff: Bool = false

    @Parameter("known_hosts", short: "ssh known_hosts file",
               long: "The known_hosts file that holds the hypervisor's ssh host key (absolute path), for +ssh, +libssh and +libssh2 URIs. "
                   + "Unset: OpenSSH's (root's ~/.ssh/known_hosts). Unknown or changed host keys are always refused, unless the URI says no_verify=1.")
    var knownHosts: String? = nil

    @Parameter("ssh_persist", short: "Seconds an ssh connection is kept for the next action",
               long: "For +ssh URIs: seconds to keep the ssh connection to the hypervisor open after an action (OpenSSH's ControlPersist), "
                   + "so that the next monitor, status or off skips the ssh login (about 0.4 s). The kept connection checks the host "
                   + "every second and closes after three unanswered checks. 0: a new connection for every action.", valid: 0...3600)
    var sshPersist: Int = 0

    func validate() throws(ParameterProblems) {
        var problems = ParameterProblems()
        if let knownHosts {
            if !knownHosts.hasPrefix("/") { problems.add("known_hosts", "'\(knownHosts)' is not an absolute path") }
            for uri in uri.all {
                if !(uri.usesOpenSSH || uri.usesLibSSH) {
                    problems.add("known_hosts", "applies to ssh URIs only (+ssh, +libssh, +libssh2), not \(uri.text)")
                } else if uri.usesOpenSSH && uri.parameter("command") != nil {
                    problems.add("known_hosts", "cannot be applied with the URI's own command= ssh program")
                } else if uri.usesLibSSH && uri.parameter("known_hosts") != nil {
                    problems.add("known_hosts", "the URI already names a known_hosts file")
                }
            }
        }
        if sshPersist > 0 && !uri.all.contains(where: \.usesOpenSSH) { problems.add("ssh_persist", "applies to +ssh URIs only, not \(uri.text)") }
        guard problems.isEmpty else { throw problems }
    }
}
