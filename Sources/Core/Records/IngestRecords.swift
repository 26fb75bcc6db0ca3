import Foundation

/// One record of `ingest/pages.jsonl.zst`: the text of one page, in document then page order (the pages of a
/// document are consecutive). Written by the ingest stage, read by ingest (reuse), chunk and the report.
///
/// Read leniently (`Lenient<PageRecord>`, as the chunk stage does), `doc_id` may be a JSON integer: it is kept
/// as its decimal text with `docIDIsInteger` set, and written back as an integer.
public struct PageRecord: Codable, Equatable, Sendable, LenientDecodable {
    /// The document's id: the first 16 hex digits of its sha256.
    public var docID: String
    /// The input file as found (the path given, or below the folder given).
    public var source: String
    /// 0-based page number within the document.
    public var page: Int
    /// The page's text after cleanup.
    public var text: String
    /// The line read had `doc_id` as a JSON integer (lenient reading only); not a field of its own.
    public var docIDIsInteger = false

    enum CodingKeys: String, CodingKey {
        case docID = "doc_id", source, page, text
    }

    /// A page record of these values.
    public init(docID: String, source: String, page: Int, text: String) {
        self.docID = docID; self.source = source; self.page = page; self.text = text
    }

    /// Reads a record strictly: every field present, in its type.
    public init(from decoder: Decoder) throws { try self.init(from: decoder, lenient: false) }

    /// Reads a record; `lenient` accepts what the type's lenient reading allows.
    public init(from decoder: Decoder, lenient: Bool) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let id = try LenientDocID(c, .docID, lenient: lenient)
        docID = id.text; docIDIsInteger = id.isInteger
        source = try c.decode(String.self, forKey: .source)
        page = try c.decode(Int.self, forKey: .page)
        text = try c.decode(String.self, forKey: .text)
    }

    /// Writes the record, `doc_id` in the JSON type it was read as.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try LenientDocID.encode(docID, isInteger: docIDIsInteger, to: &c, .docID)
        try c.encode(source, forKey: .source)
        try c.encode(page, forKey: .page)
        try c.encode(text, forKey: .text)
    }
}

/// One record of `ingest/documents.jsonl.zst`: one input file, in input order, whatever became of it. Written by
/// the ingest stage, read by ingest (reuse), index (the `documents` table) and the report.
///
/// Read leniently (`Lenient<DocumentRecord>`, as the index does), only `doc_id` is required: `source`,
/// `sha256`, `bytes`, `pages` and `status` may be absent or null (they are then listed in `absent` and hold
/// "" or 0), and a malformed `duplicate_of` is ignored.
public struct DocumentRecord: Codable, Equatable, Sendable, LenientDecodable {
    /// The first 16 hex digits of `sha256`.
    public var docID: String
    /// The input file as found.
    public var source: String
    /// SHA-256 of the file's bytes, in hex.
    public var sha256: String
    /// The file's size in bytes.
    public var bytes: Int64
    /// Pages written to `pages.jsonl.zst` (0 unless `status` is `ok`).
    public var pages: Int
    /// The PDF's Title metadata, if any.
    public var title: String?
    /// The PDF's Author metadata, if any.
    public var author: String?
    /// The PDF's creation date (ISO 8601), if any.
    public var created: String?
    /// `ok`, `skipped`, or `duplicate` (the same bytes as an earlier input: no pages of its own).
    public var status: String
    /// Why it was skipped, or a note on an `ok` document; null otherwise.
    public var error: String?
    /// For a duplicate: the source of the first input with the same sha256, in input order.
    public var duplicateOf: String?
    /// Fields the line lacked or had as null (lenient reading only); not a field of its own.
    public var absent: Set<CodingKeys> = []

    /// The fields of a document record.
    public enum CodingKeys: String, CodingKey {
        case docID = "doc_id", source, sha256, bytes, pages, title, author, created, status, error
        case duplicateOf = "duplicate_of"
    }

    /// A document record of these values.
    public init(docID: String, source: String, sha256: String, bytes: Int64, pages: Int, title: String?,
                author: String?, created: String?, status: String, error: String?) {
        self.docID = docID; self.source = source; self.sha256 = sha256; self.bytes = bytes; self.pages = pages
        self.title = title; self.author = author; self.created = created; self.status = status; self.error = error
    }

    /// Reads a record strictly: every field present, in its type.
    public init(from decoder: Decoder) throws { try self.init(from: decoder, lenient: false) }

    /// Reads a record; `lenient` accepts what the type's lenient reading allows.
    public init(from decoder: Decoder, lenient: Bool) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var absent = Set<CodingKeys>()
        func field<T: Decodable>(_ key: CodingKeys, _ empty: T) throws -> T {
            guard lenient else { return try c.decode(T.self, forKey: key) }
            if let v = try c.decodeIfPresent(T.self, forKey: key) { return v }
            absent.insert(key)
            return empty
        }
        docID = try c.decode(String.self, forKey: .docID)
        source = try field(.source, "")
        sha256 = try field(.sha256, "")
        bytes = try field(.bytes, 0)
        pages = try field(.pages, 0)
        title = try c.decodeIfPresent(String.self, forKey: .title)
        author = try c.decodeIfPresent(String.self, forKey: .author)
        created = try c.decodeIfPresent(String.self, forKey: .created)
        status = try field(.status, "")
        error = try c.decodeIfPresent(String.self, forKey: .error)
        if lenient {
            duplicateOf = try? c.decodeIfPresent(String.self, forKey: .duplicateOf)
        } else {
            duplicateOf = try c.decodeIfPresent(String.self, forKey: .duplicateOf)
        }
        self.absent = absent
    }

    /// Every field is written, null included.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(docID, forKey: .docID)
        try c.encode(source, forKey: .source)
        try c.encode(sha256, forKey: .sha256)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(pages, forKey: .pages)
        try c.encode(title, forKey: .title)
        try c.encode(author, forKey: .author)
        try c.encode(created, forKey: .created)
        try c.encode(status, forKey: .status)
        try c.encode(error, forKey: .error)
        try c.encodeIfPresent(duplicateOf, forKey: .duplicateOf)  // only duplicates carry it
    }

    /// `value`, or nil when `key` was absent or null in the line read leniently.
    public func ifPresent<T>(_ key: CodingKeys, _ value: T) -> T? { absent.contains(key) ? nil : value }

    /// A later input with the same bytes as an earlier one.
    public var isDuplicate: Bool { status == "duplicate" }
}

/// The layout of `corpus.txt.zst` (written by ingest, dedup and decontaminate): a document's pages joined by "\n"
/// and ending in "\n"; documents separated by a blank line (a "\n" before every document but the first).
public enum CorpusLayout {
    /// One document's text as the corpus holds it.
    public static func document(_ pages: [String]) -> String {
        let text = pages.joined(separator: "\n")
        return text.hasSuffix("\n") ? text : text + "\n"
    }

    /// What the corpus holds for its `index`-th document (0-based): the separator, then the document.
    public static func entry(_ pages: [String], index: Int) -> String {
        index > 0 ? "\n" + document(pages) : document(pages)
    }
}
