import Core
import Foundation

/// Builds `index/index.sqlite` from the chunks (and the ingest document list when present).
///
/// Tables: `meta(key, value)`; `documents`; `chunks(id, chunk_id, doc_id, source, page, start_index, text,
/// text_sha256)`; `embeddings(text_sha256, vector)` — float32 little-endian, L2-normalised, one per distinct
/// chunk text; `chunks_fts` — FTS5 (unicode61, diacritics folded) over `chunks.text`, rowid = `chunks.id`.
///
/// Incremental: the previous database is attached read-only and the vector of every chunk text it already
/// embedded with the same model file (sha256) is copied instead of recomputed; chunks no longer in the input
/// are simply not carried over. The new database is built fresh in the run's temporary folder.
public enum IndexBuilder {
    /// The stage's name and folder.
    public static let stage = "index"
    /// The database's file name in the stage folder.
    public static let databaseName = "index.sqlite"
    /// The schema version recorded in the `meta` table.
    public static let schemaVersion = "1"

    /// What a run of the stage did.
    public struct Summary: Sendable {
        /// Chunks indexed.
        public var chunks = 0
        /// Documents recorded.
        public var documents = 0
        /// Chunk texts embedded in this run.
        public var embedded = 0
        /// Vectors copied from the previous database.
        public var reused = 0
    }

