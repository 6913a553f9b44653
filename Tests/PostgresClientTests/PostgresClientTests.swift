import FoundationEssentials
import Logging
import PostgresClient
import TestSupport
import Testing

@Suite("PostgreSQL round trips")
struct RoundTripTests {
    @Test("every supported type survives a round trip through bind parameters")
    func everyType() async throws {
        let connection = try await TestDatabase.connect()
        defer { Task { await connection.close() } }
        let uuid = UUID()
        let date = Date(timeIntervalSince1970: 1_795_307_099.123456)
        let injection = "'); DROP TABLE x; --"
        let unicode = "Grüße, 世界 — 🚀 \u{200B}end"
        let rows = try await connection.query(
            """
            SELECT \(injection)::text AS injection, \(unicode)::text AS unicode, \(Int16(-12))::int2 AS small,
                   \(Int32(2_000_000_000))::int4 AS medium, \(Int64.max)::int8 AS big, \(true)::bool AS yes,
                   \(false)::bool AS no, \(3.141592653589793)::float8 AS pi, \(uuid)::uuid AS id,
                   \(date)::timestamptz AS at, \(["a", "b \"c\"", "d\\e", ""])::text[] AS words,
                   \([Int64(1), 2, 3])::int8[] AS numbers, \(PostgresJSON(text: #"{"k": [1, "two"]}"#))::jsonb AS doc,
                   \(PostgresBytes([0, 1, 254, 255]))::bytea AS raw, 12345.678::numeric AS decimal,
                   \(Duration.milliseconds(1500))::interval AS span, now() AS server_now
            """
        )
        let row = try #require(rows.single)
        #expect(try row.decode(String.self, "injection") == injection)
        #expect(try row.decode(String.self, "unicode") == unicode)
        #expect(try row.decode(Int16.self, "small") == -12)
        #expect(try row.decode(Int32.self, "medium") == 2_000_000_000)
        #expect(try row.decode(Int64.self, "big") == Int64.max)
        #expect(try row.decode(Bool.self, "yes"))
        #expect(try !row.decode(Bool.self, "no"))
        #expect(try row.decode(Double.self, "pi") == 3.141592653589793)
        #expect(try row.decode(UUID.self, "id") == uuid)
        let decodedDate = try row.decode(Date.self, "at")
        #expect(abs(decodedDate.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000_001)
        #expect(try row.decode([String].self, "words") == ["a", "b \"c\"", "d\\e", ""])
        #expect(try row.decode([Int64].self, "numbers") == [1, 2, 3])
        let document = try row.decode(PostgresJSON.self, "doc")
        #expect(document.text == #"{"k": [1, "two"]}"#)
        #expect(try row.decode(PostgresBytes.self, "raw") == PostgresBytes([0, 1, 254, 255]))
        #expect(try row.decode(String.self, "decimal") == "12345.678")
        #expect(try row.decode(Double.self, "decimal") == 12345.678)
        #expect(try row.decode(Duration.self, "span") == .milliseconds(1500))
        #expect(abs(try row.decode(Date.self, "server_now").timeIntervalSinceNow) < 60)
    }

