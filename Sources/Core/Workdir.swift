import CShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The work directory (default `./artifacts`): one folder per stage, each holding its outputs and `manifest.json`.
public struct Workdir: Sendable {
    public let path: String

    /// Every stage's folder name, in pipeline order.
    public static let stages = [
        "ingest", "dedup", "gsm8k", "decontaminate", "tokenize", "tokens", "chunk", "index", "pretrain", "sft", "grpo",
        "eval",
    ]

    /// `explicit` (a `--workdir` flag) wins over `PIPELINE_WORKDIR`, which wins over `./artifacts`.
    public init(explicit: String? = nil) {
        path = explicit ?? ProcessInfo.processInfo.environment["PIPELINE_WORKDIR"] ?? "artifacts"
    }

    public init(path: String) { self.path = path }

    public func stageDir(_ stage: String) -> String { path + "/" + stage }

    /// The stage whose `pages.jsonl.zst`, `documents.jsonl.zst` and `corpus.txt.zst` the text readers (bpe-train,
    /// tokenize, chunk, index) take: `dedup` when the dedup stage's manifest is in the work directory (it writes
    /// those files with duplicates removed), else `ingest`.
    public var textSource: String { FileSystem.exists(manifestPath("dedup")) ? "dedup" : "ingest" }
    public func manifestPath(_ stage: String) -> String { stageDir(stage) + "/manifest.json" }

    public func manifest(_ stage: String) -> Manifest? {
        try? Manifest.load(path: manifestPath(stage))
    }

    /// For a stage that commits checkpoints as it goes (records `steps` and `total_steps`): the step of its last
    /// committed checkpoint and the step it was heading for, when that checkpoint came from these inputs and
    /// parameters and this version; nil when the stage must start afresh. `step < total` is an interrupted run.
    public func checkpoint(_ stage: String, inputs: [String], parameters: [String: String]) -> (step: Int, total: Int)? {
        guard let m = manifest(stage) else { return nil }
        switch m.freshness(stageDir: stageDir(stage), inputs: inputs, parameters: parameters) {
        case .upToDate, .partial: break
        default: return nil
        }
        let step = m.records["steps"] ?? 0
        return (step, m.records["total_steps"] ?? step)
    }

    /// The stage's state as its manifest and files say; `verify` hashes every output.
    public func freshness(_ stage: String, verify: Bool = false) -> Freshness {
        guard FileSystem.exists(manifestPath(stage)) else { return .missing }
        guard let m = manifest(stage) else { return .stale(reason: "manifest unreadable") }
        return m.freshness(stageDir: stageDir(stage), verify: verify)
    }

    /// Set by `--verify` (`run`, `status`): up-to-date checks hash every output instead of trusting size, time
    /// and inode.
    nonisolated(unsafe) public static var verifyOutputs = ProcessInfo.processInfo.environment["PIPELINE_VERIFY"] == "1"

    /// Removes temporary folders left by runs that died (their process is gone).
    public func cleanStale() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
        for name in names where name.hasPrefix(".tmp-") || name.hasPrefix(".old-") {
            // .tmp-<stage>-<pid>-<n> (stage folders) or .tmp-<pid>-<file> (single files): the first all-digit
            // component is the pid of the process that made it.
            let pid = name.split(separator: "-").dropFirst().first { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
                .flatMap { Int32($0) }
            if let pid, pid == getpid() || Self.isAlive(pid) { continue } // still running
            FileSystem.remove(path + "/" + name)
        }
    }

    /// Whether process `pid` exists and is not a zombie (a killed stage whose parent died may stay a zombie
    /// when nothing reaps orphans, as in some containers: it will never finish its folder).
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state != "Z" && state != "X"
    }
}

