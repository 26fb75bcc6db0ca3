import Core
import Foundation

/// The `chunk` stage: `<workdir>/ingest/pages.jsonl.zst` → `<workdir>/chunk/chunks.jsonl.zst`.
///
/// Each output line is `{"chunk_id", "doc_id", "page", "source", "start_index", "text"}` (keys sorted):
/// - unit `page`: every page is split on its own (as LangChain's `split_documents` does with `PyPDFLoader` pages);
///   `page` is the page number as ingest wrote it (0-based); `chunk_id` is `"<doc_id>:<page>:<n>"`.
/// - unit `document`: a document's pages (consecutive in the input) are joined with "\n" and split as one text;
///   `page` is null and `chunk_id` is `"<doc_id>:d:<n>"`.
/// `n` counts the chunks of that page (or document) from 0; `start_index` is the code-point offset LangChain's
/// `add_start_index=True` gives, within the page (or joined document) text.
public enum ChunkStage {
    public static let name = "chunk"
    public static let formatVersion = "1"

    public enum Unit: String, CaseIterable, Sendable {
        case page, document
    }

    public struct Outcome {
        public var ran: Bool
        public var pages = 0
        public var documents = 0
        public var chunks = 0
        public var outputPath: String
    }

    /// A document's identity: its id and whether the input gave it as an integer (5 and "5" are two documents).
    struct DocKey: Hashable {
        let id: String
        let isInteger: Bool
    }

    /// The pages chunked: those of `Workdir.textSource` (dedup, else ingest).
    public static func inputPath(_ workdir: Workdir) -> String {
        workdir.stageDir(workdir.textSource) + "/pages.jsonl.zst"
    }

    /// The stage's parameters (also a shard's, with its `shard`).
    static func parameters(size: Int, overlap: Int, unit: Unit) -> [String: String] {
        ["size": String(size), "overlap": String(overlap), "unit": unit.rawValue, "format_version": formatVersion]
    }

    public static func run(workdir: Workdir, size: Int, overlap: Int, unit: Unit, force: Bool = false) throws -> Outcome {
        try execute(workdir: workdir, size: size, overlap: overlap, unit: unit, shard: nil, force: force)
    }

    /// Shard `shard` of the stage: the chunks of the documents of its blocks (`Shard.blockSize` documents, in input
    /// order), in `chunk/shards/I-of-N/` with `blocks.json`. Not run when that shard is up to date.
    public static func runShard(workdir: Workdir, size: Int, overlap: Int, unit: Unit, shard: Shard,
                                force: Bool = false) throws -> Outcome {
        try execute(workdir: workdir, size: size, overlap: overlap, unit: unit, shard: shard, force: force)
    }

    /// The whole stage (`shard` nil) or one shard of it.
    static func execute(workdir: Workdir, size: Int, overlap: Int, unit: Unit, shard: Shard?,
                        force: Bool) throws -> Outcome {
        let chunker = try RecursiveChunker(size: size, overlap: overlap)
        let input = inputPath(workdir)
        guard FileSystem.exists(input) else { throw ChunkError.missingInput(path: input) }
        let stage = shard.map { Workdir.shardStage(name, $0) } ?? name
        let outPath = workdir.stageDir(stage) + "/chunks.jsonl.zst"
        var parameters = parameters(size: size, overlap: overlap, unit: unit)
        if let shard { parameters["shard"] = shard.description }
        guard let run = try StageRun.begin(workdir: workdir, stage: stage, inputs: [input], parameters: parameters,
                                           force: force) else {
            return Outcome(ran: false, outputPath: outPath)
        }
        var outcome = Outcome(ran: true, outputPath: outPath)
        let writer = try ZstdWriter(path: run.output("chunks.jsonl.zst"))
        var blocks = shard.map { ShardBlocks(shard: $0) }
        let counts = try chunk(input: input, chunker: chunker, unit: unit, writer: writer, shard: shard) { b, n in
            blocks?.add(block: b, lines: n)
        }
        try writer.close()
        if let blocks { try FileSystem.atomicWrite(try JSON.encode(blocks), to: run.output("blocks.json")) }
        outcome.pages = counts.pages; outcome.documents = counts.documents; outcome.chunks = counts.chunks
        run.records = ["pages": outcome.pages, "documents": outcome.documents, "chunks": outcome.chunks]
        try run.commit()
        return outcome
    }