    @Test("NULLs decode as nil into optionals and fail clearly into non-optionals")
    func nulls() async throws {
        let connection = try await TestDatabase.connect()
        defer { Task { await connection.close() } }
        let missing: String? = nil
        let row = try #require(
            try await connection.query("SELECT \(missing)::text AS nothing, NULL::int8 AS no_number, 1 AS one").single
        )
        #expect(try row.decode(String?.self, "nothing") == nil)
        #expect(try row.decode(Int?.self, "no_number") == nil)
        #expect(try row.decode(Int?.self, "one") == 1)
        let error = #expect(throws: PostgresError.self) { try row.decode(Int.self, "no_number") }
        #expect(error?.description.contains("no_number") == true)
        #expect(error?.description.contains("NULL") == true)
    }

    @Test("a type mismatch names the column and both types")
    func typeMismatch() async throws {
        let connection = try await TestDatabase.connect()
        defer { Task { await connection.close() } }
        let row = try #require(try await connection.query("SELECT 'abc'::text AS word, 1.5::float8 AS ratio").single)
        let error = #expect(throws: PostgresError.self) { try row.decode(Int.self, "word") }
        #expect(error?.description.contains("\"word\"") == true)
        #expect(error?.description.contains("text") == true)
        #expect(throws: PostgresError.self) { try row.decode(Bool.self, "ratio") }
        #expect(throws: PostgresError.self) { try row.decode(String.self, "no_such_column") }
    }

    @Test("a 1 MB text round-trips unchanged")
    func largeText() async throws {
        let connection = try await TestDatabase.connect()
        defer { Task { await connection.close() } }
        let text = String(repeating: "0123456789abcdé\n", count: 1_048_576 / 16)
        let row = try #require(try await connection.query("SELECT \(text)::text AS big, length(\(text)) AS n").single)
        #expect(try row.decode(String.self, "big") == text)
        #expect(try row.decode(Int.self, "n") == text.count)
    }

    @Test("a parameter with a NUL character is refused before it is sent")
    func nulCharacter() async throws {
        let connection = try await TestDatabase.connect()
        defer { Task { await connection.close() } }
        await #expect(throws: PostgresError.self) {
            try await connection.query("SELECT \("a\u{0}b")::text")
        }
        // The connection is still usable afterwards.
        #expect(try await connection.query("SELECT 1 AS one").single?.decode(Int.self, "one") == 1)
    }

    @Test("server errors carry SQLSTATE, message and detail; unique violations are recognised")
    func serverErrors() async throws {
        try await TestDatabase.withSchema { schema in
            let connection = try await schema.connect()
            defer { Task { await connection.close() } }
            try await connection.simpleQuery("CREATE TABLE items (id int PRIMARY KEY)")
            try await connection.execute("INSERT INTO items VALUES (\(1))")
            let error = await #expect(throws: PostgresError.self) {
                try await connection.execute("INSERT INTO items VALUES (\(1))")
            }
            #expect(error?.sqlState == "23505")
            #expect(error?.isUniqueViolation == true)
            #expect(error?.isTransient == false)
            #expect(error?.constraint == "items_pkey")
            #expect(error?.detail?.contains("already exists") == true)
            // The value lives in the detail, which is not part of the printable description.
            #expect(error?.description.contains("(id)=(1)") == false)
            let syntax = await #expect(throws: PostgresError.self) { try await connection.query("SELEC 1") }
            #expect(syntax?.sqlState == "42601")
        }
    }

    @Test("prepared statements are reused and give the same results")
    func preparedStatements() async throws {
        let connection = try await TestDatabase.connect()
        defer { Task { await connection.close() } }
        for value in 0..<20 {
            let query = PostgresQuery("SELECT \(value)::int8 * 2 AS doubled").preparedStatement()
            #expect(try await connection.query(query).single?.decode(Int.self, "doubled") == value * 2)
        }
    }
}

@Suite("transactions")
struct TransactionTests {
    @Test("a failing statement inside a transaction rolls the whole transaction back")
    func rollbackOnError() async throws {
        try await TestDatabase.withSchema { schema in
            let connection = try await schema.connect()
            defer { Task { await connection.close() } }
            try await connection.simpleQuery("CREATE TABLE ledger (id int PRIMARY KEY, note text)")
            await #expect(throws: PostgresError.self) {
                try await connection.withTransaction { transaction in
                    try await transaction.execute("INSERT INTO ledger VALUES (\(1), \("first"))")
                    try await transaction.execute("INSERT INTO ledger VALUES (\(1), \("duplicate"))")
                }
            }
            let count = try await connection.query("SELECT count(*) AS n FROM ledger").single?.decode(Int.self, "n")
            #expect(count == 0)
            // A thrown Swift error rolls back too, and the connection stays usable.
            struct Abort: Error {}
            await #expect(throws: Abort.self) {
                try await connection.withTransaction { transaction in
                    try await transaction.execute("INSERT INTO ledger VALUES (\(2), \("second"))")
                    throw Abort()
                }
            }
            try await connection.withTransaction { transaction in
                try await transaction.execute("INSERT INTO ledger VALUES (\(3), \("third"))")
            }
            let ids = try await connection.query("SELECT array_agg(id) AS ids FROM ledger").single?.decode(
                [Int].self, "ids")
            #expect(ids == [3])
        }
    }
}

