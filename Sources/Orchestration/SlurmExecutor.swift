import Core
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One stage of a run as an executor sees it.
public struct PlannedStage: Sendable {
    /// The stage name, e.g. "chunk".
    public var name: String
    /// 1: a single task (not sharded).
    public var shards: Int
    /// The full argument list (without the executable) of task i (0..<shards): e.g.
    /// ["chunk", "--size", "1024", "--workdir", "w", "--shard", "2/4"].
    public var taskArguments: @Sendable (Int) -> [String]
    /// The merge's arguments (e.g. ["merge", "chunk", "--shards", "4", "--workdir", "w"]), nil when shards == 1.
    public var mergeArguments: [String]?

    public init(name: String, shards: Int, taskArguments: @escaping @Sendable (Int) -> [String],
                mergeArguments: [String]? = nil) {
        self.name = name; self.shards = shards; self.taskArguments = taskArguments; self.mergeArguments = mergeArguments
    }
}

/// The `sbatch` settings of a stage's jobs (its array tasks and its merge). Nil: the cluster's default.
public struct SlurmJobOptions: Sendable, Equatable {
    /// `--partition`
    public var partition: String?
    /// `--time` (Slurm's forms: "30", "1:00:00", "1-00:00:00").
    public var time: String?
    /// `--mem` (e.g. "4G").
    public var mem: String?
    /// `--cpus-per-task`
    public var cpusPerTask: Int?
    /// `--account`
    public var account: String?
    /// More `sbatch` options, written into the batch scripts as `#SBATCH` lines (e.g. ["--qos=high"]; a value
    /// given as its own element, ["--qos", "high"], joins the option before it).
    public var sbatchArguments: [String]?
    /// At most this many of the stage's array tasks run at once (the `%P` of `--array=0-(N-1)%P`).
    public var maxParallel: Int?

    public init(partition: String? = nil, time: String? = nil, mem: String? = nil, cpusPerTask: Int? = nil,
                account: String? = nil, sbatchArguments: [String]? = nil, maxParallel: Int? = nil) {
        self.partition = partition; self.time = time; self.mem = mem; self.cpusPerTask = cpusPerTask
        self.account = account; self.sbatchArguments = sbatchArguments; self.maxParallel = maxParallel
    }

    /// These options with every value that `other` sets replacing this one's.
    public func overlaid(by other: SlurmJobOptions?) -> SlurmJobOptions {
        guard let other else { return self }
        return SlurmJobOptions(partition: other.partition ?? partition, time: other.time ?? time,
                               mem: other.mem ?? mem, cpusPerTask: other.cpusPerTask ?? cpusPerTask,
                               account: other.account ?? account,
                               sbatchArguments: other.sbatchArguments ?? sbatchArguments,
                               maxParallel: other.maxParallel ?? maxParallel)
    }

    /// The `#SBATCH` lines' options, in a fixed order.
    public var directives: [String] {
        var d: [String] = []
        if let partition { d.append("--partition=\(partition)") }
        if let account { d.append("--account=\(account)") }
        if let time { d.append("--time=\(time)") }
        if let mem { d.append("--mem=\(mem)") }
        if let cpusPerTask { d.append("--cpus-per-task=\(cpusPerTask)") }
        for a in sbatchArguments ?? [] {
            if !a.hasPrefix("-"), let last = d.popLast() {
                d.append(last + (last.hasPrefix("--") ? "=" : " ") + a)
            } else {
                d.append(a)
            }
        }
        return d
    }
}

/// How `SlurmExecutor` submits and follows a run: the jobs' settings (all stages, then per stage), retries, and
/// whether to wait.
public struct SlurmOptions: Sendable, Equatable {
    /// Every stage's job settings.
    public var job = SlurmJobOptions()
    /// Per stage name, settings replacing `job`'s (`[executor.slurm.<stage>]` in pipeline.toml).
    public var stages: [String: SlurmJobOptions] = [:]
    /// A failed task (an array task, a merge, a single-task stage) is resubmitted up to this many times.
    public var retries = 2
    /// Return once the chain is submitted (status "submitted"); `runDir/slurm/jobs.json` names its jobs.
    public var detach = false
    /// Seconds between two `squeue` polls while waiting.
    public var pollSeconds: Double = 5
    /// Variables exported by every batch script (besides the environment `sbatch` propagates).
    public var environment: [String: String] = [:]

    public init() {}

    /// The settings of `stage`'s jobs.
    public func job(for stage: String) -> SlurmJobOptions { job.overlaid(by: stages[stage]) }
}