/// One run of a stage: outputs go into a temporary folder inside the work directory, which replaces the stage's
/// folder in one atomic step when `commit()` is called. A crash at any point leaves the previous complete output
/// (or none), never a mix; the temporary folder is removed by the next run.
public final class StageRun {
    public let workdir: Workdir
    public let stage: String
    public let parameters: [String: String]
    public let inputs: [String]
    /// Where the stage writes its outputs during the run.
    public let tempDir: String
    /// The previous complete output, if any (for incremental stages to reuse).
    public let previousDir: String?
    public let previous: Manifest?
    public var records: [String: Int] = [:]
    /// Inputs as hashed when the run began.
    private let inputRecords: [FileRecord]
    /// The work directory's lock while this run writes (nil under `pipeline run`, whose process holds it).
    private var lockKey: String?
    private let startedAt = Date()
    private var finished = false
    private static var counter = 0

    /// Starts a run, or returns nil when the stage is up to date (unless `force`).
    public static func begin(workdir: Workdir, stage: String, inputs: [String], parameters: [String: String],
                             force: Bool) throws -> StageRun? {
        try FileSystem.makeDirectory(workdir.path)
        // A shard (`<folder>/shards/I-of-N`) locks only itself: the shards of a stage run at the same time.
        let key = try StageLock.acquire(stage.contains("/shards/")
                                        ? workdir.path + "/.shard-locks/" + StageRun.flatName(stage) : workdir.path)
        var keep = false
        defer { if !keep, let key { StageLock.release(key) } }
        workdir.cleanStale()
        let previous = workdir.manifest(stage)
        if !force, let m = previous,
           m.freshness(stageDir: workdir.stageDir(stage), inputs: inputs, parameters: parameters,
                       verify: Workdir.verifyOutputs) == .upToDate {
            return nil
        }
        let run = try StageRun(workdir: workdir, stage: stage, inputs: inputs, parameters: parameters, previous: previous)
        run.lockKey = key
        keep = true
        return run
    }

    private init(workdir: Workdir, stage: String, inputs: [String], parameters: [String: String], previous: Manifest?) throws {
        self.workdir = workdir
        self.stage = stage
        self.inputs = inputs
        self.parameters = parameters
        self.previous = previous
        previousDir = previous == nil ? nil : workdir.stageDir(stage)
        inputRecords = try inputs.map { try FileRecord.of(path: $0) }
        StageRun.counter += 1
        tempDir = workdir.path + "/.tmp-\(StageRun.flatName(stage))-\(getpid())-\(StageRun.counter)"
        FileSystem.remove(tempDir)
        try FileSystem.makeDirectory(tempDir)
    }

    deinit {
        if !finished { FileSystem.remove(tempDir) }
        if let lockKey { StageLock.release(lockKey) }
    }

    /// `stage` as one path component without `-` between digits, for temporary names (`chunk/shards/0-of-4` →
    /// `chunk.shard.0of4`), so `cleanStale` still finds the pid as the first all-digit component.
    static func flatName(_ stage: String) -> String {
        stage.replacingOccurrences(of: "/shards/", with: ".shard.").replacingOccurrences(of: "-of-", with: "of")
            .replacingOccurrences(of: "/", with: ".")
    }

    /// The path of an output file inside the temporary folder.
    public func output(_ name: String) -> String { tempDir + "/" + name }

