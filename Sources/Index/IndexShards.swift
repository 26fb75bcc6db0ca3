import Core
import Foundation

extension IndexBuilder {
    /// A shard's vectors: per distinct chunk text of its blocks, in the order of first appearance, the text's
    /// sha256 (64 hex digits) and its `dimension` float32 values (little-endian).
    static let vectorsName = "vectors.bin"

    /// What one shard of the index did.
    public struct ShardSummary: Sendable {
        /// Chunks of the shard's blocks.
        public var chunks = 0
        /// Distinct chunk texts embedded.
        public var embedded = 0
    }

    /// Shard `shard` of the index: embeds the distinct texts of the chunks of its blocks (`Shard.blockSize`
    /// chunks, in the order of `chunk/chunks.jsonl.zst`) into `index/shards/I-of-N/vectors.bin`; the database is
    /// built by `merge`. Vectors are batch-invariant, so they are the bits a run without shards computes. Nil when
    /// the shard is up to date.
    public static func runShard(workdir: Workdir, modelDir given: String, shard: Shard,
                                force: Bool, batchSize: Int = 512) throws -> ShardSummary? {
        let src = try Sources(workdir: workdir, modelDir: given)
        var parameters = src.parameters
        parameters["shard"] = shard.description
        guard let run = try StageRun.begin(workdir: workdir, stage: Workdir.shardStage(stage, shard),
                                           inputs: src.shardInputs, parameters: parameters, force: force) else {
            return nil
        }
        let embedder = try SentenceEmbedder(folder: src.modelDir)
        let out = try FileOutput(path: run.output(vectorsName))
        var summary = ShardSummary()
        var pending: [(hash: String, text: String)] = []
        var seen = Set<String>()
        let progress = Progress("index shard \(shard)", unit: "chunks")

        func flush() throws {
            guard !pending.isEmpty else { return }
            let vecs = embedder.embed(pending.map(\.text))
            let dim = embedder.dimension
            try vecs.withUnsafeBytes { raw in
                for (i, p) in pending.enumerated() {
                    try out.write(p.hash)
                    try out.write(UnsafeRawBufferPointer(rebasing: raw[(i * dim * 4)..<((i + 1) * dim * 4)]))
                }
            }
            summary.embedded += pending.count
            pending.removeAll(keepingCapacity: true)
        }

        var position = 0
        try JSONLReader.forEach(ChunkRecord.self, path: src.chunks) { c, _ in
            defer { position += 1 }
            guard shard.owns(position: position) else { return }
            summary.chunks += 1
            progress.advance()
            let hash = Hashing.sha256(c.text)
            guard seen.insert(hash).inserted else { return }
            pending.append((hash, c.text))
            if pending.count >= batchSize { try flush() }
        }
        try flush()
        try out.close()
        progress.finish()
        run.records = ["chunks": summary.chunks, "embedded": summary.embedded]
        try run.commit()
        return summary
    }
}

/// The vectors the shards of the index computed, read in the order the merge meets their chunks.
public final class ShardVectors {
    private let readers: [LineReader]
    private var seen: [Set<String>]
    private let dimension: Int

    /// The `vectors.bin` of each shard folder (all N, in shard order).
    public init(shardDirs dirs: [String], dimension: Int) throws {
        readers = try dirs.map { try LineReader(path: $0 + "/" + IndexBuilder.vectorsName) }
        seen = Array(repeating: [], count: dirs.count)
        self.dimension = dimension
    }

    /// For the chunk at `position` (0-based, every chunk in order) whose text has sha256 `hash`: the vector's
    /// bytes when it is the first chunk of that text in its shard (the shard computed it there), else nil.
    func take(position: Int, hash: String) throws -> [UInt8]? {
        let i = (position / Shard.blockSize) % readers.count
        guard seen[i].insert(hash).inserted else { return nil }
        let record = try readers[i].next(bytes: 64 + dimension * 4)
        guard record[0..<64].elementsEqual(hash.utf8) else {
            throw IndexError.badInput(path: readers[i].path, line: seen[i].count,
                                      reason: "vector of another text than chunk \(position + 1)'s: "
                                          + "the shard was made from other chunks; run it again")
        }
        return Array(record[64...])
    }

    /// The error for a text whose vector no shard holds (not reachable with shards of the same chunks).
    func missing(_ hash: String, line: Int) -> IndexError {
        .badInput(path: readers.first?.path ?? IndexBuilder.vectorsName, line: line,
                  reason: "no shard holds the vector of text \(hash.prefix(16))")
    }
}