/// What became of one stage of a Slurm run.
public struct SlurmStageResult: Codable, Equatable, Sendable {
    public var stage: String
    public var shards: Int
    /// ran, failed, submitted (detached), cancelled (an earlier stage failed; its jobs were cancelled)
    public var status: String
    /// From the first task's start to the end of its merge (or of its last task), as the batch scripts recorded
    /// them; 0 when submitted or cancelled.
    public var seconds: Double
    /// The slowest task (shard) and its seconds; nil for a single-task stage or without timings.
    public var slowestShard: Int?
    public var slowestShardSeconds: Double?
    /// Resubmissions of the stage's tasks (and merge) after failures.
    public var retries: Int
    /// Every job id of the stage: the array (or single job), retries, the merge.
    public var jobs: [String]
    /// When failed: the shard that failed last (nil when the merge failed: `failedMerge`), its exit status (nil
    /// when Slurm ended it: cancelled, time limit, node failure — `failure` says which) and its log.
    public var failedShard: Int?
    public var failedMerge: Bool
    public var exitCode: Int32?
    public var failure: String?
    public var log: String?
    public var logTail: [String]

    enum CodingKeys: String, CodingKey {
        case stage, shards, status, seconds, retries, jobs, failure, log
        case slowestShard = "slowest_shard", slowestShardSeconds = "slowest_shard_seconds"
        case failedShard = "failed_shard", failedMerge = "failed_merge", exitCode = "exit", logTail = "log_tail"
    }
}

/// Errors of submitting to Slurm.
public enum SlurmError: PipelineError {
    case command(tool: String, arguments: [String], status: Int32, output: String)
    case unavailable(tool: String)

    public var message: String {
        switch self {
        case let .command(tool, arguments, status, output):
            let detail = output.trimmingCharacters(in: .whitespacesAndNewlines)
            return "\(tool) \(arguments.joined(separator: " ")) failed (exit \(status))"
                + (detail.isEmpty ? "" : ": " + detail)
        case let .unavailable(tool):
            return "\(tool) not found: the slurm executor needs Slurm's client commands (sbatch, squeue, scancel) "
                + "on PATH"
        }
    }
}

/// Runs a chain of stages as Slurm jobs: per stage an array job (`sbatch --array=0-(N-1)%P`, or a single job when
/// shards == 1), then its merge as a job with `--dependency=afterok:<array>`, the next stage depending on the
/// previous merge or job — the whole chain submitted at once.
///
/// Under `runDir/slurm/`: one readable batch script per job (`<stage>.sbatch`, `<stage>-merge.sbatch`; each task
/// picks its arguments by `SLURM_ARRAY_TASK_ID`), `submit.sh` (resubmits the whole chain by hand), `logs/` (one log
/// per task: `<stage>_%A_%a.log`, `<stage>-merge_%j.log`), `jobs.json` (the chain's current job ids) and
/// `status/<stage>_<i>.exit` (`<stage>_merge.exit`): the exit status, start and end time, host and job of each
/// task, written by its batch script when the command ends. Slurm's accounting (`sacct`) is not needed: the
/// executor polls `squeue` for the jobs' states and reads exit statuses from those files; a task Slurm ended
/// (scancel, time limit, node failure) writes none and shows its state in `squeue`.
///
/// A failed task is resubmitted alone (`--array=<i>`) up to `retries` times; the jobs after it (which wait for it
/// and so never start) are cancelled and resubmitted, depending on its new job. When retries are exhausted, the
/// jobs after the stage are cancelled, its other running tasks are left to finish (their shards are kept for a
/// re-run), and the stage is reported failed with the task's log tail. Interrupting the waiting process leaves
/// the jobs running.
public struct SlurmExecutor {
    /// Directory holding sbatch, squeue and scancel; nil: found on PATH.
    public var slurmBin: String?

    public init(slurmBin: String? = nil) { self.slurmBin = slurmBin }

