import Foundation
import PostgresClient
import TaskQueue
import TestSupport
import Testing

@testable import WorkerDaemon

/// The notifications a real worker process sends to a datagram socket standing in for systemd (`NOTIFY_SOCKET`),
/// with `WATCHDOG_USEC` set as systemd sets it for `WatchdogSec=`.
///
/// Waits are generous (tens of seconds) but end as soon as the awaited message arrives; nothing asserts how fast
/// the machine is, except that petting keeps within the watchdog interval systemd would enforce.
@Suite("systemd notifications of a worker process", .serialized)
struct SystemdNotifyTests {
    /// Environment for a worker that talks to `listener` with a watchdog of `watchdog`.
    static func environment(
        _ url: String,
        listener: NotifyListener,
        watchdog: Duration? = .seconds(1),
        _ extra: [String: String] = [:]
    ) -> [String: String] {
        var environment = [
            "DATABASE_URL": url,
            "NOTIFY_SOCKET": listener.address,
            "WORKER_CONCURRENCY": "4",
            "WORKER_LEASE_SECONDS": "2",
            "WORKER_HEARTBEAT_SECONDS": "0.5",
            "WORKER_POLL_INTERVAL_MS": "200",
            "WORKER_RESCUE_INTERVAL_SECONDS": "0.2",
            "WORKER_SHUTDOWN_GRACE_SECONDS": "5",
            "LOG_LEVEL": "info",
            "LOG_FORMAT": "logfmt",
        ]
        if let watchdog { environment["WATCHDOG_USEC"] = "\(watchdog.components.seconds * 1_000_000)" }
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    /// How many WATCHDOG=1 came after `start`, and the median time between two of them (zero for fewer than two).
    static func pets(_ listener: NotifyListener, after start: NotifyListener.Notification) -> (Int, Duration) {
        let notifications = listener.between(start, and: nil).filter { $0.has("WATCHDOG") }
        var gaps: [Duration] = []
        for index in notifications.indices.dropFirst() {
            gaps.append(notifications[index].received - notifications[index - 1].received)
        }
        gaps.sort()
        return (notifications.count, gaps.isEmpty ? .zero : gaps[gaps.count / 2])
    }

    /// N from a `STATUS=unhealthy, not petting the watchdog: database unreachable for N.Ns…`, else 0.
    static func unreachableSeconds(_ notification: NotifyListener.Notification) -> Double {
        let marker = "not petting the watchdog: database unreachable for "
        guard let status = notification["STATUS"], let range = status.range(of: marker) else { return 0 }
        return Double(status[range.upperBound...].prefix { $0.isNumber || $0 == "." }) ?? 0
    }

    @Test("READY=1 only once the database answers at the expected schema version; STATUS= says why until then")
    func readyWaitsForTheDatabase() async throws {
        try await PostgresServer.with { server in
            let listener = try NotifyListener()
            let secret = "n0tify-s3cret"
            // The worker starts first, against a port where nothing listens yet.
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "early"],
                environment: Self.environment(server.url(password: secret), listener: listener)
            )
            defer { worker.send(SIGKILL) }
            let waiting = await listener.first { $0["STATUS"]?.contains("waiting for the database") == true }
            #expect(waiting != nil, "\(listener.notifications) \(worker.log)")

            // Reachable, but without the schema: still not ready, and STATUS= names the command to run.
            try await server.start()
            let unmigrated = await listener.first(after: waiting) { $0["STATUS"]?.contains("queuectl migrate") == true }
            #expect(unmigrated != nil, "\(listener.notifications) \(worker.log)")
            #expect(!listener.notifications.contains { $0.has("READY") })

            try await server.migrate()
            let ready = try #require(
                await listener.first { $0.has("READY") }, "\(listener.notifications) \(worker.log)")
            #expect(ready.index > unmigrated?.index ?? .max)
            // The watchdog is petted only once the worker is ready (systemd arms it at READY=1).
            #expect(!listener.between(nil, and: ready).contains { $0.has("WATCHDOG") })
            let pet = await listener.first(after: ready) { $0.has("WATCHDOG") }
            #expect(pet != nil)
            #expect(!listener.notifications.contains { $0.text.contains(secret) }, "the password leaked into STATUS=")

            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0, "\(worker.log)")
        }
    }

    @Test("WATCHDOG=1 comes at about half of WATCHDOG_USEC, with STATUS= kept current")
    func watchdogCadence() async throws {
        try await QueueFixture.with { fixture in
            let listener = try NotifyListener()
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "cadence"],
                environment: Self.environment(try fixture.url, listener: listener, watchdog: .seconds(2))
            )
            defer { worker.send(SIGKILL) }
            let ready = try #require(await listener.first { $0.has("READY") }, "\(worker.log)")
            #expect(ready["STATUS"]?.contains("0/4 busy") == true, "\(ready)")
            try await Task.sleep(for: .seconds(5))
            // Expected: one pet a second (half of 2 s) and so about 5 in 5 s. The bounds allow for a loaded machine
            // while still telling "about half the interval" from "far too often" and "too rarely for systemd".
            let (count, median) = Self.pets(listener, after: ready)
            #expect(count >= 3 && count <= 12, "\(count) pets in 5 s")
            #expect(median >= .milliseconds(600) && median <= .milliseconds(1500), "median gap \(median)")
            let statuses = listener.between(ready, and: nil).compactMap { $0["STATUS"] }
            #expect(statuses.count >= 3, "\(statuses)")
            #expect(statuses.allSatisfy { $0.contains("busy") && $0.contains("done") }, "\(statuses)")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0, "\(worker.log)")
        }
    }

    @Test("a database outage longer than the tolerance stops the petting, STATUS= says why, and it resumes after")
    func pettingStopsWhileTheDatabaseIsDown() async throws {
        try await PostgresServer.with { server in
            try await server.start()
            try await server.migrate()
            let listener = try NotifyListener()
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "outage"],
                environment: Self.environment(
                    server.url(), listener: listener, ["WORKER_DB_TOLERANCE_SECONDS": "2"]
                )
            )
            defer { worker.send(SIGKILL) }
            let ready = try #require(await listener.first { $0.has("READY") }, "\(worker.log)")
            #expect(await listener.first(after: ready) { $0.has("WATCHDOG") } != nil)

            try await server.stop()
            let down = listener.notifications.last
            let unhealthy = try #require(
                await listener.first(after: down) { $0["STATUS"]?.contains("not petting the watchdog") == true },
                "\(listener.between(down, and: nil)) \(worker.log)"
            )
            #expect(unhealthy["STATUS"]?.contains("database unreachable for") == true, "\(unhealthy)")
            // Within the tolerance the worker went on petting: a short outage must not get it restarted.
            #expect(listener.between(down, and: unhealthy).contains { $0.has("WATCHDOG") })
            // Long enough without the database for systemd (1 s watchdog here) to have restarted the worker.
            try await Task.sleep(for: .seconds(2))
            let restarting = listener.notifications.last
            #expect(!listener.between(unhealthy, and: restarting).contains { $0.has("WATCHDOG") })
            #expect(
                listener.between(unhealthy, and: restarting).allSatisfy {
                    $0["STATUS"]?.contains("not petting the watchdog") ?? true
                })

            try await server.start()
            let resumed = await listener.first(after: restarting) { $0.has("WATCHDOG") }
            #expect(resumed != nil, "\(listener.between(restarting, and: nil)) \(worker.log)")
            let healthyStatus = await listener.first(after: resumed) { $0["STATUS"]?.contains("busy") == true }
            #expect(healthyStatus != nil)
            #expect(worker.log.contains("healthy again"))

            // It carries on working on the same database.
            let pool = try server.pool()
            let id = try await pool.run(try EnqueueTask(task())).id
            let done = try await eventually(timeout: .seconds(30)) {
                try await pool.run(FetchTask(id: id))?.state == .succeeded
            }
            #expect(done, "\(worker.log)")
            await pool.close()
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0, "\(worker.log)")
        }
    }

    @Test("a hung database (it accepts but never answers) also stops the petting, with STATUS= saying why")
    func pettingStopsWhileTheDatabaseHangs() async throws {
        try await PostgresServer.with { server in
            try await server.start()
            try await server.migrate()
            let listener = try NotifyListener()
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "hang"],
                environment: Self.environment(server.url(), listener: listener, ["WORKER_DB_TOLERANCE_SECONDS": "2"])
            )
            defer { worker.send(SIGKILL) }
            let ready = try #require(await listener.first { $0.has("READY") }, "\(worker.log)")
            #expect(await listener.first(after: ready) { $0.has("WATCHDOG") } != nil)

            try server.suspend()
            let hung = listener.notifications.last
            // Queries now block without an error. The petting loop must wait for none of them: STATUS= goes on
            // telling how long the database has been gone, past the 5 s at which a queue-depth query comes due.
            let unhealthy = await listener.first(after: hung) { Self.unreachableSeconds($0) >= 7 }
            try server.resume()
            #expect(unhealthy != nil, "\(listener.between(hung, and: nil)) \(worker.log)")
            let resumed = await listener.first(after: unhealthy) { $0.has("WATCHDOG") }
            #expect(resumed != nil, "\(listener.between(unhealthy, and: nil)) \(worker.log)")
            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0, "\(worker.log)")
        }
    }

    @Test("SIGTERM sends STOPPING=1 and EXTEND_TIMEOUT_USEC= while draining; no WATCHDOG=1 without WATCHDOG_USEC")
    func stoppingOnSigterm() async throws {
        try await QueueFixture.with { fixture in
            let id = try await fixture.pool.run(try EnqueueTask(task(payload: #"{"sleep_ms": 1500}"#))).id
            let listener = try NotifyListener()
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "stopping"],
                environment: Self.environment(try fixture.url, listener: listener, watchdog: nil)
            )
            defer { worker.send(SIGKILL) }
            let ready = try #require(await listener.first { $0.has("READY") }, "\(worker.log)")
            let running = try await eventually { try await fixture.pool.run(FetchTask(id: id))?.state == .running }
            #expect(running)
            worker.send(SIGTERM)
            let stopping = try #require(await listener.first(after: ready) { $0.has("STOPPING") }, "\(worker.log)")
            #expect(stopping["STATUS"]?.contains("draining") == true, "\(stopping)")
            let extend = await listener.first(after: stopping) { $0["EXTEND_TIMEOUT_USEC"] != nil }
            #expect(extend.flatMap { $0["EXTEND_TIMEOUT_USEC"].flatMap(UInt64.init) }.map { $0 > 0 } == true)
            #expect(await worker.waitForExit() == 0, "\(worker.log)")
            #expect(try await fixture.pool.run(FetchTask(id: id))?.state == .succeeded)
            #expect(!listener.between(stopping, and: nil).contains { $0.has("READY") })
            #expect(!listener.notifications.contains { $0.has("WATCHDOG") })
        }
    }

    @Test("SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1, with the new log level, concurrency and queues")
    func reloadAppliesNewSettings() async throws {
        try await QueueFixture.with { fixture in
            let directory = NSTemporaryDirectory() + "aq-reload-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let config = directory + "/worker.conf"
            func writeConfig(_ text: String) throws {
                // Replace the file as an editor would, so the worker never reads half of it.
                try text.write(toFile: config + ".new", atomically: false, encoding: .utf8)
                _ = rename(config + ".new", config)
            }
            try writeConfig("WORKER_CONCURRENCY=1\nWORKER_QUEUES=default\nLOG_LEVEL=info\n")

            // Three slow tasks in `default`; a quick one in `extra`, which the worker does not claim from yet.
            let slow = try await fixture.pool.run(
                try EnqueueTasks(
                    (0..<3).map { _ in task(payload: #"{"sleep_ms": 4000}"#, priority: 1) }))
            let extra = try await fixture.pool.run(try EnqueueTask(task(queue: "extra", priority: 0))).id
            let listener = try NotifyListener()
            let worker = try RunningProcess(
                "queue-worker", ["--instance", "reload", "--config", config],
                environment: Self.environment(try fixture.url, listener: listener)  // sets WORKER_CONCURRENCY=4
            )
            defer { worker.send(SIGKILL) }
            let ready = try #require(await listener.first { $0.has("READY") }, "\(worker.log)")
            #expect(ready["STATUS"]?.contains("/1 busy") == true, "the file overrides the environment: \(ready)")
            let runningCount = {
                try await fixture.scalar(Int.self, "SELECT count(*) FROM tasks WHERE state = 'running'")
            }
            #expect(try await eventually { try await runningCount() == 1 })
            try await Task.sleep(for: .milliseconds(800))
            #expect(try await runningCount() == 1, "concurrency 1 before the reload")
            #expect(try await fixture.pool.run(FetchTask(id: extra))?.state == .pending)
            #expect(!worker.log.contains("task started"), "no debug lines before the reload")

            try writeConfig(
                "WORKER_CONCURRENCY=3\nWORKER_QUEUES=default,extra\nLOG_LEVEL=debug\nWORKER_LEASE_SECONDS=3\n"
            )
            let before = monotonicMicroseconds()
            worker.send(SIGHUP)
            let reloading = try #require(await listener.first(after: ready) { $0.has("RELOADING") }, "\(worker.log)")
            let after = monotonicMicroseconds()
            let stamp = try #require(reloading["MONOTONIC_USEC"].flatMap(UInt64.init), "\(reloading)")
            #expect(stamp >= before && stamp <= after, "MONOTONIC_USEC=\(stamp) is not CLOCK_MONOTONIC now")
            let reloaded = try #require(await listener.first(after: reloading) { $0.has("READY") }, "\(worker.log)")
            #expect(reloaded["STATUS"]?.contains("/3 busy") == true, "\(reloaded)")

            // Queues: the task of the added queue is claimed and done. Concurrency: three run at once.
            #expect(
                try await eventually { try await fixture.pool.run(FetchTask(id: extra))?.state == .succeeded },
                "\(worker.log)")
            #expect(try await eventually { try await runningCount() == 3 }, "\(worker.log)")
            // Log level: debug lines appear, for the tasks started after the reload.
            #expect(worker.log.contains("level=debug"), "\(worker.log)")
            #expect(worker.log.contains(#"msg="task started""#) && worker.log.contains("task.id=\(extra)"))
            // A setting the reload cannot apply is named as needing a restart.
            let restartNotice = worker.log.split(separator: "\n").first { $0.contains("only after a restart") }
            #expect(restartNotice?.contains("WORKER_LEASE_SECONDS") == true, "\(worker.log)")

            // An invalid file is refused as a whole: RELOADING=1, then READY=1 with the running settings kept.
            try writeConfig("WORKER_CONCURRENCY=lots\nWORKER_QUEUES=default\n")
            worker.send(SIGHUP)
            let refused = try #require(await listener.first(after: reloaded) { $0.has("RELOADING") }, "\(worker.log)")
            let kept = try #require(await listener.first(after: refused) { $0.has("READY") }, "\(worker.log)")
            #expect(kept["STATUS"]?.contains("/3 busy") == true, "\(kept)")
            #expect(
                await eventually { worker.log.contains("reload failed") && worker.log.contains("WORKER_CONCURRENCY") })

            worker.send(SIGTERM)
            #expect(await worker.waitForExit() == 0, "\(worker.log)")
            for task in slow { #expect(try await fixture.pool.run(FetchTask(id: task.id))?.state == .succeeded) }
        }
    }
}

@Suite("the settings file")
struct SettingsFileTests {
    @Test("--config=-FILE skips a missing file; --config FILE requires it; the file overrides the environment")
    func optionalSettingsFile() async throws {
        let environment = ["DATABASE_URL": "postgresql://u:topsecret@127.0.0.1/db", "WORKER_CONCURRENCY": "7"]
        let missing = "/nonexistent/agentqueue/worker.conf"
        let optional = try await TestProcesses.run(
            "queue-worker", ["--check-config", "--config=-\(missing)"], environment: environment)
        #expect(optional.status == 0, "\(optional.standardError)")
        #expect(optional.standardOutput.contains("WORKER_CONCURRENCY=7"))
        #expect(optional.standardOutput.contains("\(missing) does not exist"))

        let required = try await TestProcesses.run(
            "queue-worker", ["--check-config", "--config", missing], environment: environment)
        #expect(required.status == 78)
        #expect(required.standardError.contains("--config") && required.standardError.contains(missing))

        let file = NSTemporaryDirectory() + "aq-settings-\(UUID().uuidString.prefix(8)).conf"
        try "# tunables\nWORKER_CONCURRENCY=3\nLOG_LEVEL=debug\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let present = try await TestProcesses.run(
            "queue-worker", ["--check-config", "--config=-\(file)"], environment: environment)
        #expect(present.status == 0, "\(present.standardError)")
        #expect(present.standardOutput.contains("WORKER_CONCURRENCY=3"))
        #expect(present.standardOutput.contains("LOG_LEVEL=debug"))
        #expect(present.standardOutput.contains("# settings file: \(file)"))
        #expect(!present.standardOutput.contains("topsecret"))
    }

    @Test(
        "the claim loop's backoff while the database is down stays within the watchdog's claim-loop tolerance",
        arguments: [Duration.milliseconds(10), .milliseconds(200), .seconds(1), .seconds(5), .seconds(60)]
    )
    func failureBackoffStaysWithinTolerance(pollInterval: Duration) {
        // Otherwise a long outage would make a healthy loop look wedged: the watchdog would stop being petted
        // before WORKER_DB_TOLERANCE_SECONDS, and stay so for a while after the database is back.
        let tolerance = SystemdService.claimLoopTolerance(pollInterval: pollInterval)
        for failures in 1...40 {
            for _ in 0..<20 {
                #expect(WorkerService.failureBackoff(failures, pollInterval: pollInterval) < tolerance)
            }
        }
    }

    @Test("a reload names every changed setting it cannot apply, secrets included but not shown")
    func settingsNeedingRestart() throws {
        let base = ["DATABASE_URL": "postgresql://u:one@127.0.0.1/db", "WORKER_CONCURRENCY": "2"]
        let running = try WorkerConfiguration(settings: base, instance: "1")
        var settings = base
        settings["WORKER_CONCURRENCY"] = "9"
        settings["WORKER_QUEUES"] = "default,extra"
        settings["LOG_LEVEL"] = "debug"
        #expect(
            try WorkerConfiguration(settings: settings, instance: "1").settingsNeedingRestart(comparedWith: running)
                == [])
        settings["DATABASE_URL"] = "postgresql://u:two@127.0.0.1/db"
        settings["WORKER_POLL_INTERVAL_MS"] = "300"
        settings["GITHUB_TOKEN"] = "ghp_example"
        let next = try WorkerConfiguration(settings: settings, instance: "1")
        #expect(
            next.settingsNeedingRestart(comparedWith: running) == [
                "DATABASE_URL", "GITHUB_TOKEN", "WORKER_POLL_INTERVAL_MS",
            ])
    }
}
