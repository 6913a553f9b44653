import Dispatch
import Synchronization
import Testing

@testable import ReviewAgents

/// One new file whose single hunk adds `lines` lines, as bytes.
func oneHunkDiff(lines: Int, path: String = "a.py") -> [UInt8] {
    var bytes = Array("diff --git a/\(path) b/\(path)\n--- a/\(path)\n+++ b/\(path)\n@@ -0,0 +1,\(lines) @@\n".utf8)
    bytes.reserveCapacity(bytes.count + lines * 24)
    for index in 0..<lines { bytes += "+v_\(index) = f(\(index))\n".utf8 }
    return bytes
}

/// Seconds of a duration.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// These tests compare times with each other, never with a fixed budget, so a slow or busy machine cannot fail them.
@Suite("Diff parser cost")
struct DiffParserScalingTests {
    @Test("parsing is linear in the lines of one hunk: time per line at 200,000 lines is close to that at 20,000")
    func linearInHunkLines() throws {
        let small = oneHunkDiff(lines: 20_000)
        let large = oneHunkDiff(lines: 200_000)
        let clock = ContinuousClock()
        var smallBest = Double.infinity
        var largeBest = Double.infinity
        // The best of interleaved runs filters out pauses caused by other work on the machine.
        for _ in 0..<3 {
            smallBest = min(smallBest, seconds(try clock.measure { _ = try DiffParser.parse(bytes: small) }))
            largeBest = min(largeBest, seconds(try clock.measure { _ = try DiffParser.parse(bytes: large) }))
        }
        // Linear parsing gives a ratio near 1; the quadratic parser this replaces gave about 10.
        let ratio = (largeBest / 200_000) / (smallBest / 20_000)
        #expect(ratio < 4, "time per line grew \(ratio) times from 20,000 to 200,000 lines")
    }

    @Test("the line limit stops the parse with a clear message")
    func lineLimit() throws {
        let bytes = oneHunkDiff(lines: 100)
        // 4 header lines and 100 hunk lines.
        #expect(try DiffParser.parse(bytes: bytes, limits: DiffLimits(maxLines: 104)).additions == 100)
        #expect {
            _ = try DiffParser.parse(bytes: bytes, limits: DiffLimits(maxLines: 103))
        } throws: { error in
            guard let error = error as? DiffParseError else { return false }
            return error.code == .tooManyLines && error.line == nil
                && error.description == "invalid diff: the diff has more than 103 lines, the limit"
        }
    }

    @Test("the file and byte limits name the limit in their message")
    func fileAndByteLimits() {
        var builder = DiffBuilder()
        for index in 0..<3 { builder.newFile("f\(index).txt", ["x"]) }
        let text = builder.text
        #expect {
            _ = try DiffParser.parse(text, limits: DiffLimits(maxFiles: 2))
        } throws: { error in
            (error as? DiffParseError)?.description == "invalid diff: the diff touches more than 2 files, the limit"
        }
        #expect {
            _ = try DiffParser.parse(text, limits: DiffLimits(maxBytes: 10))
        } throws: { error in
            (error as? DiffParseError)?.description
                == "invalid diff: the diff is \(text.utf8.count) bytes, over the limit of 10 bytes"
        }
    }
}

/// Cancellation must reach into synchronous work: a cancelled parse or review of a huge hunk stops at once.
@Suite("Cancellation of long work")
struct CancellationTests {
    /// Runs `work` in a task and cancels it a tenth of `full` seconds after it started; returns whether it threw
    /// `CancellationError` and how many seconds after the cancellation it ended.
    ///
    /// The cancelling side waits on a Dispatch thread, not in a task: synchronous work occupies a thread of the
    /// small cooperative pool, and a canceller in the same pool might only run once that work is over.
    func cancelMidway<T: Sendable>(
        full: Double, _ work: @escaping @Sendable () async throws -> T
    ) async -> (cancelled: Bool, secondsAfterCancel: Double) {
        let clock = ContinuousClock()
        let started = DispatchSemaphore(value: 0)
        let cancelledAt = Mutex<ContinuousClock.Instant?>(nil)
        let task = Task.detached {
            started.signal()
            let result: Result<T, any Error>
            do {
                result = .success(try await work())
            } catch {
                result = .failure(error)
            }
            return (result, clock.now)
        }
        DispatchQueue.global().async {
            started.wait()
            DispatchQueue.global().asyncAfter(deadline: .now() + full / 10) {
                cancelledAt.withLock { $0 = clock.now }
                task.cancel()
            }
        }
        let (result, endedAt) = await task.value
        var cancelled = false
        if case .failure(let error) = result { cancelled = error is CancellationError }
        let after = cancelledAt.withLock { $0 }.map { seconds(endedAt - $0) } ?? 0
        return (cancelled, after)
    }

    @Test("a cancelled parse of a huge hunk ends long before a full parse would")
    func parse() async throws {
        let bytes = oneHunkDiff(lines: 400_000)
        let full = seconds(try ContinuousClock().measure { _ = try DiffParser.parseCheckingCancellation(bytes: bytes) })
        let (cancelled, after) = await cancelMidway(full: full) {
            try DiffParser.parseCheckingCancellation(bytes: bytes)
        }
        #expect(cancelled, "the parse ended without CancellationError")
        #expect(after < full / 4, "stopped \(after) s after the cancellation; a full parse takes \(full) s")
    }

    @Test("the typed parse and an uncancelled task parse to the end")
    func uncancelled() async throws {
        let bytes = oneHunkDiff(lines: 10_000)
        let typed = try DiffParser.parse(bytes: bytes)
        let checked = try await Task { try DiffParser.parseCheckingCancellation(bytes: bytes) }.value
        #expect(typed == checked)
        #expect(typed.additions == 10_000)
    }

    @Test("a parse in an already cancelled task throws CancellationError")
    func alreadyCancelled() async {
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try DiffParser.parseCheckingCancellation("").files.count
        }
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test("a cancelled review of one huge hunk ends long before the full review would")
    func review() async throws {
        let input = ReviewInput(diff: try DiffParser.parse(bytes: oneHunkDiff(lines: 20_000)))
        let agent = ReviewAgents.agent(.security)
        let full = seconds(try await ContinuousClock().measure { _ = try await agent.review(input) })
        let (cancelled, after) = await cancelMidway(full: full) { try await agent.review(input).count }
        #expect(cancelled, "the review ended without CancellationError")
        #expect(after < full / 4, "stopped \(after) s after the cancellation; a full review takes \(full) s")
    }
}