    /// The stage's outputs from its `shards` shards, byte-identical to `run`'s; up to date like `run`.
    public static func merge(workdir: Workdir, size: Int, overlap: Int, unit: Unit, shards: Int,
                             force: Bool = false) throws -> Outcome {
        let input = inputPath(workdir)
        guard FileSystem.exists(input) else { throw ChunkError.missingInput(path: input) }
        let parameters = parameters(size: size, overlap: overlap, unit: unit)
        let outPath = workdir.stageDir(name) + "/chunks.jsonl.zst"
        let dirs = try ShardMerge.checkShards(workdir: workdir, folder: name, shards: shards, inputs: [input],
                                              parameters: parameters)
        guard let run = try StageRun.begin(workdir: workdir, stage: name, inputs: [input], parameters: parameters,
                                           force: force) else {
            return Outcome(ran: false, outputPath: outPath)
        }
        var outcome = Outcome(ran: true, outputPath: outPath)
        let writer = try ZstdWriter(path: run.output("chunks.jsonl.zst"))
        try ShardMerge.interleave("chunks.jsonl.zst", shardDirs: dirs, into: writer)
        try writer.close()
        for i in 0..<shards {
            let m = workdir.manifest(Workdir.shardStage(name, try Shard(index: i, count: shards)))
            outcome.pages += m?.records["pages"] ?? 0
            outcome.documents += m?.records["documents"] ?? 0
            outcome.chunks += m?.records["chunks"] ?? 0
        }
        run.records = ["pages": outcome.pages, "documents": outcome.documents, "chunks": outcome.chunks]
        try run.commit()
        return outcome
    }

    struct Counts { var pages = 0, documents = 0, chunks = 0 }

    /// Chunks the documents of `input` (those of `shard`'s blocks, or all) into `writer`; `block(b, lines)` is
    /// told the output lines of each document's block.
    static func chunk(input: String, chunker: RecursiveChunker, unit: Unit, writer: ZstdWriter, shard: Shard?,
                      block: (Int, Int) -> Void) throws -> Counts {
        var counts = Counts()
        let progress = Progress("chunk", unit: "pages")
        var line: [UInt8] = []
        line.reserveCapacity(1 << 16)

        func write(text: [UInt32], doc: DocKey, source: String, page: Int?, position: Int) throws {
            let spans = chunker.chunks(text)
            for (n, span) in spans.enumerated() {
                line.removeAll(keepingCapacity: true)
                let chunkID = doc.id + ":" + (page.map(String.init) ?? "d") + ":" + String(n)
                ChunkRecord.appendJSONLine(chunkId: chunkID, docId: doc.id, docIDIsInteger: doc.isInteger,
                                           source: source, page: page, startIndex: span.startIndex,
                                           text: text[span.start..<span.end], to: &line)
                try line.withUnsafeBytes { try writer.write($0) }
            }
            counts.chunks += spans.count
            block(position / Shard.blockSize, spans.count)
        }

        // Document unit: the current document's pages.
        var current: (id: DocKey, source: String, text: [UInt32], position: Int)? = nil
        var seen = Set<DocKey>()
        var lastID: DocKey? = nil
        var position = -1   // the current document's position in the input
        var mine = true
        try JSONLReader.forEach(Lenient<PageRecord>.self, path: input) { lenient, lineNumber in
            let rec = lenient.record
            let doc = DocKey(id: rec.docID, isInteger: rec.docIDIsInteger)
            if doc != lastID {
                if seen.contains(doc) {
                    throw ChunkError.badRecord(path: input, line: lineNumber,
                                               reason: "pages of document \(doc.id) are not consecutive")
                }
                seen.insert(doc)
                lastID = doc
                position += 1
                mine = shard?.owns(position: position) ?? true
                if mine { counts.documents += 1 }
                if unit == .document {
                    if let c = current {
                        try write(text: c.text, doc: c.id, source: c.source, page: nil, position: c.position)
                    }
                    current = mine ? (doc, rec.source, PythonText.codePoints(rec.text), position) : nil
                }
            } else if unit == .document, mine {
                current!.text.append(10)
                current!.text.append(contentsOf: PythonText.codePoints(rec.text))
            }
            if unit == .page, mine {
                try write(text: PythonText.codePoints(rec.text), doc: doc, source: rec.source, page: rec.page,
                          position: position)
            }
            if mine { counts.pages += 1 }
            progress.advance()
        }
        if let c = current { try write(text: c.text, doc: c.id, source: c.source, page: nil, position: c.position) }
        progress.finish()
        return counts
    }
}