    /// Submits the chain and, unless `options.detach`, waits for it, printing a progress line (tasks done, running,
    /// failed) through `say` whenever it changes. Returns one result per stage, in order. Throws when a Slurm
    /// command fails (the jobs already submitted are cancelled first).
    public func run(stages: [PlannedStage], executable: String, runDir: String, options: SlurmOptions,
                    say: (String) -> Void) throws -> [SlurmStageResult] {
        var chain = try SlurmChain(stages: stages, executable: executable, runDir: runDir, options: options)
        try chain.writeScripts()
        do {
            for u in chain.units.indices { try submit(&chain, unit: u, tasks: nil) }
        } catch {
            cancel(chain.units.flatMap { $0.tasks.compactMap(\.job) })
            throw error
        }
        try chain.saveJobs()
        let ids = chain.units.map { $0.tasks.first?.job.map { SlurmChain.jobOf($0) } ?? "?" }
        let n = chain.units.count
        say("slurm: submitted \(n) job\(n == 1 ? "" : "s") (\(ids.joined(separator: " → "))); scripts and logs in "
            + chain.slurmDir)
        if options.detach { return chain.results(status: { _ in "submitted" }) }
        return try wait(&chain, options: options, say: say)
    }

    // MARK: - Submitting

    /// Submits `unit` (all its tasks, or only `tasks`), after the tasks of the unit before it that are not done.
    /// `attempt`: counts as a (re)try of those tasks (not when resubmitted only because an earlier job was retried).
    func submit(_ chain: inout SlurmChain, unit u: Int, tasks only: [Int]?, attempt: Bool = true) throws {
        let add = attempt ? 1 : 0
        let unit = chain.units[u]
        var args = ["--parsable"]
        if let dependency = chain.dependency(before: u) { args.append("--dependency=" + dependency) }
        if let only {
            precondition(unit.isArray)
            for i in only {
                chain.removeStatus(unit: u, task: i)
                let id = try sbatch(args + ["--array=\(i)", chain.scriptPath(u)])
                chain.units[u].tasks[i] = SlurmTask(job: "\(id)_\(i)", attempts: unit.tasks[i].attempts + add)
            }
            return
        }
        for i in unit.tasks.indices { chain.removeStatus(unit: u, task: i) }
        let id = try sbatch(args + [chain.scriptPath(u)])
        for i in unit.tasks.indices {
            chain.units[u].tasks[i] = SlurmTask(job: unit.isArray ? "\(id)_\(i)" : id,
                                                attempts: unit.tasks[i].attempts + add)
        }
    }

