import ArgumentParser
import Core
import Foundation
import Index

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Embed every chunk with a native sentence-transformers encoder and build a SQLite search index.",
        discussion: """
        Reads <workdir>/chunk/chunks.jsonl.zst (and <workdir>/ingest/documents.jsonl.zst when present) and writes \
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
        """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Sentence-transformers model folder.", valueName: "dir"))
    var model = "models/all-MiniLM-L6-v2"

    @Flag(name: .long, help: "Also write index.sqlite.zst (the database zstd-compressed) beside it, as the nightly run keeps it.")
    var archive = false

    @Option(name: .long, help: ArgumentHelp("Benchmark only: embed the texts of this chunks file (no index), print the seconds.",
                                             valueName: "file", visibility: .hidden))
    var embedOnly: String?

    @Option(name: .long, help: ArgumentHelp("Benchmark only: write the --embed-only vectors here (float32 LE).",
                                             valueName: "file", visibility: .hidden))
    var vectorsOut: String?

    func run() throws {
        global.apply()
        if let file = embedOnly {
            try embedBenchmark(file)
            return
        }
        guard let s = try IndexBuilder.run(workdir: global.work, modelDir: model, force: global.force, archive: archive) else {
            print("index: up to date")
            return
        }
        print("index: \(s.chunks) chunks (\(s.embedded) embedded, \(s.reused) reused), \(s.documents) documents → "
              + "\(global.work.stageDir("index"))/\(IndexBuilder.databaseName)")
    }
}

extension IndexCommand {
    /// `--embed-only`: model load, tokenisation and encoding of every text of a chunks file, timed apart.
    func embedBenchmark(_ file: String) throws {
        let t0 = Date()
        let embedder = try SentenceEmbedder(folder: model)
        let texts = try JSONLReader.readAll(ChunkRecord.self, path: file).map(\.text)
        let t1 = Date()
        let vecs = embedder.embed(texts)
        let t2 = Date()
        let tokens = texts.reduce(0) { $0 + embedder.encode($1).count }
        if let out = vectorsOut {
            try FileSystem.atomicWrite(vecs.withUnsafeBytes { Array($0) }, to: out)
        }
        print(String(format: "{\"texts\": %d, \"tokens\": %d, \"load_seconds\": %.4f, \"embed_seconds\": %.4f}",
                     texts.count, tokens, t1.timeIntervalSince(t0), t2.timeIntervalSince(t1)))
    }
}
