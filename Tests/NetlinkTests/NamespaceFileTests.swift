import Glibc
import Testing
@testable import Netlink

/// A namespace parameter that names something else is refused at once: a FIFO put where a
/// namespace was expected never blocks the open, and a plain file is not taken for a namespace.
@Suite struct NamespaceFileTests {
    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let path = "/tmp/tandem-fifo-\(getpid())"
        unlink(path)
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        let started = ContinuousClock.now
        #expect { try NetworkNamespace(path: path) } throws: { ($0 as? NetlinkError)?.kind == .noNamespace }
        #expect(started.duration(to: .now) < .seconds(2))
    }

    @Test func aPlainFileIsNotANamespace() {
        #expect { try NetworkNamespace(path: "/etc/hostname") } throws: { ($0 as? NetlinkError)?.kind == .noNamespace }
        #expect { try NetworkNamespace(path: "/nonexistent/ns") } throws: { ($0 as? NetlinkError)?.kind == .noNamespace }
    }

    @Test func thisProcesssNamespaceIsOne() throws {
        _ = try NetworkNamespace(path: "/proc/self/ns/net")
    }
}
