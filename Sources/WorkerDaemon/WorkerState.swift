import PostgresClient
import Synchronization
import TaskQueue

/// The state the worker's services share: the running attempts, counters, health times and reloadable settings.
public final class WorkerState: Sendable {
    struct Running {
        let lease: Lease
        let kind: String
        let control: TaskControl
        var cancelWork: (@Sendable () -> Void)?
        /// The work is over and its outcome is being written: the completion itself ends the lease.
        var finishing = false
        /// The work succeeded and its completion waits for the batch completer: the slot is free again, while the
        /// lease stays held (and heart-beaten) until the completion is written.
        var completing = false
    }

    /// Runtime settings that a reload may change.
    public struct Settings: Sendable, Equatable {
        /// Tasks run at once.
        public var concurrency: Int
        /// Queues claimed from.
        public var queues: [String]
    }

    struct Inner {
        /// The attempts this worker runs, by lease: an attempt that lost its lease may still be winding down while the
        /// same task runs again here under a new lease.
        var running: [Lease: Running] = [:]
        /// Attempts in `running` whose completion is being written (they no longer take a slot).
        var completing = 0
        var settings: Settings
        var done = 0
        var failed = 0
        var lastClaimTick: ContinuousClock.Instant?
        var lastDatabaseSuccess: ContinuousClock.Instant?
        var lastDatabaseError: String?
        /// Since when every write is refused as read-only (25006): cleared only by a write that succeeds.
        var readOnlySince: ContinuousClock.Instant?
        var pendingInQueues: Int?
        var draining = false
        var releasing = false
    }

    private let inner: Mutex<Inner>
    /// Wakes the claim loop (a notification arrived, a slot became free, shutdown began).
    public let wakeup = Wakeup()
    /// Opens once the database answers with the expected schema: the services that use it start then.
    let databaseReady = Latch()
    /// Opens once the claim loop has made its first pass: the worker is ready (READY=1).
    let claimLoopStarted = Latch()

    init(settings: Settings) {
        inner = Mutex(Inner(settings: settings))
    }

    // MARK: Settings

    /// The current runtime settings.
    public var settings: Settings { inner.withLock { $0.settings } }

    func update(settings: Settings) {
        inner.withLock { $0.settings = settings }
        wakeup.signal()
    }

    // MARK: Running attempts

    /// Free slots for new attempts.
    var freeSlots: Int {
        inner.withLock { max(0, $0.settings.concurrency - $0.running.count + $0.completing) }
    }

    /// Free slots, and attempts at work (those waiting only for their completion excluded).
    var slots: (free: Int, busy: Int) {
        inner.withLock { state in
            let busy = state.running.count - state.completing
            return (max(0, state.settings.concurrency - busy), busy)
        }
    }

    /// Attempts running now.
    public var runningCount: Int { inner.withLock { $0.running.count } }

    func register(_ task: ClaimedTask, control: TaskControl) {
        inner.withLock {
            $0.running[task.lease] = Running(lease: task.lease, kind: task.record.kind, control: control)
        }
    }

    func attach(_ lease: Lease, cancelWork: @escaping @Sendable () -> Void) {
        let cancelNow = inner.withLock { state -> Bool in
            state.running[lease]?.cancelWork = cancelWork
            guard let control = state.running[lease]?.control else { return false }
            return control.isLeaseLost || control.isCancelRequested || state.releasing
        }
        if cancelNow { cancelWork() }
    }

    /// The attempt's work is over; its outcome is about to be written.
    func beginFinishing(_ lease: Lease) {
        inner.withLock { $0.running[lease]?.finishing = true }
    }

    /// The attempt's work succeeded and only its completion remains to be written: its slot is free for the next
    /// task (the claim loop may claim while the completer writes), its lease is still held until ``finish``.
    func awaitCompletion(_ lease: Lease) {
        let freed = inner.withLock { state -> Bool in
            guard let running = state.running[lease], !running.completing else { return false }
            state.running[lease]?.completing = true
            state.completing += 1
            return true
        }
        if freed { wakeup.signal() }
    }

    func finish(_ lease: Lease, succeeded: Bool?) {
        inner.withLock { state in
            if state.running[lease]?.completing == true { state.completing -= 1 }
            state.running[lease] = nil
            switch succeeded {
            case true?: state.done += 1
            case false?: state.failed += 1
            case nil: break
            }
        }
        wakeup.signal()
    }

    /// The leases currently held, for the heartbeat.
    func heldLeases() -> [Lease] {
        inner.withLock { $0.running.values.map(\.lease) }
    }

