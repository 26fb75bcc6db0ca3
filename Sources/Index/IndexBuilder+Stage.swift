import ArgumentParser
import Core
import Foundation

/// `pipeline index`.
extension IndexBuilder: ShardedStage {
    /// The options of `pipeline index` and the keys of `[index]`.
    public struct Arguments: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("Sentence-transformers model folder.", valueName: "dir"))
        public var model = "models/all-MiniLM-L6-v2"

        @Flag(name: .long,
              help: """
                  Also write index.sqlite.zst (the database zstd-compressed) beside it, \
                  as the nightly run keeps it.
                  """)
        public var archive = false

        /// The defaults.
        public init() {}
    }

    /// The subcommand and config section: `index`.
    public static var name: String { stage }
    public static let abstract =
        "Embed every chunk with a native sentence-transformers encoder and build a SQLite search index."
    public static let discussion = """
        Reads <workdir>/chunk/chunks.jsonl.zst (and the documents.jsonl.zst of <workdir>/dedup, else of \
        <workdir>/ingest, when present) and writes \
        <workdir>/index/index.sqlite with the tables meta (model, dimension, model_sha256, pooling, …), documents, \
        chunks (id, chunk_id, doc_id, source, page, start_index, text, text_sha256), embeddings (text_sha256, \
        vector: float32 little-endian, L2-normalised) and chunks_fts (FTS5 over chunks.text, for BM25).

        The encoder is a BERT model in sentence-transformers layout (config.json, model.safetensors, tokenizer.json \
        or vocab.txt, sentence_bert_config.json, 1_Pooling/config.json), computed on OpenBLAS with both cores; \
        the default is models/all-MiniLM-L6-v2 (`make model` fetches it).

        Incremental: a chunk whose text was already embedded by the same model file (sha256) in the previous \
        index is not embedded again; chunks gone from the input are gone from the index. Up to date when the \
        chunks, documents and model files are unchanged (--force re-runs). --archive adds index.sqlite.zst \
        (read it back with `zstd -d index.sqlite.zst`).
        """

    /// Builds the index and reports the chunks, documents and embeddings.
    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        result(try run(workdir: context.workdir, modelDir: a.model, force: context.force, archive: a.archive),
               context.workdir)
    }

    /// Embeds the chunks of shard `shard`'s blocks into `index/shards/I-of-N/vectors.bin`.
    public static func runShard(_ a: Arguments, shard: Shard, in context: StageContext) throws -> StageResult {
        let what = "index shard \(shard)"
        guard let s = try runShard(workdir: context.workdir, modelDir: a.model, shard: shard,
                                   force: context.force) else { return StageResult(stage: what, status: .upToDate) }
        return StageResult(stage: what, status: .ran, lines: [
            "\(what): \(s.chunks) chunks, \(s.embedded) texts embedded, \(s.reused) reused → "
                + context.workdir.stageDir(Workdir.shardStage(stage, shard)) + "/" + vectorsName,
        ])
    }

    /// Builds the database from the `shards` shards' vectors.
    public static func merge(_ a: Arguments, shards: Int, in context: StageContext) throws -> StageResult {
        result(try merge(workdir: context.workdir, modelDir: a.model, shards: shards, force: context.force,
                         archive: a.archive), context.workdir)
    }

    static func result(_ summary: Summary?, _ work: Workdir) -> StageResult {
        guard let s = summary else { return upToDate }
        return StageResult(stage: name, status: .ran, lines: [
            "index: \(s.chunks) chunks (\(s.embedded) embedded, \(s.reused) reused), \(s.documents) documents → "
                + "\(work.stageDir("index"))/\(databaseName)",
        ])
    }
}