@Suite("connection pool")
struct PoolTests {
    @Test("50 concurrent tasks share a pool of 4 and all succeed")
    func concurrentTasks() async throws {
        let pool = PostgresConnectionPool(
            connection: try TestDatabase.configuration(), pool: .init(maximumConnections: 4),
            logger: TestDatabase.logger
        )
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await pool.withConnection { connection in
                        try await connection.query("SELECT \(index)::int AS value, pg_sleep(0.01)").single!
                            .decode(Int.self, "value")
                    }
                }
            }
            var values: [Int] = []
            for try await value in group { values.append(value) }
            return values
        }
        #expect(results.sorted() == Array(0..<50))
        #expect(pool.openConnections <= 4)
        await pool.close()
    }

    @Test("after pg_terminate_backend of its connections the pool recovers with at most one transient error")
    func recoversFromTerminatedBackends() async throws {
        let pool = PostgresConnectionPool(
            connection: try TestDatabase.configuration(applicationName: "pool-recovery-test"),
            pool: .init(maximumConnections: 4), logger: TestDatabase.logger
        )
        // Open all four connections.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { try await pool.query("SELECT pg_sleep(0.05)") }
            }
            try await group.waitForAll()
        }
        #expect(pool.openConnections == 4)
        let admin = try await TestDatabase.connect()
        let terminated = try await admin.query(
            """
            SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
            WHERE application_name = 'pool-recovery-test' AND pid <> pg_backend_pid()
            """
        ).single?.decode(Int.self, "n")
        #expect(terminated == 4)
        await admin.close()
        try await Task.sleep(for: .milliseconds(100))
        var transientErrors = 0
        for index in 0..<20 {
            do {
                let value = try await pool.query("SELECT \(index)::int AS v").single?.decode(Int.self, "v")
                #expect(value == index)
            } catch let error as PostgresError {
                #expect(error.isTransient)
                transientErrors += 1
            }
        }
        #expect(transientErrors <= 1)
        await pool.close()
    }

    @Test("waiting longer than the acquire timeout fails with a transient pool timeout")
    func acquireTimeout() async throws {
        let pool = PostgresConnectionPool(
            connection: try TestDatabase.configuration(),
            pool: .init(maximumConnections: 1, acquireTimeout: .milliseconds(200)), logger: TestDatabase.logger
        )
        async let holder: Void = pool.withConnection { connection in
            try await connection.query("SELECT pg_sleep(1)")
        }
        try await Task.sleep(for: .milliseconds(100))
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error?.isTransient == true)
        // Fails after about the acquire timeout, not after the holder's full second (generous for loaded machines).
        #expect(start.duration(to: clock.now) < .seconds(5))
        try await holder
        #expect(try await pool.query("SELECT 1 AS one").single?.decode(Int.self, "one") == 1)
        await pool.close()
    }
}

@Suite("cancellation")
struct CancellationTests {
    @Test("cancelling the awaiting task cancels the statement on the server")
    func cancelRunningStatement() async throws {
        let connection = try await TestDatabase.connect()
        defer { Task { await connection.close() } }
        let clock = ContinuousClock()
        let start = clock.now
        let task = Task { try await connection.query("SELECT pg_sleep(30)") }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(start.duration(to: clock.now) < .seconds(5))
        // The connection is idle again and usable.
        #expect(try await connection.query("SELECT 2 AS two").single?.decode(Int.self, "two") == 2)
    }
}