    /// The heartbeat found the lease lost (or expired locally): flag it and cancel the attempt's work.
    ///
    /// - Returns: whether the attempt was still at work. One that is writing its outcome, or has written it, since
    ///   the heartbeat took its snapshot of held leases ended its lease itself: nothing was lost (and when the
    ///   lease really was lost, the fenced write says so).
    @discardableResult
    func leaseLost(_ lease: Lease) -> Bool {
        let (running, cancel) = inner.withLock { state -> (Bool, (@Sendable () -> Void)?) in
            guard let running = state.running[lease], !running.finishing else { return (false, nil) }
            running.control.markLeaseLost()
            return (true, running.cancelWork)
        }
        cancel?()
        return running
    }

    /// The heartbeat found cancellation requested: flag it and cancel the attempt's work, so that work that does not
    /// reach a node boundary soon (a long sleep, a model call) stops too.
    func cancelRequested(_ lease: Lease) {
        let cancel = inner.withLock { state -> (@Sendable () -> Void)? in
            guard let running = state.running[lease], !running.control.isCancelRequested, !running.finishing else {
                return nil
            }
            running.control.markCancelRequested()
            return running.cancelWork
        }
        cancel?()
    }

    // MARK: Health

    func claimLoopTicked() {
        inner.withLock { $0.lastClaimTick = .now }
        claimLoopStarted.open()
    }

    /// A write succeeded (a claim, a heartbeat, a completion): the database answers and accepts writes. Reads alone
    /// never count: a read-only standby answers them too.
    func databaseSucceeded() {
        inner.withLock {
            $0.lastDatabaseSuccess = .now
            $0.lastDatabaseError = nil
            $0.readOnlySince = nil
        }
    }

    /// A database call failed; `error` says why (already redacted).
    func databaseFailed(_ message: String, readOnly: Bool = false) {
        inner.withLock {
            $0.lastDatabaseError = message
            if readOnly, $0.readOnlySince == nil { $0.readOnlySince = .now }
        }
    }

    /// Records a failed database call from its error.
    func databaseFailed(_ error: any Error, redact: (String) -> String) {
        databaseFailed(redact("\(error)"), readOnly: (error as? PostgresError)?.isReadOnly == true)
    }

    func recordPending(_ count: Int?) {
        inner.withLock { $0.pendingInQueues = count }
    }

    /// A consistent snapshot for STATUS= and the watchdog.
    struct Snapshot {
        let running: Int
        let concurrency: Int
        let done: Int
        let failed: Int
        let pending: Int?
        let lastClaimTick: ContinuousClock.Instant?
        let lastDatabaseSuccess: ContinuousClock.Instant?
        let lastDatabaseError: String?
        let readOnlySince: ContinuousClock.Instant?
        let draining: Bool
    }

    func snapshot() -> Snapshot {
        inner.withLock {
            Snapshot(
                running: $0.running.count, concurrency: $0.settings.concurrency, done: $0.done, failed: $0.failed,
                pending: $0.pendingInQueues, lastClaimTick: $0.lastClaimTick,
                lastDatabaseSuccess: $0.lastDatabaseSuccess,
                lastDatabaseError: $0.lastDatabaseError, readOnlySince: $0.readOnlySince, draining: $0.draining
            )
        }
    }

    // MARK: Shutdown

    /// Stop claiming; running attempts may finish within the grace period.
    func startDraining() {
        inner.withLock { $0.draining = true }
        wakeup.signal()
    }

    /// Whether draining has begun.
    public var isDraining: Bool { inner.withLock { $0.draining } }

    /// Hand back every running attempt now (grace period over, or a second signal).
    func releaseNow() {
        let cancels = inner.withLock { state -> [@Sendable () -> Void] in
            state.draining = true
            state.releasing = true
            return state.running.values.compactMap(\.cancelWork)
        }
        for cancel in cancels { cancel() }
        wakeup.signal()
    }

    /// Whether running attempts are being handed back.
    var isReleasing: Bool { inner.withLock { $0.releasing } }
}

/// A level-triggered wake-up for one waiter: `signal()` makes the next (or current) `wait` return at once.
public final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Wakes the waiter (or the next one).
    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Waits until signalled or `timeout` passes.
    public func wait(timeout: Duration) async {
        let generation = state.withLock { state -> UInt64? in
            if state.pending {
                state.pending = false
                return nil
            }
            state.generation += 1
            return state.generation
        }
        guard let generation else { return }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.expire(generation: generation)
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.pending || state.generation != generation {
                    state.pending = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
        timer.cancel()
    }

    private func expire(generation: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.generation == generation else { return nil }
            state.generation += 1
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}

/// A one-way gate: ``wait()`` returns once ``open()`` was called (at once when it already was).
final class Latch: Sendable {
    private struct State {
        var isOpen = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// Whether it is open.
    var isOpen: Bool { state.withLock { $0.isOpen } }

    /// Opens the gate and lets every waiter through.
    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.isOpen else { return [] }
            state.isOpen = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until the gate opens or the calling task is cancelled; returns whether it is open.
    @discardableResult
    func wait() async -> Bool {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.isOpen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
        return isOpen
    }
}
