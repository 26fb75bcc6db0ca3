import ArgumentParser
import Foundation

/// One task of a sharded stage: shard `index` of `count`, 0-based (`--shard 2/8`).
///
/// The partition depends only on the data, never on the machine: record streams are cut into blocks of
/// `blockSize` consecutive units (documents, lines), block `b` belonging to shard `b % count`; files go by their
/// content hash. Re-running a shard anywhere gives the same bytes.
public struct Shard: Hashable, Sendable, Codable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// Units (documents, lines) per block of a record stream.
    public static let blockSize = 64

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw CoreError.usage("a shard is I/N with 0 ≤ I < N (0-based), not \(index)/\(count)")
        }
        self.index = index; self.count = count
    }

    /// `I/N`.
    public var description: String { "\(index)/\(count)" }
    /// The shard's folder under `<stage>/shards/`: `I-of-N`.
    public var folder: String { "\(index)-of-\(count)" }

    /// Whether block `block` of a record stream is this shard's.
    public func owns(block: Int) -> Bool { block % count == index }

    /// Whether the unit at `position` of a record stream (its `blockSize` block) is this shard's.
    public func owns(position: Int) -> Bool { owns(block: position / Shard.blockSize) }

    /// Whether a file whose sha256 is `hex` is this shard's (by its first 16 hex digits).
    public func owns(sha256 hex: String) -> Bool {
        Int((UInt64(hex.prefix(16), radix: 16) ?? 0) % UInt64(count)) == index
    }

    /// The task's shard from the scheduler's environment: Slurm's `SLURM_ARRAY_TASK_ID` with
    /// `SLURM_ARRAY_TASK_COUNT`, or Kubernetes' `JOB_COMPLETION_INDEX` with `shards`. Nil outside an array job.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment,
                                       shards: Int?) throws -> Shard? {
        if let id = env["SLURM_ARRAY_TASK_ID"].flatMap({ Int($0) }),
           let n = env["SLURM_ARRAY_TASK_COUNT"].flatMap({ Int($0) }) {
            let first = env["SLURM_ARRAY_TASK_MIN"].flatMap { Int($0) } ?? 0
            return try Shard(index: id - first, count: shards ?? n)
        }
        if let id = env["JOB_COMPLETION_INDEX"].flatMap({ Int($0) }) {
            guard let n = shards else {
                throw CoreError.usage("JOB_COMPLETION_INDEX is set: give the number of shards with --shards N")
            }
            return try Shard(index: id, count: n)
        }
        return nil
    }
}

extension Shard: ExpressibleByArgument {
    public init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]),
              let s = try? Shard(index: i, count: n) else { return nil }
        self = s
    }
}

/// The options of a sharded stage's command: which shard this task is.
public struct ShardOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Run only shard I of N (0-based), writing <stage>/shards/I-of-N/ (default: from SLURM_ARRAY_TASK_ID and "
            + "SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX with --shards; none: the whole stage).",
        valueName: "I/N"))
    public var shard: Shard?

    @Option(name: .long, help: ArgumentHelp("The number of shards, for JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs).",
                                             valueName: "N"))
    public var shards: Int?

    public init() {}

    /// The shard this task runs, if any: `--shard`, else the scheduler's environment.
    public func resolved() throws -> Shard? {
        if let shard { return shard }
        return try Shard.fromEnvironment(shards: shards)
    }
}

/// A stage whose work splits into independent shards, and whose outputs a merge builds from them.
///
/// `runShard` writes `<folder>/shards/I-of-N/` with its own manifest (atomically; up to date when its inputs and
/// parameters are unchanged, so a finished shard is skipped on a re-run). `merge` builds the stage's normal outputs
/// and manifest from the N shards: byte-identical to `run`, for every N.
public protocol ShardedStage: Stage {
    static func runShard(_ arguments: Arguments, shard: Shard, in context: StageContext) throws -> StageResult
    static func merge(_ arguments: Arguments, shards: Int, in context: StageContext) throws -> StageResult
}

extension Workdir {
    /// The folder of a shard of a stage's folder: `<folder>/shards/I-of-N` (a `StageRun` stage name).
    public static func shardStage(_ folder: String, _ shard: Shard) -> String { folder + "/shards/" + shard.folder }
}

/// Reads a file (plain or zstd) line by line on demand, newline included: the merges interleave several shards'
/// outputs by block.
public final class LineReader {
    private let reader: ByteReader
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0, end = 0
    private var eof = false
    public let path: String

    public init(path: String) throws {
        self.path = path
        reader = try ByteReader(path: path)
    }

    /// The next line with its `\n` (the last one may lack it); nil at the end.
    public func next() throws -> [UInt8]? {
        var line: [UInt8] = []
        while true {
            if start == end {
                if eof { return line.isEmpty ? nil : line }
                let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                if n == 0 { eof = true; continue }
                start = 0; end = n
            }
            if let nl = buffer[start..<end].firstIndex(of: 0x0A) {
                line.append(contentsOf: buffer[start...nl])
                start = nl + 1
                return line
            }
            line.append(contentsOf: buffer[start..<end])
            start = end
        }
    }

    /// The next `count` bytes; an error naming the file when it ends first.
    public func next(bytes count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            if start == end {
                let n = eof ? 0 : try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                if n == 0 { eof = true; throw CoreError.truncated(path: path) }
                start = 0; end = n
            }
            let take = min(count - out.count, end - start)
            out.append(contentsOf: buffer[start..<(start + take)])
            start += take
        }
        return out
    }
}