    private func sbatch(_ args: [String]) throws -> String {
        let out = try command("sbatch", args)
        // --parsable: "<id>" or "<id>;<cluster>"
        let id = out.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw SlurmError.command(tool: "sbatch", arguments: args, status: 0, output: "unexpected output: " + out)
        }
        return id
    }

    func cancel(_ jobs: [String]) {
        guard !jobs.isEmpty else { return }
        _ = try? command("scancel", jobs)
    }

    // MARK: - Waiting

    private func wait(_ chain: inout SlurmChain, options: SlurmOptions, say: (String) -> Void) throws
        -> [SlurmStageResult] {
        var lastProgress = ""
        var reported = Set<Int>()
        var failedStage: Int? = nil
        var queueErrors = 0
        while true {
            let states: [String: (state: String, reason: String)]
            do {
                states = try queue(chain.units.flatMap { $0.tasks.compactMap(\.job) })
                queueErrors = 0
            } catch let e as SlurmError {
                // A busy controller times out now and then; give up after a minute or five polls, whichever is longer.
                queueErrors += 1
                guard Double(queueErrors) * options.pollSeconds < 60 || queueErrors < 5 else { throw e }
                say("slurm: \(e.message) (retrying)")
                Thread.sleep(forTimeInterval: options.pollSeconds)
                continue
            }
            chain.update(queue: states)
            // Stages that finished since the last poll.
            for s in chain.stageIndices where !reported.contains(s) && chain.stageDone(s) {
                reported.insert(s)
                let r = chain.result(stage: s, status: "ran")
                // How the stage ended, as it recorded it (up to date, ran with skips): its merge's, or its job's.
                let outcome = chain.slurmDir + "/outcomes/\(r.stage)_\(r.shards > 1 ? "merge" : "0").json"
                let status = StageDriver.readOutcome(path: outcome)?.status.rawValue ?? "ran"
                var line = "\(r.stage): \(status) (\(Progress.duration(r.seconds))"
                if r.shards > 1 { line += ", \(r.shards) shards" }
                if let slow = r.slowestShard, let t = r.slowestShardSeconds {
                    line += ", slowest shard \(slow): \(Progress.duration(t))"
                }
                if r.retries > 0 { line += ", \(r.retries) \(r.retries == 1 ? "retry" : "retries")" }
                say(line + ")")
            }
            if failedStage == nil, let (u, failed) = chain.firstFailure() {
                let exhausted = failed.filter { chain.units[u].tasks[$0].attempts > options.retries }
                let later = chain.units[(u + 1)...].flatMap { $0.tasks.compactMap(\.job) }
                cancel(later)
                for v in (u + 1)..<chain.units.count { chain.units[v].cancelled = true }
                if exhausted.isEmpty {
                    for i in failed {
                        let t = chain.units[u].tasks[i]
                        say("\(chain.units[u].label(task: i)): \(t.failureText) (job \(t.job ?? "?")), resubmitted "
                            + "(retry \(t.attempts) of \(options.retries))")
                        chain.units[u].retried.append(t.job ?? "?")
                    }
                    if chain.units[u].isArray {
                        try submit(&chain, unit: u, tasks: failed)
                    } else {
                        try submit(&chain, unit: u, tasks: nil)
                    }
                    for v in (u + 1)..<chain.units.count {
                        chain.units[v].cancelled = false
                        chain.units[v].superseded += chain.units[v].tasks.compactMap { $0.job.map(SlurmChain.jobOf) }
                        try submit(&chain, unit: v, tasks: nil, attempt: false)
                    }
                    try chain.saveJobs()
                } else {
                    failedStage = chain.units[u].stage
                    chain.units[u].gaveUp = exhausted.last
                    let t = chain.units[u].tasks[exhausted.last!]
                    say("\(chain.units[u].label(task: exhausted.last!)): \(t.failureText) (job \(t.job ?? "?")), "
                        + "\(options.retries) \(options.retries == 1 ? "retry" : "retries") used; cancelled the jobs "
                        + "after it")
                }
                continue
            }
            let p = chain.progress()
            if p != lastProgress { say("slurm: " + p); lastProgress = p }
            if chain.finished(failedStage: failedStage) { break }
            Thread.sleep(forTimeInterval: options.pollSeconds)
        }
        return chain.results(status: { s in
            if let f = failedStage { return s == f ? "failed" : (s < f ? "ran" : "cancelled") }
            return "ran"
        })
    }

    /// The `squeue` states of `jobs` (array tasks as `<job>_<i>`): id → (state, reason). Jobs Slurm has forgotten
    /// (finished longer ago than its MinJobAge) are absent.
    func queue(_ jobs: [String]) throws -> [String: (state: String, reason: String)] {
        let ids = Array(Set(jobs.map(SlurmChain.jobOf))).sorted()
        guard !ids.isEmpty else { return [:] }
        let args = ["--noheader", "--array", "--states=all", "--jobs=" + ids.joined(separator: ","),
                    "--format=%i|%T|%r"]
        let out: String
        do { out = try command("squeue", args) } catch SlurmError.command(_, _, _, let output)
            where output.contains("Invalid job id") { return [:] }
        return SlurmChain.parseQueue(out)
    }

    // MARK: - Commands

    /// Runs a Slurm client command; its standard output, or `SlurmError.command` with its output when it fails.
    func command(_ tool: String, _ args: [String]) throws -> String {
        let p = Process()
        if let slurmBin {
            p.executableURL = URL(fileURLWithPath: slurmBin + "/" + tool)
            p.arguments = args
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [tool] + args
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw SlurmError.unavailable(tool: tool) }
        // Read both pipes before waiting (a full pipe would block the child).
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        let errHandle = err.fileHandleForReading
        DispatchQueue.global().async(group: group) { errBox.data = errHandle.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        let stdout = String(decoding: outData, as: UTF8.self)
        let stderr = String(decoding: errBox.data, as: UTF8.self)
        if p.terminationStatus == 127 && slurmBin == nil { throw SlurmError.unavailable(tool: tool) }
        guard p.terminationStatus == 0 else {
            throw SlurmError.command(tool: tool, arguments: args, status: p.terminationStatus, output: stderr + stdout)
        }
        return stdout
    }
}

/// One entry of `runs/<ts>/slurm/jobs.json`.
struct SlurmJobsEntry: Codable {
    var stage: String
    var merge: Bool
    var array: Bool
    var tasks: [String]
    var retried: [String]
}

/// The state of one task of a submitted chain (`SlurmExecutor.snapshot`).
public struct SlurmTaskState: Equatable, Sendable {
    public var stage: String
    /// The stage's merge job (task 0).
    public var merge: Bool
    public var task: Int
    /// Its current Slurm id (`<job>_<i>` for an array task).
    public var job: String
    /// pending, running, done, failed
    public var state: String
    /// Its exit status when it ended (from its status file), Slurm's state when Slurm ended it.
    public var exit: Int32?
    public var slurmState: String?
}

