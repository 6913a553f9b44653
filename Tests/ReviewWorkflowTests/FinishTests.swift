import Foundation
import PostgresClient
import ReviewAgents
import ReviewStore
import TaskQueue
import TestSupport
import Testing

/// A review's rows for a task, with an optional pull request number (a negative one breaks a table constraint).
private func records(prNumber: Int? = 7) -> ReviewRecords {
    let finding = Finding(
        agent: .security, ruleId: "security.sql-injection", severity: .high, path: "app/db.py", line: 2,
        message: "SQL built from input", fingerprint: "fp-1")
    let record = ReviewRecord(
        prURL: nil, repo: "acme/api", prNumber: prNumber, title: "t", author: "a", headSHA: "abc", summary: "summary",
        verdictStatus: .changesRequested, counts: ["security": 1, "scale": 0, "quality": 0, "architecture": 0],
        executionTimeMilliseconds: 12, findings: [finding],
        agents: [AgentRun(agent: "security", executionTimeMilliseconds: 3, findingsCount: 1)]
    )
    return ReviewRecords(record: record, analytics: true) { reviewID in
        PostgresJSON(text: #"{"review_id": \#(reviewID.map(String.init) ?? "null")}"#)
    }
}

@Suite("the finish transaction")
struct FinishTests {
    @Test("a review is recorded exactly once, together with the task's completion")
    func exactlyOnce() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTask(task("review")))
            let claimed = try #require(
                try await fixture.pool.run(
                    ClaimTasks(workerID: "w", queues: ["default"], limit: 1, lease: .seconds(60))
                ).first)
            #expect(try await fixture.queue.finish(claimed.lease, records: records()) == .written)
            // The same lease again (a retried write after a lost answer): nothing more is written.
            #expect(try await fixture.queue.finish(claimed.lease, records: records()) == .leaseLost)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM review_history") == 1)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM findings") == 1)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM agent_performance") == 1)
            let task = try #require(try await fixture.pool.run(FetchTask(id: claimed.lease.taskID)))
            #expect(task.state == .succeeded)
            let reviewID = try await fixture.scalar(Int64.self, "SELECT id FROM review_history")
            #expect(task.result?.text.contains("\(reviewID)") == true)
        }
    }

    @Test("after a lost lease nothing is written; a refused value rolls everything back")
    func leaseLostAndRollback() async throws {
        try await QueueFixture.with { fixture in
            _ = try await fixture.pool.run(try EnqueueTasks([task("review"), task("review")]))
            let claimed = try await fixture.pool.run(
                ClaimTasks(workerID: "w", queues: ["default"], limit: 2, lease: .seconds(60)))
            try #require(claimed.count == 2)
            // The lease is taken away (as by a rescue) before the worker finishes.
            #expect(try await fixture.pool.run(ReleaseTask(claimed[0].lease, reason: "taken away")) == .written)
            #expect(try await fixture.queue.finish(claimed[0].lease, records: records()) == .leaseLost)
            // A value the tables refuse: the transaction is rolled back, the task still runs under its lease.
            let error = await #expect(throws: PostgresError.self) {
                try await fixture.queue.finish(claimed[1].lease, records: records(prNumber: -1))
            }
            #expect(error?.isPermanent == true, "\(error.map { "\($0)" } ?? "")")
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM review_history") == 0)
            #expect(try await fixture.scalar(Int.self, "SELECT count(*) FROM findings") == 0)
            #expect(try await fixture.pool.run(FetchTask(id: claimed[1].lease.taskID))?.state == .running)
            #expect(try await fixture.pool.run(FetchTask(id: claimed[0].lease.taskID))?.state == .pending)
        }
    }
}
