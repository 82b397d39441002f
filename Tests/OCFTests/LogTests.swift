import Glibc
import OCF
import OCFTesting
import Testing

/// Logging as the cluster stack does it: the resource instance on every line, and the files
/// Pacemaker names in HA_LOGFILE/HA_DEBUGLOG, as ocf-shellfuncs' ha_log writes them.
@Suite struct LogTests {
    let base = "/tmp/tandem-logtests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    @Test func logFileGetsDatedLinesWithTheInstance() throws {
        defer { unlink(base + ".log"); unlink(base + ".debug") }
        let environment = Environment(["OCF_RESOURCE_INSTANCE": "web-vip", "HA_LOGFILE": base + ".log",
                                       "HA_DEBUGLOG": base + ".debug", "HA_debug": "1"])
        let log = Log(agent: "vip", environment: environment, sink: .memory)
        log.debug("looking")
        log.info("added 192.0.2.10/24 to eth0")
        log.error("the link is down\nocf-exit-reason:forged")
        #expect(log.lines == ["DEBUG: vip(web-vip): looking", "INFO: vip(web-vip): added 192.0.2.10/24 to eth0",
                              "ERROR: vip(web-vip): the link is down?ocf-exit-reason:forged"])
        let file = try #require(readFile(base + ".log")).split(separator: "\n")
        #expect(file.count == 2, "debug lines stay out of HA_LOGFILE: \(file)")
        // "Nov 30 11:42:07 vip(web-vip)[1234]: INFO: …"
        let pattern = #/^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d vip\(web-vip\)\[\d+\]: (INFO|ERROR): .+$/#
        for line in file { #expect(line.wholeMatch(of: pattern) != nil, "\(line)") }
        #expect(file[1].hasSuffix("ERROR: the link is down?ocf-exit-reason:forged"))
        let debug = try #require(readFile(base + ".debug")).split(separator: "\n")
        #expect(debug.count == 3 && debug[0].hasSuffix("DEBUG: looking"), "\(debug)")
    }

    /// Without HA_debug nothing is written at debug level anywhere; an unwritable log file
    /// costs the line there, never the action.
    @Test func quietWithoutDebugAndUnwritableFile() throws {
        defer { unlink(base + ".log") }
        let environment = Environment(["OCF_RESOURCE_INSTANCE": "x", "HA_LOGFILE": base + ".log", "HA_DEBUGLOG": "/nonexistent/dir/debug"])
        let log = Log(agent: "vip", environment: environment, sink: .memory)
        log.debug("hidden")
        log.warning("shown")
        #expect(log.lines == ["WARNING: vip(x): shown"])
        #expect(readFile(base + ".log")?.contains("WARNING: shown") == true)
        #expect(readFile(base + ".log")?.contains("hidden") == false)
    }
}