extension SlurmExecutor {
    /// The state of every task of the chain submitted into `runDir` (as `jobs.json` names them), from their status
    /// files and one `squeue`: what `pipeline status` shows of a detached run. Tasks Slurm has forgotten without
    /// a status file show as failed. Nil when `runDir` has no Slurm chain.
    public func snapshot(runDir: String) throws -> [SlurmTaskState]? {
        let slurmDir = SlurmChain.absolute(runDir) + "/slurm"
        guard FileSystem.exists(slurmDir + "/jobs.json") else { return nil }
        let bytes = try ByteReader(path: slurmDir + "/jobs.json").readAll()
        let entries: [SlurmJobsEntry]
        do { entries = try JSONDecoder().decode([SlurmJobsEntry].self, from: Data(bytes)) } catch {
            throw CoreError.badRecord(path: slurmDir + "/jobs.json", line: 1, reason: JSONLReader.describe(error))
        }
        var chain = SlurmChain(slurmDir: slurmDir, units: entries.map {
            SlurmUnit(stage: 0, name: $0.stage, isMerge: $0.merge, isArray: $0.array, arguments: [],
                      tasks: $0.tasks.map { SlurmTask(job: $0.isEmpty ? nil : $0, attempts: 1) }, retried: $0.retried)
        })
        let jobs = chain.units.flatMap { $0.tasks.compactMap(\.job) }
        var queue = try queue(jobs)
        // Jobs squeue has forgotten: sacct knows how they ended, where accounting is on.
        for (job, state) in accounting(jobs.filter { queue[$0] == nil }) where queue[job] == nil { queue[job] = state }
        // squeue forgets finished jobs after MinJobAge: a task neither there nor with a status file is failed.
        for _ in 0..<3 { chain.update(queue: queue) }
        return chain.units.flatMap { u in
            u.tasks.enumerated().map { i, t in
                SlurmTaskState(stage: u.name, merge: u.isMerge, task: i, job: t.job ?? "", state: t.state.rawValue,
                               exit: t.exit, slurmState: t.slurmState)
            }
        }
    }
}

/// One task of a job: its current Slurm id (`<job>_<i>` for an array task) and what is known of it.
struct SlurmTask: Equatable {
    enum State: String { case pending, running, done, failed }
    var job: String?
    /// Submissions so far (1 + retries).
    var attempts = 0
    var state = State.pending
    /// From its status file: exit status, start and end (seconds since 1970).
    var exit: Int32?
    var start: Double?
    var end: Double?
    /// Slurm's state when Slurm ended it (CANCELLED, TIMEOUT, NODE_FAIL, …), or "unknown".
    var slurmState: String?
    /// Polls in a row in which the job was neither in squeue nor had a status file.
    var missing = 0

    var failureText: String {
        if let exit { return "failed (exit \(exit))" }
        return "ended by Slurm (\(slurmState ?? "unknown"))"
    }
}

/// One job of the chain: a stage's tasks (an array, or a single job) or its merge.
struct SlurmUnit {
    var stage: Int
    var name: String
    var isMerge: Bool
    var isArray: Bool
    var arguments: [[String]]
    var tasks: [SlurmTask]
    var retried: [String] = []
    var superseded: [String] = []
    var cancelled = false
    var gaveUp: Int? = nil

    /// "chunk shard 2", "chunk merge", "pretrain".
    func label(task i: Int) -> String {
        isMerge ? name + " merge" : (isArray ? "\(name) shard \(i)" : name)
    }
    /// The batch script's and logs' base name.
    var file: String { isMerge ? name + "-merge" : name }
    func statusName(task i: Int) -> String { isMerge ? "\(name)_merge.exit" : "\(name)_\(i).exit" }
}

/// The status file a batch script writes when its command ends.
struct SlurmTaskStatus: Codable {
    var exit: Int32
    var start: Double
    var end: Double
    var host: String?
    var job: String
}

/// The chain's jobs and what is known of them; writes the scripts, reads the status files.
struct SlurmChain {
    var stages: [PlannedStage]
    var units: [SlurmUnit] = []
    var executable: String
    var slurmDir: String
    var options: SlurmOptions

    /// The chain of `jobs.json`, for reading its state.
    init(slurmDir: String, units: [SlurmUnit]) {
        self.stages = []; self.units = units; self.executable = ""; self.slurmDir = slurmDir
        self.options = SlurmOptions()
    }

