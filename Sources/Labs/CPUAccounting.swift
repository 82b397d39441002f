import Glibc
import OCFTesting

/// CPU time (user + system) of the child processes reaped while `body` ran — a command and
/// every process it waited for, as time(1) counts them (`getrusage(RUSAGE_CHILDREN)`). Only
/// meaningful when nothing else reaps children meanwhile (the benchmarks run one at a time).
public func childCPUTime<T>(_ body: () throws -> T) rethrows -> (result: T, cpu: Duration) {
    let before = childUsage()
    let result = try body()
    return (result, childUsage() - before)
}

private func childUsage() -> Duration {
    var usage = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &usage)
    return .seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + .microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}
