import Core
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What happened to one stage in a run.
public struct StageOutcome: Codable, Equatable, Sendable {
    public var stage: String
    public var folder: String
    /// ran, up to date, ran with skips, failed, not built, not selected, not needed (no input for it, or pretrain
    /// with a base model); with Slurm also submitted (--detach) and cancelled (an earlier stage failed)
    public var status: String
    public var exitCode: Int32?
    public var seconds: Double
    public var records: [String: Int]
    public var log: String?
    public var command: [String]?
    /// For a stage run as shards: their number, and the slowest one's seconds (the merge is the rest).
    public var shards: Int?
    public var slowestShardSeconds: Double?
    /// Slurm: tasks resubmitted after a failure.
    public var retries: Int?

    enum CodingKeys: String, CodingKey {
        case stage, folder, status, seconds, records, log, command, shards, retries
        case exitCode = "exit"
        case slowestShardSeconds = "slowest_shard_seconds"
    }
}

/// `runs/<timestamp>/summary.json`.
public struct RunSummary: Codable, Equatable, Sendable {
    public var started: String
    public var finished: String
    public var seconds: Double
    /// ok, failed
    public var status: String
    public var failedStage: String?
    public var config: String
    public var workdir: String
    public var stages: [StageOutcome]

    enum CodingKeys: String, CodingKey {
        case started, finished, seconds, status, config, workdir, stages
        case failedStage = "failed_stage"
    }

    public static func load(runDir: String) throws -> RunSummary {
        let p = runDir + "/summary.json"
        guard FileSystem.exists(p) else { throw RunError.noRun(path: runDir) }
        let bytes = try ByteReader(path: p).readAll()
        do { return try JSONDecoder().decode(RunSummary.self, from: Data(bytes)) } catch {
            throw CoreError.badRecord(path: p, line: 1, reason: "unreadable summary: \(JSONLReader.describe(error))")
        }
    }
}

/// Runs the selected stages in order, each as a child process of the same executable, with one log per stage.
public struct Runner {
    public var config: RunConfig
    /// The `pipeline` executable to spawn for each stage.
    public var executable: String
    /// Stage commands present in this build.
    public var available: Set<String>
    public var force: Set<String> = []
    /// Sharded stages run as this many shards (local executor) and a merge; 1: each stage as one process.
    public var shards = 1
    /// Shard processes running at once.
    public var jobs = max(1, Machine.cores)
    /// Where the stages run: here (`local`) or as Slurm jobs, the whole chain submitted at once (`slurm`).
    public var executor = ExecutorConfig.Kind.local
    /// The Slurm jobs' settings (`[executor.slurm]`).
    public var slurm = SlurmOptions()
    /// Called with one line per stage event (for the terminal).
    public var say: (String) -> Void = { print($0) }

    public init(config: RunConfig, executable: String, available: Set<String>) {
        self.config = config; self.executable = executable; self.available = available
    }

