import Testing

@testable import Systemd

@Suite("Watchdog")
struct WatchdogTests {
    let policy = Watchdog(claimLoopTolerance: .seconds(10), databaseTolerance: .seconds(30))
    let start = ContinuousClock.now

    @Test("pets while the claim loop ticks and the database answers")
    func healthy() {
        let now = start + .seconds(100)
        let health = policy.check(now: now, lastClaimTick: now - .seconds(2), lastDatabaseSuccess: now - .seconds(5))
        #expect(health == .healthy)
        #expect(health.isHealthy)
    }

    @Test("tolerances are inclusive")
    func boundaries() {
        let now = start + .seconds(100)
        #expect(
            policy.check(now: now, lastClaimTick: now - .seconds(10), lastDatabaseSuccess: now - .seconds(30))
                == .healthy
        )
        #expect(
            policy.check(now: now, lastClaimTick: now - .milliseconds(10_001), lastDatabaseSuccess: now)
                == .claimLoopStalled(for: .milliseconds(10_001))
        )
    }

    @Test("stops petting when the database is gone beyond the tolerance, and says so")
    func databaseOutage() {
        let now = start + .seconds(100)
        let health = policy.check(now: now, lastClaimTick: now - .seconds(1), lastDatabaseSuccess: now - .seconds(45))
        #expect(health == .databaseUnreachable(for: .seconds(45)))
        #expect(!health.isHealthy)
        #expect(health.description == "database unreachable for 45.0s")
    }

    @Test("a database outage is reported before the stalled claim loop it causes")
    func databaseFirst() {
        let now = start + .seconds(100)
        let health = policy.check(now: now, lastClaimTick: now - .seconds(60), lastDatabaseSuccess: now - .seconds(60))
        #expect(health == .databaseUnreachable(for: .seconds(60)))
    }

    @Test("a wedged claim loop stops the petting")
    func stalledClaimLoop() {
        let now = start + .seconds(100)
        let health = policy.check(now: now, lastClaimTick: now - .milliseconds(12_500), lastDatabaseSuccess: now)
        #expect(health == .claimLoopStalled(for: .milliseconds(12_500)))
        #expect(health.description == "claim loop stalled for 12.5s")
    }

    @Test("nothing is healthy before the first database answer and the first claim pass")
    func notStarted() {
        let now = start + .seconds(1)
        #expect(policy.check(now: now, lastClaimTick: nil, lastDatabaseSuccess: nil) == .databaseNeverReached)
        #expect(policy.check(now: now, lastClaimTick: nil, lastDatabaseSuccess: now) == .claimLoopNotStarted)
        #expect(policy.check(now: now, lastClaimTick: now, lastDatabaseSuccess: nil) == .databaseNeverReached)
    }

    @Test("timestamps from the future count as now")
    func futureTimestamps() {
        let now = start + .seconds(1)
        let later = now + .seconds(5)
        #expect(policy.check(now: now, lastClaimTick: later, lastDatabaseSuccess: later) == .healthy)
    }

    @Test("works with any clock whose durations are Duration")
    func suspendingClock() {
        let now = SuspendingClock.now
        let health = policy.check(now: now, lastClaimTick: now - .seconds(11), lastDatabaseSuccess: now)
        #expect(health == .claimLoopStalled(for: .seconds(11)))
    }

    @Test("pets at half of systemd's interval")
    func petInterval() {
        #expect(Watchdog.petInterval(for: .seconds(30)) == .seconds(15))
        #expect(Watchdog.petInterval(for: .milliseconds(400)) == .milliseconds(200))
    }
}