@Suite("LISTEN/NOTIFY")
struct ListenTests {
    @Test("a NOTIFY reaches a listener within 100 ms")
    func notificationLatency() async throws {
        let channel = "test_channel_\(UInt32.random(in: 0...UInt32.max))"
        let listener = try await PostgresListener.connect(
            configuration: try TestDatabase.configuration(), channels: [channel], logger: TestDatabase.logger
        )
        let sender = try await TestDatabase.connect()
        let clock = ContinuousClock()
        var latencies: [Duration] = []
        var iterator = listener.notifications.makeAsyncIterator()
        for index in 0..<5 {
            let start = clock.now
            try await sender.query("SELECT pg_notify(\(channel), \("payload \(index)"))")
            let notification = try await iterator.next()
            // From before the send to the moment the listener's thread read it off the socket: the delivery path,
            // without the time this test's task waits for a thread of a busy cooperative pool.
            latencies.append(start.duration(to: notification?.receivedAt ?? clock.now))
            #expect(notification?.channel == channel)
            #expect(notification?.payload == "payload \(index)")
        }
        // Typical latency within 100 ms; under a fully loaded test run a single outlier may be slower, never lost.
        let median = latencies.sorted()[latencies.count / 2]
        #expect(median < .milliseconds(100), "latencies: \(latencies)")
        #expect(latencies.allSatisfy { $0 < .seconds(2) }, "latencies: \(latencies)")
        listener.close()
        await sender.close()
    }

    @Test("the notification stream ends with an error when the listener's connection is terminated")
    func listenerConnectionLoss() async throws {
        let listener = try await PostgresListener.connect(
            configuration: try TestDatabase.configuration(applicationName: "listener-loss-test"),
            channels: ["loss_test"], logger: TestDatabase.logger
        )
        let admin = try await TestDatabase.connect()
        try await admin.query(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = 'listener-loss-test' AND pid <> pg_backend_pid()
            """
        )
        await admin.close()
        await #expect(throws: (any Error).self) {
            for try await _ in listener.notifications {}
        }
    }
}

@Suite("configuration")
struct ConfigurationTests {
    @Test(
        "malformed connection strings give one clear line without the password",
        arguments: [
            "postgresql://user:s3cretpw@host:notaport/db",
            "mysql://user:s3cretpw@host/db",
            "host=localhost password=s3cretpw port=",
            "postgresql://user:s3cretpw@host/db?sslmode=sometimes&password=s3cretpw",
            "   ",
        ]
    )
    func malformed(url: String) throws {
        do {
            let configuration = try PostgresConfiguration(connectionString: url)
            // Some strings only fail when connecting; they must still never print the password.
            #expect(!configuration.redactedDescription.contains("s3cretpw"))
        } catch {
            #expect(!error.description.contains("s3cretpw"), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("an unreachable server gives a connection error that is transient and masks the password")
    func unreachable() async throws {
        let configuration = try PostgresConfiguration(
            connectionString: "postgresql://agent:s3cretpw@127.0.0.1:1/db", connectTimeoutSeconds: 2
        )
        #expect(configuration.redactedDescription == "postgresql://agent@127.0.0.1:1/db")
        let error = await #expect(throws: PostgresError.self) {
            try await PostgresConnection.connect(configuration: configuration, logger: TestDatabase.logger)
        }
        #expect(error?.isTransient == true)
        #expect(error?.description.contains("s3cretpw") == false)
        #expect(error?.description.contains("127.0.0.1") == true)
    }

    @Test("redaction masks passwords in URLs embedded in any message")
    func redaction() throws {
        let configuration = try PostgresConfiguration(connectionString: "postgres://u:p%40ss@db.example/x")
        #expect(
            configuration.redact("failed for postgres://u:p%40ss@db.example/x and p@ss")
                == "failed for postgres://u:***@db.example/x and ***")
    }

    @Test(
        "transient errors are classified by SQLSTATE",
        arguments: [
            ("08006", true), ("08001", true), ("57P01", true), ("57P02", true), ("57P03", true), ("40001", true),
            ("40P01", true), ("53300", true), ("23505", false), ("42601", false), ("22023", false), ("57014", false),
        ]
    )
    func transientClassification(sqlState: String, transient: Bool) async throws {
        let connection = try await TestDatabase.connect()
        defer { Task { await connection.close() } }
        let error = await #expect(throws: PostgresError.self) {
            try await connection.simpleQuery("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '\(sqlState)'; END $$")
        }
        #expect(error?.sqlState == sqlState)
        #expect(error?.isTransient == transient)
    }
}
