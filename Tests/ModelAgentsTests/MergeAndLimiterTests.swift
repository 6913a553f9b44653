import Foundation
import ReviewAgents
import Synchronization
import Testing

@testable import ModelAgents

@Suite("Merging rule and model findings")
struct MergeTests {
    static func model(_ slug: String, line: Int?, severity: Severity = .medium, content: String = "x") -> Finding {
        let ruleId = "llm.security.\(slug)"
        return Finding(
            agent: .security, ruleId: ruleId, severity: severity, path: "app/db.py", line: line, message: slug,
            fingerprint: Finding.fingerprint(ruleId: ruleId, path: "app/db.py", content: content), source: "llm")
    }

    @Test("duplicates by fingerprint collapse, rules first; the order of the inputs does not matter")
    func merge() async throws {
        let input = ReviewInput(diff: try diff(sampleDiff))
        let rules = try await ReviewAgents.agent(.security).review(input)
        #expect(!rules.isEmpty, "the sample should trip a security rule")
        let a = Self.model("sql-injection", line: 12, severity: .high, content: "a")
        let b = Self.model("n-plus-one", line: 13, content: "b")
        let aAgain = Self.model("sql-injection", line: 12, severity: .low, content: "a")
        // A model finding that happens to share a rule finding's fingerprint: the rule's is kept.
        var clash = Self.model("clash", line: rules[0].line)
        clash.fingerprint = rules[0].fingerprint

        let merged = ModelReviewer.merge(rules: rules, model: [a, b, aAgain, clash])
        #expect(merged.count == rules.count + 2)
        #expect(Set(merged.map(\.fingerprint)).count == merged.count)
        #expect(merged.first { $0.fingerprint == rules[0].fingerprint }?.source == "rules")
        #expect(
            merged.filter { $0.source == "llm" }.map(\.ruleId).sorted() == [
                "llm.security.n-plus-one", "llm.security.sql-injection",
            ])
        #expect(merged == merged.sorted(by: Finding.reportOrder))

        for _ in 0..<20 {
            let shuffled = ModelReviewer.merge(rules: rules.shuffled(), model: [a, b, aAgain, clash].shuffled())
            #expect(shuffled == merged)
        }
        // Merging again changes nothing (a resumed node that merges its checkpoint twice).
        #expect(ModelReviewer.merge(rules: merged, model: [a, b]) == merged)
        #expect(ModelReviewer.merge(rules: rules, model: []) == rules.sorted(by: Finding.reportOrder))
    }
}

@Suite("Call limiter")
struct CallLimiterTests {
    @Test("no more than the limit run at once, and all of them run")
    func bounds() async throws {
        final class Counters: Sendable {
            let state = Mutex((current: 0, peak: 0, done: 0))
        }
        let limiter = CallLimiter(limit: 3)
        let counters = Counters()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await limiter.withSlot {
                        counters.state.withLock {
                            $0.current += 1; $0.peak = max($0.peak, $0.current)
                        }
                        try await Task.sleep(for: .milliseconds(20))
                        counters.state.withLock {
                            $0.current -= 1; $0.done += 1
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let result = counters.state.withLock { $0 }
        #expect(result.peak == 3)
        #expect(result.done == 20)
    }

    @Test("a cancelled waiter stops waiting and does not take a slot")
    func cancellation() async throws {
        let limiter = CallLimiter(limit: 1)
        try await limiter.acquire()
        let waiter = Task { try await limiter.acquire() }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        limiter.release()
        // The slot is free again: this would hang if the cancelled waiter had kept it.
        try await limiter.withSlot {}
    }
}
