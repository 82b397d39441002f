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
        case .timedOut: .generic("\(doing): the kernel did not answer before the operation's deadline")
        default: .generic("\(doing): \(self)")
        }
    }
}

/// Runs a netlink call, turning its error into an OCF error that says what was being done.
/// (The body throws `NetlinkError`; a plain closure spares every call site its annotation.)
public func netlink<T>(_ doing: String, _ body: () throws -> T) throws(OCFError) -> T {
    do {
        return try body()
    } catch let error as NetlinkError {
        throw error.ocf(while: doing)
    } catch let error as OCFError {
        throw error
    } catch {
        throw OCFError.generic("\(doing): \(error)")
    }
}

extension Kernel {
    /// The address table of a namespace (this process's when `nil`).
    /// - Throws: `OCF_ERR_ARGS` naming `parameter` when the namespace is missing here.
    public func routeTable(in namespace: NamespaceReference?, parameter: String = "netns") throws(OCFError) -> any AddressTable {
        do {
            return try routes(in: namespace?.path)
        } catch {
            throw Self.failure(error, namespace: namespace, parameter: parameter, doing: "opening a netlink socket")
        }
    }

    /// The IPVS table of a namespace (this process's when `nil`).
    /// - Throws: `OCF_ERR_INSTALLED` without IPVS, `OCF_ERR_ARGS` naming `parameter` when the
    ///   namespace is missing here.
    public func ipvsTable(in namespace: NamespaceReference?, parameter: String = "netns") throws(OCFError) -> any IPVSTable {
        do {
            return try ipvs(in: namespace?.path)
        } catch {
            if error.kind == .notFound { throw OCFError.notInstalled("IPVS is not available on this node: \(error.message)") }
            throw Self.failure(error, namespace: namespace, parameter: parameter, doing: "opening the IPVS netlink socket")
        }
    }

    private static func failure(_ error: NetlinkError, namespace: NamespaceReference?, parameter: String, doing: String) -> OCFError {
        if error.kind == .noNamespace, let namespace {
            return OCFError.invalidArguments("\(parameter): \(namespace.path) is not a network namespace on this node (\(error.message))")
        }
        return error.ocf(while: doing)
    }
}

/// Whether this node can hold IPVS state at all.
public enum IPVSPresence {
    case present(any IPVSTable)
    /// No IPVS in this kernel, or no such namespace on this node: nothing of a service or
    /// daemon can run here. The reason says which.
    case absent(String)

    /// Opens the IPVS table of a namespace, telling absence apart from real failures.
    /// - Throws: what `Kernel.ipvsTable(in:)` throws for anything but absence.
    public static func check(_ kernel: any Kernel, in namespace: NamespaceReference?) throws(OCFError) -> IPVSPresence {
        do {
            return .present(try kernel.ipvsTable(in: namespace))
        } catch {
            // (A do/catch written this way: `catch where` on a typed error crashes Swift 6.3's SILGen.)
            guard error.exitCode == .notInstalled || error.exitCode == .invalidArguments else { throw error }
            return .absent(error.reason)
        }
    }

    /// The table a monitor reads: `nil` for a probe on a node without IPVS (or the namespace),
    /// where nothing can run; a recurring monitor there fails with `OCF_ERR_INSTALLED`.
    public static func tableForMonitor(_ kernel: any Kernel, in namespace: NamespaceReference?,
                                       isProbe: Bool) throws(OCFError) -> (any IPVSTable)? {
        // Opening the table would load ip_vs: a probe where it is not loaded finds nothing, loads nothing.
        if isProbe && !kernel.isIPVSLoaded { return nil }
        switch try check(kernel, in: namespace) {
        case .present(let table):
            return table
        case .absent(let reason):
            guard isProbe else { throw OCFError.notInstalled(reason) }
            return nil
        }
    }
}
