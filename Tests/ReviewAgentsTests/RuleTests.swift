import Testing

@testable import ReviewAgents

@Suite("Rules")
struct RuleTests {
    @Test("each rule reports its positive examples and stays quiet on its negative ones", arguments: RuleCases.all)
    func ruleCase(_ example: RuleCase) async throws {
        let rule = try #require(RuleCatalog.rule(id: example.rule), "unknown rule \(example.rule)")
        let findings = try await review(example.diff, configuration: example.configuration, agent: rule.agent)
        let hits = findings.filter { $0.ruleId == example.rule }
        if example.expected {
            #expect(!hits.isEmpty, "expected \(example.rule) on: \(example.name); got \(findings.map(\.ruleId))")
        } else {
            #expect(hits.isEmpty, "unexpected \(example.rule) on: \(example.name): \(hits.map(\.message))")
        }
    }

    @Test("every rule in the catalogue has positive and negative examples")
    func coverage() {
        let cases = RuleCases.all
        for rule in RuleCatalog.all {
            #expect(cases.contains { $0.rule == rule.id && $0.expected }, "no positive example for \(rule.id)")
            #expect(cases.contains { $0.rule == rule.id && !$0.expected }, "no negative example for \(rule.id)")
        }
    }

    @Test("rule ids are unique, namespaced by their agent, and documented")
    func catalogue() {
        let ids = RuleCatalog.all.map(\.id)
        #expect(Set(ids).count == ids.count)
        for rule in RuleCatalog.all {
            #expect(rule.id.hasPrefix(rule.agent.rawValue + "."))
            #expect(!rule.title.isEmpty && !rule.help.isEmpty)
            #expect(RuleCatalog.rules(for: rule.agent).contains(rule))
        }
    }
}