    /// A new `runs/<UTC timestamp>` folder (suffixed -2, -3… when one exists for that second).
    public static func makeRunDir(runs: String, date: Date = Date()) throws -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let base = runs + "/" + f.string(from: date)
        try FileSystem.makeDirectory(runs)
        var candidate = base
        var n = 1
        while mkdir(candidate, 0o755) != 0 {
            guard errno == EEXIST else { throw CoreError.io(path: candidate, operation: "mkdir", errno: errno) }
            n += 1
            candidate = base + "-\(n)"
        }
        return candidate
    }

    /// Runs `stages` (the others in the table are recorded as not selected). Writes `summary.json` in `runDir`
    /// whatever happens, and throws `RunError.stageFailed` naming the first stage that failed.
    public func run(stages selected: [StageSpec], runDir: String) throws -> RunSummary {
        if executor == .slurm { return try runSlurm(stages: selected, runDir: runDir) }
        let start = Date()
        var outcomes: [StageOutcome] = []
        var failed: (String, Int32, String)? = nil
        let workdir = Workdir(path: config.workdir)
        for spec in RunStages.all {
            var o = StageOutcome(stage: spec.name, folder: spec.folder, status: "not selected", exitCode: nil,
                                 seconds: 0, records: [:], log: nil, command: nil)
            defer { outcomes.append(o) }
            guard failed == nil, selected.contains(where: { $0.name == spec.name }) else { continue }
            if let other = spec.replacedBy(config.inputs) {
                o.status = "not needed"
                say("\(spec.name): not needed (\(other))")
                continue
            }
            guard available.contains(spec.name) else {
                o.status = "not built"
                say("\(spec.name): not built in this version of pipeline, skipped")
                continue
            }
            let args = spec.arguments(values: config.values[spec.name] ?? [:], inputs: config.inputs,
                                      workdir: config.workdir, force: force.contains(spec.name))
            o.command = args
            let logPath = runDir + "/" + spec.name + ".log"
            o.log = spec.name + ".log"
            // The stage records its result (ran, up to date, ran with skips) in this file; the log is for people.
            let outcomePath = runDir + "/outcomes/" + spec.name + ".json"
            try FileSystem.makeDirectory(runDir + "/outcomes")
            let t0 = Date()
            var code: Int32
            var failedLog = logPath
            if shards > 1 && spec.sharded {
                // The local executor: the shards as parallel processes (at most `jobs`), then the merge.
                let n = shards
                let stageArgs = Array(args.prefix { $0 != "--workdir" })
                let tail = Array(args.drop { $0 != "--workdir" })
                let tasks = try (0..<n).map { i -> (args: [String], log: String, outcome: String) in
                    (stageArgs + ["--shard", try Shard(index: i, count: n).description] + tail,
                     runDir + "/\(spec.name).shard-\(i).log", runDir + "/outcomes/\(spec.name).shard-\(i).json")
                }
                let results = try spawnAll(tasks, jobs: jobs)
                o.shards = n
                o.slowestShardSeconds = ((results.map(\.seconds).max() ?? 0) * 1000).rounded() / 1000
                if let bad = results.indices.first(where: { results[$0].code != 0 }) {
                    code = results[bad].code
                    failedLog = tasks[bad].log
                } else {
                    let merge = ["merge"] + stageArgs + ["--shards", String(n)] + tail
                    o.command = merge
                    code = try spawn(args: merge, logPath: logPath, outcomePath: outcomePath)
                }
            } else {
                code = try spawn(args: args, logPath: logPath, outcomePath: outcomePath)
            }
            o.seconds = (Date().timeIntervalSince(t0) * 1000).rounded() / 1000
            o.exitCode = code
            let result = StageDriver.readOutcome(path: outcomePath)
            switch code {
            case 0, ExitStatus.finishedWithSkips.rawValue:
                o.status = result?.status.rawValue ?? (code == 0 ? StageStatus.ran : .ranWithSkips).rawValue
            default:
                o.status = "failed"
                failed = (spec.name, code, failedLog)
            }
            if o.status != "failed", let m = workdir.manifest(spec.folder) {
                o.records = m.records
                try? FileSystem.makeDirectory(runDir + "/manifests")
                let bytes = (try? ByteReader(path: workdir.manifestPath(spec.folder)).readAll()) ?? []
                try? FileSystem.atomicWrite(bytes, to: runDir + "/manifests/\(spec.folder).json")
            }
            var line = "\(spec.name): \(o.status) (\(Progress.duration(o.seconds)))"
            if o.status == "failed" {
                let log = (try? String(contentsOfFile: failedLog, encoding: .utf8)) ?? ""
                line += ", exit \(code); last lines of \(failedLog):"
                let tail = log.split(separator: "\n").suffix(5).map { "  | " + $0 }.joined(separator: "\n")
                if !tail.isEmpty { line += "\n" + tail }
            }
            say(line)
        }
        let end = Date()
        let summary = RunSummary(started: Timestamp.iso8601(start), finished: Timestamp.iso8601(end),
                                 seconds: (end.timeIntervalSince(start) * 1000).rounded() / 1000,
                                 status: failed == nil ? "ok" : "failed", failedStage: failed?.0,
                                 config: config.path, workdir: config.workdir, stages: outcomes)
        try FileSystem.atomicWrite(try JSON.encode(summary, pretty: true) + [0x0A], to: runDir + "/summary.json")
        return summary
    }

    /// The Slurm executor: the selected stages as one dependency chain of jobs (a sharded stage as an array job and
    /// its merge), submitted at once; waits for it unless `slurm.detach`. Writes `summary.json` like `run`.
    func runSlurm(stages selected: [StageSpec], runDir: String) throws -> RunSummary {
        let start = Date()
        var outcomes: [StageOutcome] = []
        var plans: [PlannedStage] = []
        var inputs = config.inputs   // with the stages planned so far: their outputs exist when the next job runs
        for spec in RunStages.all {
            var o = StageOutcome(stage: spec.name, folder: spec.folder, status: "not selected", exitCode: nil,
                                 seconds: 0, records: [:], log: nil, command: nil)
            if selected.contains(where: { $0.name == spec.name }) {
                if let other = spec.replacedBy(config.inputs) {
                    o.status = "not needed"
                    say("\(spec.name): not needed (\(other))")
                } else if !available.contains(spec.name) {
                    o.status = "not built"
                } else {
                    let args = spec.arguments(values: config.values[spec.name] ?? [:], inputs: inputs,
                                              workdir: config.workdir, force: force.contains(spec.name))
                    inputs.planned.insert(spec.folder)
                    let n = spec.sharded ? shards : 1
                    let head = Array(args.prefix { $0 != "--workdir" }), tail = Array(args.drop { $0 != "--workdir" })
                    o.status = "submitted"
                    o.command = n > 1 ? ["merge"] + head + ["--shards", String(n)] + tail : args
                    o.shards = n > 1 ? n : nil
                    plans.append(PlannedStage(
                        name: spec.name, shards: n,
                        taskArguments: { i in n > 1 ? head + ["--shard", "\(i)/\(n)"] + tail : args },
                        mergeArguments: n > 1 ? ["merge"] + head + ["--shards", String(n)] + tail : nil))
                }
            }
            outcomes.append(o)
        }
        var options = slurm
        // While this run waits it holds the work directory's lock for its jobs; a detached chain's jobs lock for
        // themselves. The executor merges after the last shard, so the shards need not.
        if !options.detach { options.environment["PIPELINE_LOCK_HELD"] = "1" }
        options.environment["PIPELINE_NO_AUTO_MERGE"] = "1"
        let results = try SlurmExecutor().run(stages: plans, executable: executable, runDir: runDir, options: options,
                                              say: say)
        let workdir = Workdir(path: config.workdir)
        var failed: String? = nil
        for r in results {
            guard let i = outcomes.firstIndex(where: { $0.stage == r.stage }) else { continue }
            var o = outcomes[i]
            o.seconds = (r.seconds * 1000).rounded() / 1000
            o.slowestShardSeconds = r.shards > 1 ? r.slowestShardSeconds : nil
            o.retries = r.retries > 0 ? r.retries : nil
            o.log = r.log.map { ($0 as NSString).lastPathComponent }
            switch r.status {
            case "ran":
                let file = runDir + "/slurm/outcomes/\(r.stage)_\(r.shards > 1 ? "merge" : "0").json"
                o.status = StageDriver.readOutcome(path: file)?.status.rawValue ?? "ran"
                o.exitCode = 0
                o.records = workdir.manifest(o.folder)?.records ?? [:]
            case "failed":
                o.status = "failed"
                o.exitCode = r.exitCode ?? 1
                if failed == nil { failed = r.stage }
                let which = r.failedMerge ? "its merge" : r.failedShard.map { "shard \($0)/\(r.shards)" } ?? "its job"
                say("\(r.stage): failed in \(which) (\(r.failure ?? "exit \(r.exitCode ?? 1)")); last lines of "
                    + "\(r.log ?? "its log"):\n" + r.logTail.map { "  | " + $0 }.joined(separator: "\n"))
            default:
                o.status = r.status
            }
            outcomes[i] = o
        }
        let end = Date()
        let summary = RunSummary(started: Timestamp.iso8601(start), finished: Timestamp.iso8601(end),
                                 seconds: (end.timeIntervalSince(start) * 1000).rounded() / 1000,
                                 status: failed == nil ? (slurm.detach ? "submitted" : "ok") : "failed",
                                 failedStage: failed, config: config.path, workdir: config.workdir, stages: outcomes)
        try FileSystem.atomicWrite(try JSON.encode(summary, pretty: true) + [0x0A], to: runDir + "/summary.json")
        return summary
    }

    /// Runs `tasks` (arguments, log, outcome file), at most `jobs` at a time; their exit statuses and seconds.
    private func spawnAll(_ tasks: [(args: [String], log: String, outcome: String)], jobs: Int) throws
        -> [(code: Int32, seconds: Double)] {
        let results = Results(count: tasks.count)
        let slots = DispatchSemaphore(value: max(1, jobs))
        let group = DispatchGroup()
        for (i, t) in tasks.enumerated() {
            slots.wait()
            group.enter()
            DispatchQueue.global().async {
                defer { slots.signal(); group.leave() }
                let t0 = Date()
                let r: Result<Int32, Error> = Result {
                    try self.spawn(args: t.args, logPath: t.log, outcomePath: t.outcome)
                }
                results.set(i, r, Date().timeIntervalSince(t0))
            }
        }
        group.wait()
        return try results.values()
    }

    /// The shards' results, filled from several threads.
    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(Result<Int32, Error>, Double)?]
        init(count: Int) { items = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: Result<Int32, Error>, _ seconds: Double) {
            lock.lock(); items[i] = (r, seconds); lock.unlock()
        }
        func values() throws -> [(code: Int32, seconds: Double)] {
            try items.map { item in (try item!.0.get(), item!.1) }
        }
    }

    /// Runs one stage command with stdout and stderr into `logPath`; returns its exit status (128+n on signal n).
    private func spawn(args: [String], logPath: String, outcomePath: String) throws -> Int32 {
        let header = Data(("$ pipeline " + args.joined(separator: " ") + "\n").utf8)
        guard FileManager.default.createFile(atPath: logPath, contents: header),
              let log = FileHandle(forWritingAtPath: logPath) else {
            throw CoreError.io(path: logPath, operation: "create", errno: errno)
        }
        defer { try? log.close() }
        log.seekToEndOfFile()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["PIPELINE_RUN_PARENT"] = String(getpid())
        env[StageDriver.outcomeVariable] = outcomePath
        p.environment = env
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            let code = (error as NSError).code
            throw CoreError.io(path: executable, operation: "spawn", errno: code == 0 ? EIO : Int32(code))
        }
        p.waitUntilExit()
        return p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    }
}