    /// Hashes the outputs, writes `manifest.json` last, makes everything durable, and swaps the folder into place.
    @discardableResult
    public func commit() throws -> Manifest {
        let files = FileSystem.listFiles(tempDir).filter { $0 != "manifest.json" }
        var outputs: [FileRecord] = []
        for f in files { outputs.append(try FileRecord.of(path: tempDir + "/" + f, name: f, identity: true)) }
        let end = Date()
        let manifest = Manifest(stage: stage, toolVersion: PipelineVersion.current, parameters: parameters,
                                inputs: inputRecords, outputs: outputs,
                                started: Timestamp.iso8601(startedAt), finished: Timestamp.iso8601(end),
                                seconds: (end.timeIntervalSince(startedAt) * 1000).rounded() / 1000, records: records)
        try FileSystem.atomicWrite(try JSON.encode(manifest, pretty: true) + [0x0A], to: tempDir + "/manifest.json")
        FileSystem.syncDirectory(tempDir)
        let target = workdir.stageDir(stage)
        try FileSystem.makeDirectory((target as NSString).deletingLastPathComponent)
        // A stage folder keeps its shards (not outputs of the stage: not in the manifest) across the swap.
        if !stage.contains("/"), FileSystem.isDirectory(target + "/shards") {
            guard rename(target + "/shards", tempDir + "/shards") == 0 else {
                throw CoreError.io(path: target + "/shards", operation: "rename", errno: errno)
            }
        }
        if FileSystem.exists(target) {
            if pipeline_rename_exchange(tempDir, target) != 0 {
                // No atomic exchange on this system: move the old folder aside first.
                let aside = workdir.path + "/.old-\(StageRun.flatName(stage))-\(getpid())-\(StageRun.counter)"
                guard rename(target, aside) == 0 else { throw CoreError.io(path: target, operation: "rename", errno: errno) }
                guard rename(tempDir, target) == 0 else { throw CoreError.io(path: target, operation: "rename", errno: errno) }
                FileSystem.remove(aside)
            } else {
                FileSystem.remove(tempDir) // now holds the previous output
            }
        } else if rename(tempDir, target) != 0 {
            throw CoreError.io(path: target, operation: "rename", errno: errno)
        }
        FileSystem.syncDirectory(workdir.path)
        finished = true
        return manifest
    }

    /// Drops the temporary folder; the previous output stays as it was.
    public func abort() {
        FileSystem.remove(tempDir)
        finished = true
    }
}

/// The work directory's lock for a stage command run on its own (`pipeline index` while another `pipeline index`
/// or a `pipeline run` writes the same folder fails at once, with one error line). Held from `StageRun.begin`
/// until the run ends; reference-counted per process; not taken by the stages `pipeline run` starts
/// (`PIPELINE_RUN_PARENT` is set: the run holds it).
enum StageLock {
    private static let mutex = NSLock()
    nonisolated(unsafe) private static var held: [String: (lock: WorkdirLock, count: Int)] = [:]

    static func acquire(_ workdir: String) throws -> String? {
        let env = ProcessInfo.processInfo.environment
        // A stage of `pipeline run` (a child, or a Slurm job of a run that waits for it): the run holds the lock.
        guard env["PIPELINE_RUN_PARENT"] == nil, env["PIPELINE_LOCK_HELD"] != "1" else { return nil }
        let key = URL(fileURLWithPath: workdir).standardizedFileURL.path
        mutex.lock(); defer { mutex.unlock() }
        if let h = held[key] { held[key] = (h.lock, h.count + 1); return key }
        held[key] = (try WorkdirLock(workdir: workdir, wait: false), 1)
        return key
    }

    static func release(_ key: String) {
        mutex.lock(); defer { mutex.unlock() }
        guard let h = held[key] else { return }
        held[key] = h.count > 1 ? (h.lock, h.count - 1) : nil
    }
}

public enum Timestamp {
    /// UTC ISO 8601 with milliseconds (`2026-11-23T06:10:01.123Z`), formatted by hand: Foundation's formatter
    /// loads ICU data (several MB) into every stage just for this.
    public static func iso8601(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(ms / 1000)
        var tm = tm()
        gmtime_r(&seconds, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1,
                      Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec), Int(ms % 1000))
    }
}

public enum Machine {
    public static var cores: Int { Int(pipeline_cpu_count()) }

    /// Physical memory in bytes.
    public static var memoryBytes: Double {
        Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Throws before an allocation of `bytes` that the machine cannot hold (instead of a crash or the kernel's
    /// out-of-memory killer): "`path`: `what` needs 37.2 GiB, the machine has 23.4 GiB".
    public static func checkMemory(bytes: Double, for what: String, path: String) throws {
        guard bytes.isFinite, bytes <= memoryBytes else {
            throw CoreError.resources("\(path): \(what) needs \(gib(bytes)), the machine has \(gib(memoryBytes))")
        }
    }

    /// `bytes` as GiB with one decimal.
    public static func gib(_ bytes: Double) -> String {
        bytes.isFinite ? String(format: "%.1f GiB", bytes / 1_073_741_824) : "more memory than exists"
    }
}
