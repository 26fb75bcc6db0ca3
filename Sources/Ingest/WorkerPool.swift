import Core
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How to start a worker: the `pipeline` executable and the hidden subcommand.
public struct WorkerCommand: Sendable {
    /// The executable to start.
    public var executable: String
    /// Its arguments (the hidden worker subcommand).
    public var arguments: [String]

    /// A command running `executable` with `arguments`.
    public init(executable: String, arguments: [String] = ["ingest-worker"]) {
        self.executable = executable; self.arguments = arguments
    }
}

/// Long-lived extraction processes, one document at a time each. A worker that dies or overruns its time limit
/// is killed and replaced; its document is reported as skipped, and the others go on.
final class WorkerPool {
    struct Job {
        let index: Int
        let request: WorkerMessage.Request
    }

    enum Outcome {
        case done(WorkerMessage.Response)
        case failed(String)
    }

    final class Worker {
        let process: Process
        let input: Int32
        let output: Int32
        var buffer: [UInt8] = []
        var job: Job?
        var started = Date()

        init(process: Process, input: Int32, output: Int32) {
            self.process = process; self.input = input; self.output = output
        }
    }

    let command: WorkerCommand
    let size: Int
    let timeout: Double
    private var workers: [Worker] = []
    /// Workers started over the pool's life (for the tests and the summary).
    private(set) var started = 0

    init(command: WorkerCommand, size: Int, timeout: Double) {
        self.command = command
        self.size = max(1, size)
        self.timeout = timeout
        signal(SIGPIPE, SIG_IGN)
    }

    deinit { shutdown() }

