import NIOCore

/// Runs a task's jobs on one NIO event loop: a task that prefers it (SE-0417,
/// `Task(executorPreference:)`) stays on the loop of the connection it serves.
///
/// Request handling runs this way. A request's work then takes no thread hop: the Redis client
/// uses the connection of the same loop, and its reply resumes the task where it was. Anything
/// slow is off the loop already (password hashing runs on a thread pool).
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
