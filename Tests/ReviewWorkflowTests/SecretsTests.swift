import DiffSources
import Foundation
import PostgresClient
import ReviewStore
import ReviewWorkflow
import TaskQueue
import TestSupport
import Testing

@Suite("secrets", .serialized)
struct SecretsTests {
    @Test("planted secrets never reach logs, STATUS= lines, task errors or stored findings", .timeLimit(.minutes(2)))
    func plantedSecrets() async throws {
        let databasePassword = "Db-Pa55word-planted-7f3a"
        let githubToken = "ghp_PlantedToken0123456789abcdefABCDEF99"
        let modelKey = "sk-planted-model-key-0123456789abcdef"
        let awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9aB3dE7f"
        let diff = """
            diff --git a/config/settings.py b/config/settings.py
            --- a/config/settings.py
            +++ b/config/settings.py
            @@ -1 +1,3 @@
             DEBUG = False
            +AWS_SECRET_ACCESS_KEY = "\(awsSecret)"
            +DATABASE = "postgresql://app:\(databasePassword)@db.internal/app"

            """
        try await withFakeGitHub { api, _ in
            try await PostgresServer.with { server in
                try await server.start()
                try await server.migrate()
                let pool = try server.pool()
                let review = try await pool.run(
                    try EnqueueTask(
                        try reviewTask(ReviewRequest(source: .diff(diff), repo: "acme/api", prNumber: 3))
                    )
                ).id
                _ = try await pool.run(
                    try EnqueueTask(
                        try reviewTask(ReviewRequest(source: .pullRequest(url: "https://github.com/acme/api/pull/404")))
                    ))
                _ = try await pool.run(
                    try EnqueueTask(
                        try reviewTask(
                            ReviewRequest(source: .pullRequest(url: "https://github.com/acme/api/pull/500")),
                            maxAttempts: 2
                        )))
                let listener = try NotifyListener()
                let worker = try RunningProcess(
                    "queue-worker", ["--instance", "secrets"],
                    environment: [
                        "DATABASE_URL": server.url(password: databasePassword),
                        "GITHUB_TOKEN": githubToken, "GITHUB_API_URL": api, "LLM_API_KEY": modelKey,
                        "NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000",
                        "LOG_LEVEL": "trace", "LOG_FORMAT": "logfmt",
                        "WORKER_LEASE_SECONDS": "2", "WORKER_HEARTBEAT_SECONDS": "0.5",
                        "WORKER_POLL_INTERVAL_MS": "200",
                        "WORKER_RETRY_BASE_SECONDS": "0.05", "WORKER_RETRY_MAX_SECONDS": "0.1",
                        "WORKER_DB_TOLERANCE_SECONDS": "1",
                    ]
                )
                let settled = try await eventually(timeout: .seconds(30)) {
                    let reviewed = try await pool.run(FetchTask(id: review))?.state == .succeeded
                    let dead = try await pool.query("SELECT count(*) AS n FROM tasks WHERE state = 'dead'").single?
                        .decode(Int.self, "n")
                    return reviewed && dead == 2
                }
                #expect(settled, "\(worker.log.suffix(2000))")
                // Take the database away for a while: connection errors get logged and reported in STATUS=. The test
                // server runs with synchronous_commit=off, and an immediate stop loses what the WAL writer has not
                // written yet: flush first, so that the results checked below are the ones just seen.
                try await pool.execute("CHECKPOINT")
                await pool.close()
                try await server.stop(mode: "immediate")
                let unhealthy = await listener.first(timeout: .seconds(20)) {
                    $0["STATUS"]?.contains("unhealthy") == true
                }
                #expect(unhealthy != nil)
                try await server.start()
                worker.send(SIGTERM)
                #expect(await worker.waitForExit(timeout: .seconds(30)) == 0, "\(worker.log.suffix(2000))")

                let checkPool = try server.pool()
                let stored =
                    try await checkPool.query(
                        """
                        SELECT coalesce((SELECT string_agg(errors::text || coalesce(result::text, ''), ' ') FROM tasks), '')
                            || coalesce((SELECT string_agg(message || coalesce(suggestion, ''), ' ') FROM findings), '')
                            || coalesce((SELECT string_agg(review_verdict, ' ') FROM review_history), '') AS everything
                        """
                    ).single?.decode(String.self, "everything") ?? ""
                let findings = try await checkPool.query(
                    "SELECT count(*) AS n FROM findings WHERE rule_id LIKE 'security.secret%'")
                #expect(try findings.single?.decode(Int.self, "n") ?? 0 >= 1)
                await checkPool.close()

                let statusLines = listener.notifications.map(\.text).joined(separator: "\n")
                let log = worker.log
                #expect(log.split(separator: "\n").count > 20, "the run logged at trace level")
                #expect(log.contains("lease") || log.contains("claim"))
                for (name, secret) in [
                    ("database password", databasePassword), ("GitHub token", githubToken), ("model API key", modelKey),
                    ("AWS secret in the diff", awsSecret),
                ] {
                    #expect(!log.contains(secret), "\(name) appears in the log")
                    #expect(!statusLines.contains(secret), "\(name) appears in a STATUS= line")
                    #expect(!stored.contains(secret), "\(name) appears in stored errors, results or findings")
                }
                // The masked form is what is stored.
                #expect(stored.contains("wJal****"))
            }
        }
    }
}
