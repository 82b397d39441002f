import OCF
import Testing

@Suite struct ExitCodeTests {
    /// The values are the OCF specification's; they must never drift.
    @Test func rawValuesArePinned() {
        let expected: [ExitCode: Int32] = [
            .success: 0, .genericError: 1, .invalidArguments: 2, .unimplemented: 3, .permissionDenied: 4,
            .notInstalled: 5, .notConfigured: 6, .notRunning: 7, .runningPromoted: 8, .failedPromoted: 9,
            .degraded: 190, .degradedPromoted: 191,
        ]
        #expect(ExitCode.allCases.count == expected.count)
        for code in ExitCode.allCases { #expect(code.rawValue == expected[code], "\(code.name)") }
    }

    @Test func names() {
        #expect(ExitCode.notConfigured.name == "OCF_ERR_CONFIGURED")
        #expect(ExitCode.degradedPromoted.name == "OCF_DEGRADED_PROMOTED")
    }
}
