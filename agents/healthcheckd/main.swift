import Glibc
import OCF

// healthcheckd CONFIGURATION [READY-FD]: the checker daemon of ocf:tandem:healthcheck, started
// by the agent. It writes "ready" to READY-FD once the first round of checks is applied, or
// "error: …" when it cannot run.
Signals.block()
// The agent that started this daemon may be gone (killed mid-start): writing "ready" to its
// pipe must fail, not kill the daemon.
signal(SIGPIPE, SIG_IGN)
// A socket per running check: the soft descriptor limit (often 1024) goes up to the hard one.
var limit = rlimit()
if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
    limit.rlim_cur = min(limit.rlim_max, 65_536)
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    Log.writeStandardError("usage: healthcheckd CONFIGURATION [READY-FD]\n")
    exit(2)
}
let ready = arguments.count > 2 ? Int32(arguments[2]) : nil
do {
    let daemon = try CheckerDaemon(configurationPath: arguments[1], ready: ready)
    exit(daemon.run())
} catch {
    if let ready {
        let line = Array("error: \(error)\n".utf8)
        _ = line.withUnsafeBytes { write(ready, $0.baseAddress, $0.count) }
    }
    Log.writeStandardError("ERROR: healthcheckd: \(error)\n")
    exit(1)
}
