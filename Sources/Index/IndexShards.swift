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
        /// Distinct chunk texts whose vector the stage's current database already held (same model file).
        public var reused = 0
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
        let previous = try previousVectors(workdir: workdir, embedder: embedder)
        let out = try FileOutput(path: run.output(vectorsName))
        var summary = ShardSummary()
        // In order of first appearance: the vector when the previous database had it, else embedded at the flush.
        var pending: [(hash: String, text: String, vector: [UInt8]?)] = []
        var toEmbed = 0
        var seen = Set<String>()
        let progress = Progress("index shard \(shard)", unit: "chunks")

        func flush() throws {
            guard !pending.isEmpty else { return }
            let vecs = embedder.embed(pending.filter { $0.vector == nil }.map(\.text))
            let size = embedder.dimension * 4
            var k = 0
            try vecs.withUnsafeBytes { raw in
                for p in pending {
                    try out.write(p.hash)
                    if let v = p.vector { try out.write(v); continue }
                    try out.write(UnsafeRawBufferPointer(rebasing: raw[(k * size)..<((k + 1) * size)]))
                    k += 1
                }
            }
            summary.embedded += k
            pending.removeAll(keepingCapacity: true)
            toEmbed = 0
        }

        var position = 0
        try JSONLReader.forEach(ChunkRecord.self, path: src.chunks) { c, _ in
            defer { position += 1 }
            guard shard.owns(position: position) else { return }
            summary.chunks += 1
            progress.advance()
            let hash = Hashing.sha256(c.text)
            guard seen.insert(hash).inserted else { return }
            let vector = try previous.flatMap { q -> [UInt8]? in
                q.bind(1, hash)
                defer { q.reset() }
                return try q.step() ? Array(q.blob(0)) : nil
            }
            if vector != nil { summary.reused += 1 } else { toEmbed += 1 }
            pending.append((hash, c.text, vector))
            if toEmbed >= batchSize { try flush() }
        }
        try flush()
        try out.close()
        progress.finish()
        run.records = ["chunks": summary.chunks, "embedded": summary.embedded, "reused": summary.reused]
        try run.commit()
        return summary
    }
}

extension IndexBuilder {
    /// A lookup of vectors by text sha256 in the stage's current database, when it was made with this model file
    /// and dimension (and passes SQLite's quick check); nil otherwise. A shard reuses them as `run` does.
    static func previousVectors(workdir: Workdir, embedder: SentenceEmbedder) throws -> Statement? {
        let path = workdir.stageDir(stage) + "/" + databaseName
        guard FileSystem.exists(path) else { return nil }
        let modelSHA = try Hashing.sha256(path: embedder.folder + "/model.safetensors")
        do {
            let db = try SQLiteDB(path: path, readOnly: true)
            let check = try db.prepare("PRAGMA quick_check(1)")
            guard try check.step(), check.string(0) == "ok" else { return nil }
            let q = try db.prepare("SELECT key, value FROM meta WHERE key IN ('model_sha256', 'dimension')")
            var meta: [String: String] = [:]
            while try q.step() { meta[q.string(0)] = q.string(1) }
            guard meta["model_sha256"] == modelSHA, meta["dimension"] == String(embedder.dimension) else { return nil }
            return try db.prepare("SELECT vector FROM embeddings WHERE text_sha256 = ?")
        } catch {
            log.warning("previous index unusable, embedding everything again: \(error)")
            return nil
        }
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