    private func spawn() throws -> Worker {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: command.executable)
        p.arguments = command.arguments
        var env = ProcessInfo.processInfo.environment
        // The worker dies with this process (see main.swift of the CLI).
        env["PIPELINE_RUN_PARENT"] = String(getpid())
        // A crash in the PDF library ends the worker at once (no symbolicated backtrace, which takes seconds).
        env["SWIFT_BACKTRACE"] = "enable=no"
        // The executable links OpenBLAS, whose thread pool a worker never uses.
        env["OPENBLAS_NUM_THREADS"] = "1"
        p.environment = env
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = FileHandle.standardError
        let input = inPipe.fileHandleForWriting.fileDescriptor
        let output = outPipe.fileHandleForReading.fileDescriptor
        // Our ends must not leak into later workers (a leaked write end would hide a worker's death).
        _ = fcntl(input, F_SETFD, FD_CLOEXEC)
        _ = fcntl(output, F_SETFD, FD_CLOEXEC)
        do { try p.run() } catch {
            throw IngestError.worker("cannot start \(command.executable) \(command.arguments.joined(separator: " ")): "
                                     + "\(error.localizedDescription)")
        }
        // Keep the pipes' parent ends open (dup: the FileHandles close theirs when released).
        let w = Worker(process: p, input: dup(input), output: dup(output))
        _ = fcntl(w.input, F_SETFD, FD_CLOEXEC)
        _ = fcntl(w.output, F_SETFD, FD_CLOEXEC)
        try? inPipe.fileHandleForWriting.close()
        try? outPipe.fileHandleForReading.close()
        try? inPipe.fileHandleForReading.close()
        try? outPipe.fileHandleForWriting.close()
        started += 1
        return w
    }

    /// Kills a worker (if still running) and reaps it; returns why it ended when it was not killed by us.
    private func retire(_ w: Worker, kill killIt: Bool) -> String {
        close(w.input)
        close(w.output)
        if killIt && w.process.isRunning { kill(w.process.processIdentifier, SIGKILL) }
        w.process.waitUntilExit()
        if w.process.terminationReason == .uncaughtSignal {
            return "worker crashed (signal \(w.process.terminationStatus))"
        }
        return "worker exited unexpectedly (status \(w.process.terminationStatus))"
    }

    /// Runs `next()`'s jobs (nil: none available right now; the pool waits for a result and asks again) until
    /// `next` has no more and every job is answered, calling `done` with each outcome as it arrives.
    func run(hasMore: () -> Bool, next: () -> Job?, done: (Job, Outcome) throws -> Void) throws {
        while true {
            // Hand out work to idle workers (starting workers as needed).
            var progressed = true
            while progressed {
                progressed = false
                guard let idle = try idleWorker() else { break }
                guard let job = next() else { break }
                idle.job = job
                idle.started = Date()
                idle.buffer.removeAll(keepingCapacity: true)
                if !writeAll(idle.input, WorkerMessage.encode(job.request)) {
                    let why = retire(idle, kill: true)
                    remove(idle)
                    try done(job, .failed(why))
                }
                progressed = true
            }
            let busy = workers.filter { $0.job != nil }
            if busy.isEmpty {
                if !hasMore() { return }
                continue
            }
            try wait(busy, done: done)
        }
    }

    private func idleWorker() throws -> Worker? {
        if let w = workers.first(where: { $0.job == nil }) { return w }
        guard workers.count < size else { return nil }
        do {
            let w = try spawn()
            workers.append(w)
            return w
        } catch {
            if workers.isEmpty { throw error }
            return nil
        }
    }

    private func remove(_ w: Worker) { workers.removeAll { $0 === w } }

    /// Waits for output from the busy workers (or the earliest deadline), and handles what arrives.
    private func wait(_ busy: [Worker], done: (Job, Outcome) throws -> Void) throws {
        let now = Date()
        let earliest = busy.map { $0.started.addingTimeInterval(timeout) }.min()!
        let ms = max(0, min(Int32(earliest.timeIntervalSince(now) * 1000) + 1, 1000))
        var fds = busy.map { pollfd(fd: $0.output, events: Int16(POLLIN), revents: 0) }
        let r = poll(&fds, nfds_t(fds.count), ms)
        if r < 0 && errno != EINTR { throw IngestError.worker("poll failed: \(String(cString: strerror(errno)))") }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        for (k, w) in busy.enumerated() where fds[k].revents != 0 {
            let n = chunk.withUnsafeMutableBytes { read(w.output, $0.baseAddress, $0.count) }
            if n > 0 {
                w.buffer.append(contentsOf: chunk[0..<n])
                let length: Int?
                do { length = try WorkerMessage.frameLength(w.buffer) } catch {
                    let job = w.job!
                    let why = retire(w, kill: true)
                    remove(w)
                    try done(job, .failed("worker sent a malformed answer: \(Self.reason(error)) (\(why))"))
                    continue
                }
                if let len = length {
                    let job = w.job!
                    let body = Array(w.buffer[4..<len])
                    w.buffer.removeFirst(len)
                    w.job = nil
                    let response: WorkerMessage.Response
                    do { response = try WorkerMessage.decodeResponse(body) } catch {
                        let why = retire(w, kill: true)
                        remove(w)
                        try done(job, .failed("worker sent a malformed answer: \(Self.reason(error)) (\(why))"))
                        continue
                    }
                    try done(job, .done(response))
                }
            } else if n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) {
                let job = w.job!
                let why = retire(w, kill: true)
                remove(w)
                try done(job, .failed(why))
            }
        }
        let later = Date()
        for w in busy where w.job != nil && workers.contains(where: { $0 === w })
            && later.timeIntervalSince(w.started) >= timeout {
            let job = w.job!
            _ = retire(w, kill: true)
            remove(w)
            try done(job, .failed("timed out after \(Self.seconds(timeout)) s"))
        }
    }

    /// What is wrong with a worker's message, without the module's prefix.
    static func reason(_ error: Error) -> String {
        if case let IngestError.worker(text) = error { return text }
        return "\(error)"
    }

    static func seconds(_ t: Double) -> String {
        t == t.rounded() ? String(Int(t)) : String(t)
    }

    /// Closes every worker's input (they exit at end of input) and reaps them.
    func shutdown() {
        for w in workers { close(w.input) }
        for w in workers {
            close(w.output)
            w.process.waitUntilExit()
        }
        workers.removeAll()
    }
}
