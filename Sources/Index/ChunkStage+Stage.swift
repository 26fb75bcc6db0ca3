import ArgumentParser
import Core
import Foundation

extension ChunkStage.Unit: ExpressibleByArgument {}

/// `pipeline chunk`: pages → overlapping chunks, as LangChain's RecursiveCharacterTextSplitter.
extension ChunkStage: ShardedStage {
    /// The options of `pipeline chunk` and the keys of `[chunk]`.
    public struct Arguments: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("Maximum chunk length in code points.", valueName: "n"))
        public var size: Int = 1024

        @Option(name: .long, help: ArgumentHelp("Overlap between consecutive chunks in code points (< size).",
                                                 valueName: "n"))
        public var overlap: Int = 128

        @Option(name: .long, help: ArgumentHelp("Split each page (page) or each whole document (document).",
                                                 valueName: "unit"))
        public var unit: ChunkStage.Unit = .page

        public init() {}

        public func validate() throws {
            if let problem = RecursiveChunker.problem(size: size, overlap: overlap) { throw ValidationError(problem) }
        }
    }

    public static let abstract =
        "Split the ingested pages into overlapping chunks, exactly as LangChain's RecursiveCharacterTextSplitter."
    public static let discussion = """
        Reads <workdir>/dedup/pages.jsonl.zst when the dedup stage has run, else <workdir>/ingest/pages.jsonl.zst \
        ({doc_id, source, page, text} per page, the pages of a document consecutive) and writes \
        <workdir>/chunk/chunks.jsonl.zst, one record per chunk: chunk_id, doc_id, source, page, start_index, text.

        The chunks are identical to LangChain's RecursiveCharacterTextSplitter(separators=["\\n\\n", "\\n", " ", \
        ""], chunk_size=SIZE, chunk_overlap=OVERLAP, add_start_index=True) applied with split_documents: \
        lengths are Unicode code points (Python len), separators stay at the start of the following piece, \
        chunks are stripped of whitespace and empty ones dropped; start_index is the code-point offset that \
        add_start_index computes. Time is linear in the input (the reference is not on separator-free text).

        --unit page (default) splits every page on its own (pages never share a chunk; an empty page gives \
        none): page is the 0-based page number, chunk_id is "<doc_id>:<page>:<n>". --unit document joins a \
        document's pages with "\\n" (as the ingest corpus does) and splits that text: page is null, start_index \
        is an offset in the joined text, chunk_id is "<doc_id>:d:<n>". n counts the chunks of the page or \
        document from 0.

        --overlap must be smaller than --size; --size must be at least 1.
        """

    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        result(try run(workdir: context.workdir, size: a.size, overlap: a.overlap, unit: a.unit,
                       force: context.force))
    }

    public static func runShard(_ a: Arguments, shard: Shard, in context: StageContext) throws -> StageResult {
        result(try runShard(workdir: context.workdir, size: a.size, overlap: a.overlap, unit: a.unit, shard: shard,
                            force: context.force), shard: shard)
    }

    public static func merge(_ a: Arguments, shards: Int, in context: StageContext) throws -> StageResult {
        result(try merge(workdir: context.workdir, size: a.size, overlap: a.overlap, unit: a.unit, shards: shards,
                         force: context.force))
    }

    static func result(_ o: Outcome, shard: Shard? = nil) -> StageResult {
        let what = shard.map { "chunk shard \($0)" } ?? "chunk"
        guard o.ran else { return StageResult(stage: what, status: .upToDate) }
        return StageResult(stage: what, status: .ran, lines: [
            "\(what): \(o.pages) pages of \(o.documents) documents → \(o.chunks) chunks → \(o.outputPath)",
        ])
    }
}
