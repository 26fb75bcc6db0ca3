import Foundation

/// One record of `chunk/chunks.jsonl.zst`: a piece of a page (or of a whole document) to index. Written by the
/// chunk stage (`appendJSONLine`, Python's format), read by index, the report and `index --embed-only`.
///
/// Read leniently (`Lenient<ChunkRecord>`, as the report does), `doc_id` may be a JSON integer (the chunk stage
/// writes back an integer id of its input as one): kept as its decimal text with `docIDIsInteger` set.
public struct ChunkRecord: Codable, Sendable, LenientDecodable {
    /// `<doc_id>:<page>:<n>` (unit page) or `<doc_id>:d:<n>` (unit document); n counts from 0.
    public var chunkId: String
    /// The document's id, as in `pages.jsonl.zst`.
    public var docId: String
    /// The input file, as in `pages.jsonl.zst`.
    public var source: String
    /// The page number (0-based) for unit page; null for unit document.
    public var page: Int?
    /// Code-point offset of the chunk in its page (or joined document) text (LangChain's `add_start_index`).
    public var startIndex: Int
    /// The chunk's text.
    public var text: String
    /// The line read had `doc_id` as a JSON integer (lenient reading only); not a field of its own.
    public var docIDIsInteger = false

    enum CodingKeys: String, CodingKey {
        case chunkId = "chunk_id", docId = "doc_id", source, page, startIndex = "start_index", text
    }

    /// A chunk record of these values.
    public init(chunkId: String, docId: String, source: String, page: Int?, startIndex: Int, text: String) {
        self.chunkId = chunkId; self.docId = docId; self.source = source; self.page = page
        self.startIndex = startIndex; self.text = text
    }

    /// Reads a record strictly: every field present, in its type.
    public init(from decoder: Decoder) throws { try self.init(from: decoder, lenient: false) }

    /// Reads a record; `lenient` accepts what the type's lenient reading allows.
    public init(from decoder: Decoder, lenient: Bool) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        chunkId = try c.decode(String.self, forKey: .chunkId)
        let id = try LenientDocID(c, .docId, lenient: lenient)
        docId = id.text; docIDIsInteger = id.isInteger
        source = try c.decode(String.self, forKey: .source)
        page = try c.decodeIfPresent(Int.self, forKey: .page)
        startIndex = try c.decode(Int.self, forKey: .startIndex)
        text = try c.decode(String.self, forKey: .text)
    }

    /// Compact JSON (an absent `page` when nil); the chunk stage writes `appendJSONLine` instead.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(chunkId, forKey: .chunkId)
        try LenientDocID.encode(docId, isInteger: docIDIsInteger, to: &c, .docId)
        try c.encode(source, forKey: .source)
        try c.encodeIfPresent(page, forKey: .page)
        try c.encode(startIndex, forKey: .startIndex)
        try c.encode(text, forKey: .text)
    }

    /// Appends the record as the chunk stage writes it, one line with its `\n`: what Python's
    /// `json.dumps(record, sort_keys=True, ensure_ascii=False)` gives (`", "` and `": "` separators, `page`
    /// null for unit document). `text` is given as code points (the chunker's), for speed.
    public static func appendJSONLine(chunkId: String, docId: String, docIDIsInteger: Bool, source: String,
                                      page: Int?, startIndex: Int, text: ArraySlice<UInt32>, to line: inout [UInt8]) {
        line.append(contentsOf: Array("{\"chunk_id\": ".utf8))
        PythonText.appendJSONString(chunkId, to: &line)
        line.append(contentsOf: Array(", \"doc_id\": ".utf8))
        if docIDIsInteger, let i = Int64(docId) {
            line.append(contentsOf: Array(String(i).utf8))
        } else {
            PythonText.appendJSONString(docId, to: &line)
        }
        line.append(contentsOf: Array(", \"page\": ".utf8))
        line.append(contentsOf: Array((page.map(String.init) ?? "null").utf8))
        line.append(contentsOf: Array(", \"source\": ".utf8))
        PythonText.appendJSONString(source, to: &line)
        line.append(contentsOf: Array(", \"start_index\": ".utf8))
        line.append(contentsOf: Array(String(startIndex).utf8))
        line.append(contentsOf: Array(", \"text\": ".utf8))
        PythonText.appendJSONString(codePoints: text, to: &line)
        line.append(contentsOf: Array("}\n".utf8))
    }

    /// `appendJSONLine` of this record.
    public func appendJSONLine(to line: inout [UInt8]) {
        Self.appendJSONLine(chunkId: chunkId, docId: docId, docIDIsInteger: docIDIsInteger, source: source,
                            page: page, startIndex: startIndex, text: PythonText.codePoints(text)[...], to: &line)
    }
}
