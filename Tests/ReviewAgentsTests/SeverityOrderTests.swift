import ReviewAgents
import Testing

@Suite("severity order")
struct SeverityOrderTests {
    @Test("severities sort from most to least severe")
    func order() {
        #expect(Severity.allCases.sorted() == [.critical, .high, .medium, .low, .info])
        #expect(Severity.critical < .info)
        #expect(Severity(rawValue: "high") == .high)
        #expect(Severity(rawValue: "blocker") == nil)
    }
}