    init(stages: [PlannedStage], executable: String, runDir: String, options: SlurmOptions) throws {
        self.stages = stages
        self.options = options
        self.executable = SlurmChain.absolute(executable)
        self.slurmDir = SlurmChain.absolute(runDir) + "/slurm"
        for (s, stage) in stages.enumerated() {
            precondition(stage.shards >= 1, "\(stage.name): shards must be at least 1")
            let array = stage.shards > 1
            units.append(SlurmUnit(stage: s, name: stage.name, isMerge: false, isArray: array,
                                   arguments: (0..<stage.shards).map(stage.taskArguments),
                                   tasks: Array(repeating: SlurmTask(), count: stage.shards)))
            if array, let merge = stage.mergeArguments {
                units.append(SlurmUnit(stage: s, name: stage.name, isMerge: true, isArray: false,
                                       arguments: [merge], tasks: [SlurmTask()]))
            }
        }
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// "123" of "123_4".
    static func jobOf(_ id: String) -> String { String(id.prefix { $0 != "_" }) }

    var stageIndices: Range<Int> { stages.indices }
    func scriptPath(_ u: Int) -> String { slurmDir + "/" + units[u].file + ".sbatch" }
    func statusPath(unit u: Int, task i: Int) -> String { slurmDir + "/status/" + units[u].statusName(task: i) }

    func removeStatus(unit u: Int, task i: Int) { unlink(statusPath(unit: u, task: i)) }

    /// The task's log file for its current job.
    func logPath(unit u: Int, task i: Int) -> String? {
        guard let job = units[u].tasks[i].job else { return nil }
        let parts = job.split(separator: "_")
        if units[u].isArray, parts.count == 2 { return "\(slurmDir)/logs/\(units[u].file)_\(parts[0])_\(parts[1]).log" }
        return "\(slurmDir)/logs/\(units[u].file)_\(job).log"
    }

    // MARK: Scripts

    /// Shell-quotes one word ('…', with ' as '\'').
    static func quote(_ s: String) -> String {
        if !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+%@".contains($0) }), s.first != "=" {
            return s
        }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The batch script of unit `u`.
    func script(_ u: Int) -> String {
        let unit = units[u]
        let job = options.job(for: unit.name)
        var lines = ["#!/bin/bash",
                     "# pipeline: \(unit.isMerge ? "the merge of stage \(unit.name)" : "stage \(unit.name)")"
                     + (unit.isArray ? ", \(unit.tasks.count) shards (task i runs shard i)" : "")
                     + ". Resubmit: sbatch \(unit.file).sbatch (all of it: submit.sh)"]
        lines.append("#SBATCH --job-name=pipeline-\(unit.file)")
        lines.append("#SBATCH --chdir=" + FileManager.default.currentDirectoryPath)
        if unit.isArray {
            let limit = job.maxParallel.map { "%\($0)" } ?? ""
            lines.append("#SBATCH --array=0-\(unit.tasks.count - 1)\(limit)")
            lines.append("#SBATCH --output=\(slurmDir)/logs/\(unit.file)_%A_%a.log")
        } else {
            lines.append("#SBATCH --output=\(slurmDir)/logs/\(unit.file)_%j.log")
        }
        lines += job.directives.map { "#SBATCH " + $0 }
        lines.append("")
        for (k, v) in options.environment.sorted(by: { $0.key < $1.key }) {
            lines.append("export \(k)=\(SlurmChain.quote(v))")
        }
        lines.append("# A process id of the submitting host means nothing here (sbatch exports its environment).")
        lines.append("unset PIPELINE_RUN_PARENT")
        lines.append("task=${SLURM_ARRAY_TASK_ID:-0}")
        lines.append("case $task in")
        for (i, args) in unit.arguments.enumerated() {
            lines.append("\(i)) args=(\(args.map(SlurmChain.quote).joined(separator: " "))) ;;")
        }
        lines.append("*) echo \"no task $task in this script\" >&2; exit 2 ;;")
        lines.append("esac")
        let suffix = unit.isMerge ? "merge" : "${task}"
        lines += [
            "dir=" + SlurmChain.quote(slurmDir),
            "status=\"$dir/status/\(unit.name)_\(suffix).exit\"",
            "export PIPELINE_OUTCOME=\"$dir/outcomes/\(unit.name)_\(suffix).json\"",
            "rm -f \"$status\"",
            "start=$(date +%s.%N)",
            "echo \"$ \(SlurmChain.quote(executable)) ${args[*]}  (job ${SLURM_JOB_ID:-}, host $(hostname -s))\"",
            "\(SlurmChain.quote(executable)) \"${args[@]}\"",
            "code=$?",
            "end=$(date +%s.%N)",
            "# The executor reads the exit status here (no accounting database needed).",
            "job=${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}",
            "printf '{\"exit\":%d,\"start\":%s,\"end\":%s,\"host\":\"%s\",\"job\":\"%s\"}\\n' \\",
            "  \"$code\" \"$start\" \"$end\" \"$(hostname -s)\" \"$job\" > \"$status.tmp.$$\" &&",
            "  mv -f \"$status.tmp.$$\" \"$status\"",
            "exit $code",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// `submit.sh`: the whole chain again, by hand.
    func submitScript() -> String {
        var lines = ["#!/bin/bash",
                     "# Resubmits the chain `pipeline run` submitted: each job after the one before it (afterok).",
                     "set -euo pipefail", "cd \"$(dirname \"$0\")\"", "dep=()"]
        for u in units.indices {
            lines.append("id=$(sbatch --parsable \"${dep[@]}\" \(units[u].file).sbatch); id=${id%%;*}")
            lines.append("echo \"\(units[u].label(task: 0).replacingOccurrences(of: " shard 0", with: "")): job $id\"")
            lines.append("dep=(--dependency=afterok:$id)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func writeScripts() throws {
        for sub in ["logs", "status", "outcomes"] { try FileSystem.makeDirectory(slurmDir + "/" + sub) }
        for u in units.indices {
            try FileSystem.atomicWrite(Array(script(u).utf8), to: scriptPath(u))
            chmod(scriptPath(u), 0o755)
        }
        try FileSystem.atomicWrite(Array(submitScript().utf8), to: slurmDir + "/submit.sh")
        chmod(slurmDir + "/submit.sh", 0o755)
    }

    /// `jobs.json`: per job of the chain, its stage, whether it is the merge, and its tasks' current job ids.
    func saveJobs() throws {
        let entries = units.map { SlurmJobsEntry(stage: $0.name, merge: $0.isMerge, array: $0.isArray,
                                                 tasks: $0.tasks.map { $0.job ?? "" }, retried: $0.retried) }
        try FileSystem.atomicWrite(try JSON.encode(entries, pretty: true) + [0x0A], to: slurmDir + "/jobs.json")
    }

    // MARK: Dependencies

    /// The `--dependency` of unit `u`: afterok on the tasks of the unit before it that are not done (the whole
    /// array job when none is done and all belong to it), nil when there is none.
    func dependency(before u: Int) -> String? {
        guard u > 0 else { return nil }
        let prev = units[u - 1]
        let open = prev.tasks.filter { $0.state != .done }.compactMap(\.job)
        guard !open.isEmpty else { return nil }
        let jobs = Set(open.map(SlurmChain.jobOf))
        if prev.isArray, open.count == prev.tasks.count, jobs.count == 1 { return "afterok:" + jobs.first! }
        return "afterok:" + open.joined(separator: ":")
    }

    // MARK: Following

    /// Parses `squeue --format=%i|%T|%r` lines.
    static func parseQueue(_ text: String) -> [String: (state: String, reason: String)] {
        var out: [String: (state: String, reason: String)] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard f.count >= 2, !f[0].isEmpty else { continue }
            out[f[0]] = (f[1], f.count > 2 ? f[2] : "")
        }
        return out
    }

    static let activeStates: Set<String> = ["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED",
                                            "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING",
                                            "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"]

    /// Updates every submitted task from its status file and the queue.
    mutating func update(queue: [String: (state: String, reason: String)]) {
        for u in units.indices where !units[u].cancelled {
            for i in units[u].tasks.indices {
                var t = units[u].tasks[i]
                guard let job = t.job, t.state != .done, t.state != .failed else { continue }
                if let bytes = try? ByteReader(path: statusPath(unit: u, task: i)).readAll(),
                   let s = try? JSONDecoder().decode(SlurmTaskStatus.self, from: Data(bytes)),
                   s.job == SlurmChain.jobOf(job) {
                    t.exit = s.exit; t.start = s.start; t.end = s.end
                    t.state = s.exit == 0 ? .done : .failed
                } else if let q = queue[job] {
                    t.missing = 0
                    if SlurmChain.activeStates.contains(q.state) {
                        t.state = q.state == "PENDING" ? .pending : .running
                    } else if q.state == "COMPLETED" {
                        // Ended well, its status file not visible yet (a shared file system's delay): trust Slurm.
                        t.state = .done
                    } else {
                        t.state = .failed; t.slurmState = q.state
                    }
                } else {
                    t.missing += 1
                    if t.missing >= 3 { t.state = .failed; t.slurmState = "not in squeue, no status file" }
                }
                units[u].tasks[i] = t
            }
        }
    }

    /// The first unit with failed tasks, and those tasks.
    func firstFailure() -> (Int, [Int])? {
        for u in units.indices where !units[u].cancelled && units[u].gaveUp == nil {
            let failed = units[u].tasks.indices.filter { units[u].tasks[$0].state == .failed }
            if !failed.isEmpty { return (u, failed) }
        }
        return nil
    }

    func stageDone(_ s: Int) -> Bool {
        units.filter { $0.stage == s }.allSatisfy { $0.tasks.allSatisfy { $0.state == .done } }
    }

    /// Everything done, or — after a failure — nothing running any more.
    func finished(failedStage: Int?) -> Bool {
        if failedStage == nil { return units.allSatisfy { $0.tasks.allSatisfy { $0.state == .done } } }
        return !units.contains {
            $0.gaveUp != nil && $0.tasks.contains { $0.state == .running || $0.state == .pending }
        }
    }

    /// "5/8 tasks done, 2 running, 0 failed, 1 pending — chunk shards 3/3, chunk merge running, …"
    func progress() -> String {
        let all = units.filter { !$0.cancelled }.flatMap(\.tasks)
        func count(_ s: SlurmTask.State) -> Int { all.filter { $0.state == s }.count }
        var parts: [String] = []
        for unit in units where !unit.cancelled {
            let done = unit.tasks.filter { $0.state == .done }.count
            let running = unit.tasks.contains { $0.state == .running }
            if done == unit.tasks.count { continue }
            if unit.isArray {
                parts.append("\(unit.name) \(done)/\(unit.tasks.count)\(running ? " running" : "")")
            } else if running {
                parts.append(unit.isMerge ? "\(unit.name) merge running" : "\(unit.name) running")
            }
        }
        let now = parts.prefix(2).joined(separator: ", ")
        return "\(count(.done))/\(all.count) tasks done, \(count(.running)) running, \(count(.failed)) failed"
            + (now.isEmpty ? "" : " — " + now)
    }

    // MARK: Results

    func result(stage s: Int, status: String) -> SlurmStageResult {
        let mine = units.indices.filter { units[$0].stage == s }
        let tasks = mine.flatMap { u in units[u].tasks }
        let starts = tasks.compactMap(\.start), ends = tasks.compactMap(\.end)
        var r = SlurmStageResult(stage: stages[s].name, shards: stages[s].shards, status: status, seconds: 0,
                                 slowestShard: nil, slowestShardSeconds: nil,
                                 retries: mine.map { units[$0].retried.count }.reduce(0, +),
                                 jobs: [], failedShard: nil, failedMerge: false, exitCode: nil, failure: nil,
                                 log: nil, logTail: [])
        var jobs: [String] = []
        for u in mine {
            for j in units[u].retried.map(SlurmChain.jobOf) + units[u].superseded
                + units[u].tasks.compactMap({ $0.job.map(SlurmChain.jobOf) }) where !jobs.contains(j) { jobs.append(j) }
        }
        r.jobs = jobs
        if status == "ran" || status == "failed", let a = starts.min(), let b = ends.max() {
            r.seconds = ((b - a) * 1000).rounded() / 1000
        }
        if let array = mine.first(where: { units[$0].isArray }) {
            let timed = units[array].tasks.enumerated().compactMap { i, t -> (Int, Double)? in
                guard let a = t.start, let b = t.end else { return nil }
                return (i, b - a)
            }
            if let slow = timed.max(by: { $0.1 < $1.1 }) {
                r.slowestShard = slow.0
                r.slowestShardSeconds = (slow.1 * 1000).rounded() / 1000
            }
        }
        if status == "failed", let u = mine.first(where: { units[$0].gaveUp != nil }), let i = units[u].gaveUp {
            let t = units[u].tasks[i]
            r.failedMerge = units[u].isMerge
            r.failedShard = units[u].isMerge ? nil : i
            r.exitCode = t.exit
            r.failure = t.failureText
            r.log = logPath(unit: u, task: i)
            let text = r.log.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
            r.logTail = text.split(separator: "\n").suffix(5).map(String.init)
        }
        return r
    }

    func results(status: (Int) -> String) -> [SlurmStageResult] {
        stageIndices.map { result(stage: $0, status: status($0)) }
    }
}
