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

    public static func inputPath(_ workdir: Workdir) -> String { workdir.stageDir("ingest") + "/pages.jsonl.zst" }

    public static func run(workdir: Workdir, size: Int, overlap: Int, unit: Unit, force: Bool = false) throws -> Outcome {
        let chunker = try RecursiveChunker(size: size, overlap: overlap)
        let input = inputPath(workdir)
        guard FileSystem.exists(input) else { throw ChunkError.missingInput(path: input) }
        let parameters = ["size": String(size), "overlap": String(overlap), "unit": unit.rawValue,
                          "format_version": formatVersion]
        let outPath = workdir.stageDir(name) + "/chunks.jsonl.zst"
        guard let run = try StageRun.begin(workdir: workdir, stage: name, inputs: [input], parameters: parameters,
                                           force: force) else {
            return Outcome(ran: false, outputPath: outPath)
        }
        var outcome = Outcome(ran: true, outputPath: outPath)
        let writer = try ZstdWriter(path: run.output("chunks.jsonl.zst"))
        let progress = Progress("chunk", unit: "pages")
        var line: [UInt8] = []
        line.reserveCapacity(1 << 16)

        func write(text: [UInt32], doc: DocKey, source: String, page: Int?) throws {
            let spans = chunker.chunks(text)
            for (n, span) in spans.enumerated() {
                line.removeAll(keepingCapacity: true)
                let chunkID = doc.id + ":" + (page.map(String.init) ?? "d") + ":" + String(n)
                ChunkRecord.appendJSONLine(chunkId: chunkID, docId: doc.id, docIDIsInteger: doc.isInteger,
                                           source: source, page: page, startIndex: span.startIndex,
                                           text: text[span.start..<span.end], to: &line)
                try line.withUnsafeBytes { try writer.write($0) }
            }
            outcome.chunks += spans.count
        }

        // Document unit: the current document's pages.
        var current: (id: DocKey, source: String, text: [UInt32])? = nil
        var seen = Set<DocKey>()
        var lastID: DocKey? = nil
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
                outcome.documents += 1
                if unit == .document {
                    if let c = current { try write(text: c.text, doc: c.id, source: c.source, page: nil) }
                    current = (doc, rec.source, PythonText.codePoints(rec.text))
                }
            } else if unit == .document {
                current!.text.append(10)
                current!.text.append(contentsOf: PythonText.codePoints(rec.text))
            }
            if unit == .page {
                try write(text: PythonText.codePoints(rec.text), doc: doc, source: rec.source, page: rec.page)
            }
            outcome.pages += 1
            progress.advance()
        }
        if let c = current { try write(text: c.text, doc: c.id, source: c.source, page: nil) }
        try writer.close()
        progress.finish()
        run.records = ["pages": outcome.pages, "documents": outcome.documents, "chunks": outcome.chunks]
        try run.commit()
        return outcome
    }
}
