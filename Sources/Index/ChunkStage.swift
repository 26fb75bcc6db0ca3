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

    /// A document id as ingest wrote it: a string or an integer (written back the same way).
    enum DocID: Decodable, Equatable, Hashable {
        case string(String)
        case int(Int64)

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int64.self) { self = .int(i); return }
            self = .string(try c.decode(String.self))
        }

        var text: String {
            switch self {
            case .string(let s): return s
            case .int(let i): return String(i)
            }
        }

        func appendJSON(to out: inout [UInt8]) {
            switch self {
            case .string(let s): PythonText.appendJSONString(s, to: &out)
            case .int(let i): out.append(contentsOf: Array(String(i).utf8))
            }
        }
    }

    struct PageRecord: Decodable {
        let docID: DocID
        let source: String
        let page: Int
        let text: String

        enum CodingKeys: String, CodingKey {
            case docID = "doc_id", source, page, text
        }
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

        func write(text: [UInt32], docID: DocID, source: String, page: Int?) throws {
            let spans = chunker.chunks(text)
            for (n, span) in spans.enumerated() {
                line.removeAll(keepingCapacity: true)
                line.append(contentsOf: Array("{\"chunk_id\": ".utf8))
                let pagePart = page.map(String.init) ?? "d"
                PythonText.appendJSONString(docID.text + ":" + pagePart + ":" + String(n), to: &line)
                line.append(contentsOf: Array(", \"doc_id\": ".utf8))
                docID.appendJSON(to: &line)
                line.append(contentsOf: Array(", \"page\": ".utf8))
                line.append(contentsOf: Array((page.map(String.init) ?? "null").utf8))
                line.append(contentsOf: Array(", \"source\": ".utf8))
                PythonText.appendJSONString(source, to: &line)
                line.append(contentsOf: Array(", \"start_index\": ".utf8))
                line.append(contentsOf: Array(String(span.startIndex).utf8))
                line.append(contentsOf: Array(", \"text\": ".utf8))
                PythonText.appendJSONString(codePoints: text[span.start..<span.end], to: &line)
                line.append(contentsOf: Array("}\n".utf8))
                try line.withUnsafeBytes { try writer.write($0) }
            }
            outcome.chunks += spans.count
        }

        // Document unit: the current document's pages.
        var current: (id: DocID, source: String, text: [UInt32])? = nil
        var seen = Set<DocID>()
        var lastID: DocID? = nil
        try JSONLReader.forEach(PageRecord.self, path: input) { rec, lineNumber in
            if rec.docID != lastID {
                if seen.contains(rec.docID) {
                    throw ChunkError.badRecord(path: input, line: lineNumber,
                                               reason: "pages of document \(rec.docID.text) are not consecutive")
                }
                seen.insert(rec.docID)
                lastID = rec.docID
                outcome.documents += 1
                if unit == .document {
                    if let c = current { try write(text: c.text, docID: c.id, source: c.source, page: nil) }
                    current = (rec.docID, rec.source, PythonText.codePoints(rec.text))
                }
            } else if unit == .document {
                current!.text.append(10)
                current!.text.append(contentsOf: PythonText.codePoints(rec.text))
            }
            if unit == .page {
                try write(text: PythonText.codePoints(rec.text), docID: rec.docID, source: rec.source, page: rec.page)
            }
            outcome.pages += 1
            progress.advance()
        }
        if let c = current { try write(text: c.text, docID: c.id, source: c.source, page: nil) }
        try writer.close()
        progress.finish()
        run.records = ["pages": outcome.pages, "documents": outcome.documents, "chunks": outcome.chunks]
        try run.commit()
        return outcome
    }
}
