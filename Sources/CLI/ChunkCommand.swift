import ArgumentParser
import Core
import Foundation
import Index

extension ChunkStage.Unit: ExpressibleByArgument {}

struct ChunkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunk",
        abstract: "Split the ingested pages into overlapping chunks, exactly as LangChain's RecursiveCharacterTextSplitter.",
        discussion: """
        Reads <workdir>/ingest/pages.jsonl.zst ({doc_id, source, page, text} per page, the pages of a document \
        consecutive) and writes <workdir>/chunk/chunks.jsonl.zst, one record per chunk: chunk_id, doc_id, \
        source, page, start_index, text.

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
        """)

    @Option(name: .long, help: ArgumentHelp("Maximum chunk length in code points.", valueName: "n"))
    var size: Int = 1024

    @Option(name: .long, help: ArgumentHelp("Overlap between consecutive chunks in code points (< size).", valueName: "n"))
    var overlap: Int = 128

    @Option(name: .long, help: ArgumentHelp("Split each page (page) or each whole document (document).", valueName: "unit"))
    var unit: ChunkStage.Unit = .page

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let problem = RecursiveChunker.problem(size: size, overlap: overlap) { throw ValidationError(problem) }
    }

    func run() throws {
        global.apply()
        let outcome = try ChunkStage.run(workdir: global.work, size: size, overlap: overlap, unit: unit,
                                         force: global.force)
        guard outcome.ran else {
            print("chunk: up to date")
            return
        }
        print("chunk: \(outcome.pages) pages of \(outcome.documents) documents → \(outcome.chunks) chunks → \(outcome.outputPath)")
    }
}
