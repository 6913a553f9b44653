/// Decides whether the worker is healthy enough to pet systemd's watchdog (`WATCHDOG=1`).
///
/// Pure logic: the caller records when the claim loop last made a pass and when the database last
/// answered, then asks ``check(now:lastClaimTick:lastDatabaseSuccess:)`` before every pet. A claim
/// loop "tick" is any completed pass, including one that found no free runner or no ready task,
/// so a busy but healthy worker keeps ticking.
public struct Watchdog: Sendable, Equatable {
    /// How long the claim loop may go without a tick before the worker counts as wedged.
    public var claimLoopTolerance: Duration
    /// How long the database may stay unreachable before petting stops.
    public var databaseTolerance: Duration

    /// Creates a policy with the given tolerances.
    public init(claimLoopTolerance: Duration, databaseTolerance: Duration) {
        self.claimLoopTolerance = claimLoopTolerance
        self.databaseTolerance = databaseTolerance
    }

    /// The cadence to pet at for systemd's interval: half of it, as `sd_watchdog_enabled(3)` advises.
    public static func petInterval(for watchdogInterval: Duration) -> Duration {
        watchdogInterval / 2
    }

    /// Whether to pet now, or why not.
    ///
    /// The database is checked first: when it is gone, a stalled claim loop is only a symptom.
    /// - Parameters:
    ///   - now: the current instant of the same clock as the two timestamps.
    ///   - lastClaimTick: when the claim loop last completed a pass, `nil` before the first one.
    ///   - lastDatabaseSuccess: when a database call last succeeded, `nil` before the first one.
    ///   - readOnlySince: since when the database refuses every write as read-only (after a failover the worker's
    ///     connections may be to a standby or a demoted primary), `nil` when it accepts writes. While that lasts the
    ///     worker is unhealthy at once: its queue has stalled, however well the database answers reads.
    public func check<Instant: InstantProtocol>(
        now: Instant,
        lastClaimTick: Instant?,
        lastDatabaseSuccess: Instant?,
        readOnlySince: Instant? = nil
    ) -> Health where Instant.Duration == Duration {
        if let readOnlySince { return .databaseReadOnly(for: Self.elapsed(from: readOnlySince, to: now)) }
        guard let lastDatabaseSuccess else { return .databaseNeverReached }
        let databaseSilence = Self.elapsed(from: lastDatabaseSuccess, to: now)
        if databaseSilence > databaseTolerance { return .databaseUnreachable(for: databaseSilence) }

        guard let lastClaimTick else { return .claimLoopNotStarted }
        let claimSilence = Self.elapsed(from: lastClaimTick, to: now)
        if claimSilence > claimLoopTolerance { return .claimLoopStalled(for: claimSilence) }
        return .healthy
    }

    /// Time from `start` to `end`, never negative.
    private static func elapsed<Instant: InstantProtocol>(
        from start: Instant,
        to end: Instant
    ) -> Duration where Instant.Duration == Duration {
        max(start.duration(to: end), .zero)
    }

    /// The outcome of a ``Watchdog/check(now:lastClaimTick:lastDatabaseSuccess:)``.
    public enum Health: Sendable, Hashable, CustomStringConvertible {
        /// Pet the watchdog.
        case healthy
        /// The database has not answered since the worker started.
        case databaseNeverReached
        /// The database has not answered for longer than the tolerance.
        case databaseUnreachable(for: Duration)
        /// The database refuses writes (SQLSTATE 25006) and has for this long; the worker is reconnecting.
        case databaseReadOnly(for: Duration)
        /// The claim loop has not completed its first pass.
        case claimLoopNotStarted
        /// The claim loop has not completed a pass for longer than the tolerance.
        case claimLoopStalled(for: Duration)

        /// Whether the watchdog may be petted.
        public var isHealthy: Bool { self == .healthy }

        /// A short reason, fit for `STATUS=` and a log message.
        public var description: String {
            switch self {
            case .healthy:
                "healthy"
            case .databaseNeverReached:
                "database not reached yet"
            case .databaseUnreachable(let duration):
                "database unreachable for \(Self.seconds(duration))"
            case .databaseReadOnly(let duration):
                "database read-only for \(Self.seconds(duration)) (a standby or a demoted primary?), reconnecting"
            case .claimLoopNotStarted:
                "claim loop not started"
            case .claimLoopStalled(let duration):
                "claim loop stalled for \(Self.seconds(duration))"
            }
        }

        /// `duration` as seconds with one decimal, e.g. `"12.5s"`.
        static func seconds(_ duration: Duration) -> String {
            let (seconds, attoseconds) = duration.components
            let tenths = attoseconds / 100_000_000_000_000_000
            return "\(seconds).\(tenths)s"
        }
    }
}