    /// The model folder files whose contents decide the vectors (inputs of the stage).
    public static func modelInputs(_ folder: String) -> [String] {
        ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "sentence_bert_config.json",
         "1_Pooling/config.json"].map { folder + "/" + $0 }.filter { FileSystem.exists($0) }
    }

    /// Runs the stage; nil when it is up to date. `archive`: also write `index.sqlite.zst` beside the database
    /// (what the nightly run keeps).
    public static func run(workdir: Workdir, modelDir given: String, force: Bool,
                           archive: Bool = false) throws -> Summary? {
        try assemble(workdir: workdir, modelDir: given, force: force, archive: archive, shards: nil)
    }

    /// The stage's database from the vectors of its `shards` shards (`runShard`), byte-identical to `run`'s; up to
    /// date like `run`. An error names the first shard that is missing or stale.
    public static func merge(workdir: Workdir, modelDir given: String, shards: Int, force: Bool,
                             archive: Bool = false) throws -> Summary? {
        try assemble(workdir: workdir, modelDir: given, force: force, archive: archive, shards: shards)
    }

    /// What the stage reads: the chunks, the model folder (its absolute path and name), the documents if present.
    struct Sources {
        let chunks: String
        let documents: String?
        let modelDir: String
        let modelName: String
        /// What a shard reads: the chunks and the model files.
        var shardInputs: [String] { [chunks] + modelInputs(modelDir) }
        /// What the whole stage (or its merge) reads.
        var inputs: [String] { [chunks] + (documents.map { [$0] } ?? []) + modelInputs(modelDir) }
        /// A shard's parameters (without its `shard`); the stage's without `archive`.
        var parameters: [String: String] { ["model": modelName, "schema": schemaVersion] }

        init(workdir: Workdir, modelDir given: String) throws {
            // Recorded as an absolute path, so `search` finds the index's own model from any directory.
            modelDir = URL(fileURLWithPath: given).standardizedFileURL.path
            chunks = workdir.stageDir("chunk") + "/chunks.jsonl.zst"
            guard FileSystem.exists(chunks) else {
                throw IndexError.search("\(chunks): no chunks (run `pipeline chunk` first)")
            }
            guard FileSystem.exists(modelDir + "/config.json") else {
                throw IndexError.model(path: modelDir,
                                       reason: "no model folder here (run `make model`, or pass --model DIR)")
            }
            let docs = workdir.stageDir(workdir.textSource) + "/documents.jsonl.zst"
            documents = FileSystem.exists(docs) ? docs : nil
            modelName = URL(fileURLWithPath: modelDir).standardizedFileURL.lastPathComponent
        }
    }

    /// The whole stage, or (`shards` set) its merge.
    static func assemble(workdir: Workdir, modelDir given: String, force: Bool, archive: Bool,
                         shards: Int?) throws -> Summary? {
        let src = try Sources(workdir: workdir, modelDir: given)
        var parameters = src.parameters
        if archive { parameters["archive"] = "zstd" }
        let dirs = try shards.map {
            try ShardMerge.checkShards(workdir: workdir, folder: stage, shards: $0, inputs: src.shardInputs,
                                       parameters: src.parameters)
        }
        guard let run = try StageRun.begin(workdir: workdir, stage: stage, inputs: src.inputs,
                                           parameters: parameters, force: force) else {
            return nil
        }
        let embedder = try SentenceEmbedder(folder: src.modelDir)
        let previous = run.previousDir.map { $0 + "/" + databaseName }.flatMap { FileSystem.exists($0) ? $0 : nil }
        let summary = try build(chunksPath: src.chunks, documentsPath: src.documents, embedder: embedder,
                                output: run.output(databaseName), previous: dirs == nil ? previous : nil,
                                displayOutput: workdir.stageDir(stage) + "/" + databaseName,
                                shardVectors: try dirs.map { try ShardVectors(shardDirs: $0,
                                                                              dimension: embedder.dimension) })
        run.records["chunks"] = summary.chunks
        run.records["documents"] = summary.documents
        run.records["embedded"] = summary.embedded
        run.records["reused"] = summary.reused
        if archive {
            try Zstd.compressFile(run.output(databaseName), to: run.output(databaseName + ".zst"))
        }
        try run.commit()
        return summary
    }

    static let schema = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE documents(doc_id TEXT PRIMARY KEY, source TEXT, sha256 TEXT, bytes INTEGER, pages INTEGER,
            title TEXT, author TEXT, created TEXT, status TEXT, error TEXT);
        CREATE TABLE chunks(id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL,
            source TEXT NOT NULL, page INTEGER, start_index INTEGER NOT NULL, text TEXT NOT NULL,
            text_sha256 TEXT NOT NULL);
        CREATE INDEX chunks_doc ON chunks(doc_id);
        CREATE INDEX chunks_text_sha256 ON chunks(text_sha256);
        CREATE TABLE embeddings(text_sha256 TEXT PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID;
        CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2');
        """

    /// Writes a new database at `output` (which must not exist).
    public static func build(chunksPath: String, documentsPath: String?, embedder: SentenceEmbedder,
                             output: String, previous: String?, batchSize: Int = 512,
                             displayOutput: String? = nil, shardVectors: ShardVectors? = nil) throws -> Summary {
        var summary = Summary()
        let modelFile = embedder.folder + "/model.safetensors"
        let modelSHA = try Hashing.sha256(path: modelFile)
        let db = try SQLiteDB(path: output, displayPath: displayOutput)
        defer { db.close() }
        try db.exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA page_size=8192;")
        try db.exec(schema)
        // Vectors are staged in a temporary table and copied in key order at the end, so the file's bytes do not
        // depend on which vectors were reused and which computed (a resumed or incremental run equals a fresh one).
        try db.exec("CREATE TEMP TABLE staged(text_sha256 TEXT PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID")
        try db.exec("BEGIN")

        // Reuse from the previous database only when it was made with the same model file and dimension.
        var reuse: Statement? = nil
        if let prev = previous {
            do {
                let attach = try db.prepare("ATTACH DATABASE ? AS prev")
                attach.bind(1, prev)
                try attach.run()
                // A damaged previous database must not block the rebuild: check it before reading from it.
                let check = try db.prepare("PRAGMA prev.quick_check(1)")
                let verdict = try check.step() ? check.string(0) : "no answer"
                guard verdict == "ok" else { throw IndexError.sqlite(path: prev, reason: "quick_check: \(verdict)") }
                let q = try db.prepare("SELECT key, value FROM prev.meta WHERE key IN ('model_sha256', 'dimension')")
                var meta: [String: String] = [:]
                while try q.step() { meta[q.string(0)] = q.string(1) }
                if meta["model_sha256"] == modelSHA, meta["dimension"] == String(embedder.dimension) {
                    reuse = try db.prepare("""
                        INSERT OR IGNORE INTO temp.staged(text_sha256, vector)
                        SELECT text_sha256, vector FROM prev.embeddings WHERE text_sha256 = ?
                        """)
                }
            } catch {
                log.warning("previous index unusable, embedding everything again: \(error)")
                try? db.exec("DETACH DATABASE prev")
                reuse = nil
            }
        }

        if let docs = documentsPath {
            let ins = try db.prepare("""
                INSERT OR REPLACE INTO documents(doc_id, source, sha256, bytes, pages, title, author, created, \
                status, error)
                VALUES (?,?,?,?,?,?,?,?,?,?)
                """)
            // Read leniently: fields absent in older files are stored as NULL.
            try JSONLReader.forEach(Lenient<DocumentRecord>.self, path: docs) { lenient, _ in
                let d = lenient.record
                guard d.status != "duplicate" else { return }  // same bytes and doc_id as an earlier document
                ins.bind(1, d.docID); ins.bind(2, d.ifPresent(.source, d.source))
                ins.bind(3, d.ifPresent(.sha256, d.sha256)); ins.bind(4, d.ifPresent(.bytes, Int(d.bytes)))
                ins.bind(5, d.ifPresent(.pages, d.pages)); ins.bind(6, d.title); ins.bind(7, d.author)
                ins.bind(8, d.created); ins.bind(9, d.ifPresent(.status, d.status)); ins.bind(10, d.error)
                try ins.run()
                summary.documents += 1
            }
        }

        let insChunk = try db.prepare("""
            INSERT INTO chunks(id, chunk_id, doc_id, source, page, start_index, text, text_sha256) \
            VALUES (?,?,?,?,?,?,?,?)
            """)
        let insFTS = try db.prepare("INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)")
        let have = try db.prepare("SELECT 1 FROM temp.staged WHERE text_sha256 = ?")
        let insVec = try db.prepare("INSERT INTO temp.staged(text_sha256, vector) VALUES (?, ?)")
        var pending: [(hash: String, text: String)] = []
        var pendingSet = Set<String>()
        var seenIds = Set<String>()
        let progress = Progress("index", unit: "chunks")

        func flush() throws {
            guard !pending.isEmpty else { return }
            let vecs = embedder.embed(pending.map(\.text))
            let dim = embedder.dimension
            try vecs.withUnsafeBufferPointer { buf in
                for (i, p) in pending.enumerated() {
                    insVec.bind(1, p.hash)
                    insVec.bind(2, floats: UnsafeBufferPointer(rebasing: buf[(i * dim)..<((i + 1) * dim)]))
                    try insVec.run()
                }
            }
            summary.embedded += pending.count
            pending.removeAll(keepingCapacity: true)
            pendingSet.removeAll(keepingCapacity: true)
        }

        try JSONLReader.forEach(ChunkRecord.self, path: chunksPath) { c, line in
            guard seenIds.insert(c.chunkId).inserted else {
                throw IndexError.badInput(path: chunksPath, line: line, reason: "duplicate chunk_id \(c.chunkId)")
            }
            let hash = Hashing.sha256(c.text)
            summary.chunks += 1
            progress.advance()
            let id = summary.chunks
            insChunk.bind(1, id); insChunk.bind(2, c.chunkId); insChunk.bind(3, c.docId); insChunk.bind(4, c.source)
            insChunk.bind(5, c.page); insChunk.bind(6, c.startIndex); insChunk.bind(7, c.text); insChunk.bind(8, hash)
            try insChunk.run()
            insFTS.bind(1, id); insFTS.bind(2, c.text)
            try insFTS.run()
            // A merge reads every chunk's place in its shard's vectors, needed or not.
            let computed = try shardVectors?.take(position: id - 1, hash: hash)
            if pendingSet.contains(hash) { return }
            have.bind(1, hash)
            let exists = try have.step()
            have.reset()
            if exists { return }
            if let shardVectors {
                // The first chunk of this text in the whole input is also the first in its shard.
                guard let vector = computed else { throw shardVectors.missing(hash, line: line) }
                insVec.bind(1, hash)
                try vector.withUnsafeBytes { insVec.bind(2, blob: $0); try insVec.run() }
                summary.embedded += 1
                return
            }
            if let r = reuse {
                r.bind(1, hash)
                try r.run()
                if db.changes > 0 { summary.reused += 1; return }
            }
            pending.append((hash, c.text)); pendingSet.insert(hash)
            if pending.count >= batchSize { try flush() }
        }
        try flush()
        progress.finish()
        try db.exec("INSERT INTO embeddings(text_sha256, vector) "
                    + "SELECT text_sha256, vector FROM temp.staged ORDER BY text_sha256")
        try db.exec("DELETE FROM temp.staged")

        let meta = try db.prepare("INSERT INTO meta(key, value) VALUES (?, ?)")
        let entries: [(String, String)] = [
            ("schema_version", schemaVersion), ("model", embedder.modelName), ("dimension", String(embedder.dimension)),
            ("model_sha256", modelSHA), ("pooling", embedder.pooling.rawValue), ("normalization", "l2"),
            ("max_seq_length", String(embedder.maxSeqLength)), ("vector_format", "float32-le"),
            ("chunks", String(summary.chunks)), ("fts_tokenizer", "unicode61 remove_diacritics 2"),
        ]
        for (k, v) in entries { meta.bind(1, k); meta.bind(2, v); try meta.run() }
        try db.exec("COMMIT")
        if reuse != nil { reuse = nil }
        if previous != nil { try? db.exec("DETACH DATABASE prev") }
        try db.exec("INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')")
        return summary
    }
}
