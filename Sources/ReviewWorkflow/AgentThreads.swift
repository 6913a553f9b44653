import Dispatch
import Foundation
import Synchronization

/// A fixed number of threads of their own for the CPU-heavy part of a review: parsing the diff and running the rule
/// agents.
///
/// That work is synchronous. On Swift's cooperative pool (one thread per core) two heavy reviews on a 2-core host
/// would occupy every thread, and the worker would stop answering signals, petting the watchdog and logging until they
/// finish. Here it runs on threads that only this executor uses, at most `count` at a time; the cooperative pool stays
/// free for everything else. The work checks for cancellation as it goes (`DiffParser`, the agents), so a node timeout,
/// a lost lease or a shutdown stops it within a fraction of a second.
public final class AgentThreads: TaskExecutor {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var head = 0
    }

    private let queue = Mutex(Queue())
    private let available = DispatchSemaphore(value: 0)
    /// How many threads run agent work.
    public let count: Int

    /// Starts `count` threads (at least one), each with an 8 MiB stack.
    public init(count: Int) {
        self.count = max(1, count)
        for index in 0..<self.count {
            let thread = Thread { self.serve() }  // the threads keep the executor for the life of the process
            thread.name = "agentqueue.agents.\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// One thread per core.
    public static let perCore = AgentThreads(count: ProcessInfo.processInfo.activeProcessorCount)

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.jobs.append(job) }
        available.signal()
    }

    private func serve() {
        while true {
            available.wait()
            let job = queue.withLock { queue -> UnownedJob in
                let job = queue.jobs[queue.head]
                queue.head += 1
                if queue.head > 1024, queue.head * 2 > queue.jobs.count {
                    queue.jobs.removeFirst(queue.head)
                    queue.head = 0
                }
                return job
            }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