/// What one shard of a record-stream stage wrote per block it owns: the number of output lines of that block.
/// Stored as `blocks.json` in the shard's folder; the merge interleaves the shards' outputs by it.
public struct ShardBlocks: Codable, Equatable, Sendable {
    public var shard: Shard
    /// The owned blocks that have output, in increasing order, and their output lines.
    public private(set) var blocks: [Int] = []
    public private(set) var lines: [Int] = []

    public init(shard: Shard) { self.shard = shard }

    /// Counts `n` more lines in block `block` (blocks come in increasing order).
    public mutating func add(block: Int, lines n: Int) {
        guard n > 0 else { return }
        if blocks.last == block { lines[lines.count - 1] += n } else { blocks.append(block); lines.append(n) }
    }

    /// The output lines of block `block`.
    public func lines(of block: Int) -> Int {
        guard let i = blocks.firstIndex(of: block) else { return 0 }
        return lines[i]
    }
}

/// Builds a stage output from its shards' outputs, block by block in order, as one stream: the bytes equal what the
/// unsharded stage writes, for every N.
public enum ShardMerge {
    /// The shards of `folder` (all N), each up to date for `inputs` and `parameters` (with its `shard` parameter);
    /// an error naming the first missing or stale one.
    public static func checkShards(workdir: Workdir, folder: String, shards: Int, inputs: [String],
                                   parameters: [String: String]) throws -> [String] {
        var dirs: [String] = []
        for i in 0..<shards {
            let s = try Shard(index: i, count: shards)
            let stage = Workdir.shardStage(folder, s)
            var p = parameters
            p["shard"] = s.description
            guard let m = workdir.manifest(stage) else {
                throw CoreError.usage("\(folder): shard \(s) has not run (no \(workdir.manifestPath(stage)))")
            }
            let state = m.freshness(stageDir: workdir.stageDir(stage), inputs: inputs, parameters: p,
                                    verify: Workdir.verifyOutputs)
            guard state == .upToDate else {
                throw CoreError.usage("\(folder): shard \(s) is \(state.label); run it again")
            }
            dirs.append(workdir.stageDir(stage))
        }
        return dirs
    }

    /// Interleaves `file` of every shard folder in `dirs` by their `blocks.json` into `writer`; returns the lines.
    @discardableResult
    public static func interleave(_ file: String, shardDirs dirs: [String], into writer: ZstdWriter) throws -> Int {
        let readers = try dirs.map { try LineReader(path: $0 + "/" + file) }
        var total = 0
        try forEachBlock(shardDirs: dirs) { i, n in
            for _ in 0..<n {
                guard let line = try readers[i].next() else { throw CoreError.truncated(path: readers[i].path) }
                try writer.write(line)
                total += 1
            }
        }
        return total
    }

    /// The blocks of all shards in `dirs` (their `blocks.json`) in block order: `body(shard, units)` for each.
    public static func forEachBlock(shardDirs dirs: [String], _ body: (Int, Int) throws -> Void) throws {
        let blocks = try dirs.map { dir -> ShardBlocks in
            let p = dir + "/blocks.json"
            do {
                return try JSONDecoder().decode(ShardBlocks.self, from: Data(try ByteReader(path: p).readAll()))
            } catch {
                throw CoreError.badRecord(path: p, line: 1, reason: "unreadable shard blocks: \(error)")
            }
        }
        var next = [Int](repeating: 0, count: dirs.count)   // each shard's next block (an index into its blocks)
        let last = blocks.compactMap { $0.blocks.last }.max() ?? -1
        guard last >= 0 else { return }
        for b in 0...last {
            let i = b % dirs.count
            guard next[i] < blocks[i].blocks.count, blocks[i].blocks[next[i]] == b else { continue }
            try body(i, blocks[i].lines[next[i]])
            next[i] += 1
        }
    }
}

extension Workdir {
    /// The state of each shard under `<folder>/shards/`: `done`, `running` (a live process writes it),
    /// `stale (why)`, or `missing` (no manifest: it failed or has not run), by name (`I-of-N`).
    public func shardStates(_ folder: String, verify: Bool = false) -> [(name: String, state: String)] {
        let dir = stageDir(folder) + "/shards"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var counts = Set<Int>()
        for n in names { if let c = n.split(separator: "-").last.flatMap({ Int($0) }) { counts.insert(c) } }
        let temps = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        var out: [(String, String)] = []
        for n in counts.sorted() {
            for i in 0..<n {
                guard let shard = try? Shard(index: i, count: n) else { continue }
                let stage = Workdir.shardStage(folder, shard)
                let prefix = ".tmp-" + StageRun.flatName(stage) + "-"
                let running = temps.contains { t in
                    t.hasPrefix(prefix) && t.dropFirst(prefix.count).split(separator: "-").first
                        .flatMap { Int32($0) }.map(Workdir.isAlive) == true
                }
                switch freshness(stage, verify: verify) {
                case _ where running: out.append((shard.folder, "running"))
                case .upToDate: out.append((shard.folder, "done"))
                case .missing: out.append((shard.folder, "missing"))
                case let other: out.append((shard.folder, other.label))
                }
            }
        }
        return out
    }
}
