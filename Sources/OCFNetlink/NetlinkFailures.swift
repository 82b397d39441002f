import Netlink
import OCF

// Netlink failures as OCF errors, for every agent that talks to the kernel.

extension NetlinkError {
    /// The OCF error for this failure: a missing privilege or kernel facility is this node's
    /// problem (hard: the resource moves away), anything else may pass (soft).
    /// - Parameter doing: what the agent was doing, for the exit reason.
    public func ocf(while doing: String) -> OCFError {
        switch kind {
        case .permissionDenied: .permissionDenied("\(doing): \(self) (CAP_NET_ADMIN is needed: run as root)")
        case .notSupported: .notInstalled("\(doing): \(self)")
        default: .generic("\(doing): \(self)")
        }
    }
}

/// Runs a netlink call, turning its error into an OCF error that says what was being done.
public func netlink<T>(_ doing: String, _ body: () throws(NetlinkError) -> T) throws(OCFError) -> T {
    do {
        return try body()
    } catch {
        throw error.ocf(while: doing)
    }
}

extension IPVSSocket {
    /// The IPVS socket of a namespace (this process's when `nil`).
    /// - Throws: `OCF_ERR_INSTALLED` without IPVS, `OCF_ERR_ARGS` when the namespace is missing here.
    public static func open(in namespace: NamespaceReference?) throws(OCFError) -> IPVSSocket {
        let opened = try namespace?.open()
        do {
            return try IPVSSocket(in: opened)
        } catch where error.kind == .notFound {
            throw OCFError.notInstalled("IPVS is not available on this node: \(error.message)")
        } catch {
            throw error.ocf(while: "opening the IPVS netlink socket")
        }
    }
}

/// Whether this node can hold IPVS state at all.
public enum IPVSPresence {
    case present(IPVSSocket)
    /// No IPVS in this kernel, or no such namespace on this node: nothing of a service or
    /// daemon can run here. The reason says which.
    case absent(String)

    /// Opens the IPVS socket of a namespace, telling absence apart from real failures.
    /// - Throws: what `IPVSSocket.open(in:)` throws for anything but absence.
    public static func check(in namespace: NamespaceReference?) throws(OCFError) -> IPVSPresence {
        do {
            return .present(try IPVSSocket.open(in: namespace))
        } catch {
            // (A do/catch written this way: `catch where` on a typed error crashes Swift 6.3's SILGen.)
            guard error.exitCode == .notInstalled || error.exitCode == .invalidArguments else { throw error }
            return .absent(error.reason)
        }
    }

    /// The socket a monitor reads: `nil` for a probe on a node without IPVS (or the namespace),
    /// where nothing can run; a recurring monitor there fails with `OCF_ERR_INSTALLED`.
    public static func socketForMonitor(in namespace: NamespaceReference?, isProbe: Bool) throws(OCFError) -> IPVSSocket? {
        switch try check(in: namespace) {
        case .present(let socket):
            return socket
        case .absent(let reason):
            guard isProbe else { throw OCFError.notInstalled(reason) }
            return nil
        }
    }
}
