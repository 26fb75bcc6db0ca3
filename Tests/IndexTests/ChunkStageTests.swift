import Core
import Foundation
import Index
import XCTest

/// A record of chunks.jsonl.zst, as a consumer reads it (field names as written).
struct ChunkRow: Decodable, Equatable {
    let chunk_id: String
    let doc_id: String
    let source: String
    let page: Int?
    let start_index: Int
    let text: String
}

final class ChunkStageTests: XCTestCase {
    var temp = ""

    override func setUpWithError() throws {
        temp = NSTemporaryDirectory() + "chunk-tests-\(getpid())-\(UUID().uuidString)"
        try FileSystem.makeDirectory(temp)
    }

    override func tearDown() { FileSystem.remove(temp) }

    struct Page: Encodable {
        let doc_id: String
        let source: String
        let page: Int
        let text: String
    }

    static let pages: [Page] = [
        Page(doc_id: "a", source: "a.pdf", page: 0, text: "First page of a.\n\nIt has two paragraphs, the second one a little longer than the first."),
        Page(doc_id: "a", source: "a.pdf", page: 1, text: ""),
        Page(doc_id: "a", source: "a.pdf", page: 2, text: "  Third page: \"quoted\", tab\there, back\\slash, e\u{301} 👍🏽 中文.  "),
        Page(doc_id: "b", source: "dir/b.pdf", page: 0, text: String(repeating: "wordy ", count: 40)),
    ]

    func makeWorkdir(_ name: String, pages: [Page] = ChunkStageTests.pages) throws -> Workdir {
        let work = Workdir(path: temp + "/" + name)
        try FileSystem.makeDirectory(work.stageDir("ingest"))
        let w = try JSONLWriter<Page>(path: ChunkStage.inputPath(work))
        for p in pages { try w.write(p) }
        try w.close()
        return work
    }

    func records(_ work: Workdir) throws -> [ChunkRow] {
        try JSONLReader.readAll(ChunkRow.self, path: work.stageDir("chunk") + "/chunks.jsonl.zst")
    }

    func testPageUnitSplitsEveryPageOnItsOwn() throws {
        let work = try makeWorkdir("w")
        let outcome = try ChunkStage.run(workdir: work, size: 40, overlap: 10, unit: .page)
        XCTAssertTrue(outcome.ran)
        XCTAssertEqual(outcome.pages, 4)
        XCTAssertEqual(outcome.documents, 2)
        let recs = try records(work)
        XCTAssertEqual(recs.count, outcome.chunks)
        let chunker = try RecursiveChunker(size: 40, overlap: 10)
        var expected: [ChunkRow] = []
        for p in Self.pages {
            for (n, c) in chunker.chunks(p.text).enumerated() {
                expected.append(ChunkRow(chunk_id: "\(p.doc_id):\(p.page):\(n)", doc_id: p.doc_id, source: p.source,
                                            page: p.page, start_index: c.startIndex, text: c.text))
            }
        }
        XCTAssertEqual(recs, expected)
        XCTAssertFalse(recs.contains { $0.page == 1 }, "an empty page gives no chunk")
        XCTAssertTrue(recs.contains { $0.text.contains("\"quoted\"") })
        XCTAssertTrue(recs.contains { $0.text.contains("back\\slash") })
        XCTAssertTrue(recs.contains { $0.text.contains("\t") })
        XCTAssertEqual(recs.first?.chunk_id, "a:0:0")
        // Every chunk is the page text at its start index.
        for r in recs {
            let page = PythonText.codePoints(Self.pages.first { $0.doc_id == r.doc_id && $0.page == r.page }!.text)
            let t = PythonText.codePoints(r.text)
            XCTAssertEqual(Array(page[r.start_index..<r.start_index + t.count]), t)
        }
    }

    func testDocumentUnitJoinsPagesWithNewline() throws {
        let work = try makeWorkdir("w")
        let outcome = try ChunkStage.run(workdir: work, size: 50, overlap: 5, unit: .document)
        let recs = try records(work)
        XCTAssertEqual(recs.count, outcome.chunks)
        let chunker = try RecursiveChunker(size: 50, overlap: 5)
        var expected: [ChunkRow] = []
        for (doc, source) in [("a", "a.pdf"), ("b", "dir/b.pdf")] {
            let text = Self.pages.filter { $0.doc_id == doc }.map(\.text).joined(separator: "\n")
            for (n, c) in chunker.chunks(text).enumerated() {
                expected.append(ChunkRow(chunk_id: "\(doc):d:\(n)", doc_id: doc, source: source, page: nil,
                                            start_index: c.startIndex, text: c.text))
            }
        }
        XCTAssertEqual(recs, expected)
        // page is written as null.
        let raw = String(decoding: try ByteReader(path: work.stageDir("chunk") + "/chunks.jsonl.zst").readAll(), as: UTF8.self)
        XCTAssertTrue(raw.contains("\"page\": null"))
    }

    func testValidationIsAUsageError() throws {
        let work = try makeWorkdir("w")
        for (size, overlap) in [(100, 100), (100, 200), (0, 0), (10, -1)] {
            XCTAssertThrowsError(try ChunkStage.run(workdir: work, size: size, overlap: overlap, unit: .page)) { error in
                XCTAssertEqual((error as? ChunkError)?.exitStatus, .usage, "\(size) \(overlap)")
            }
        }
        XCTAssertFalse(FileSystem.exists(work.stageDir("chunk")))
    }

    func testDeterministicAndUpToDate() throws {
        let w1 = try makeWorkdir("w1"), w2 = try makeWorkdir("w2")
        _ = try ChunkStage.run(workdir: w1, size: 30, overlap: 7, unit: .page)
        _ = try ChunkStage.run(workdir: w2, size: 30, overlap: 7, unit: .page)
        let a = try ByteReader(path: w1.stageDir("chunk") + "/chunks.jsonl.zst").readAll()
        let b = try ByteReader(path: w2.stageDir("chunk") + "/chunks.jsonl.zst").readAll()
        XCTAssertFalse(a.isEmpty)
        XCTAssertEqual(a, b)
        XCTAssertFalse(try ChunkStage.run(workdir: w1, size: 30, overlap: 7, unit: .page).ran)
        XCTAssertTrue(try ChunkStage.run(workdir: w1, size: 31, overlap: 7, unit: .page).ran)
        XCTAssertTrue(try ChunkStage.run(workdir: w1, size: 31, overlap: 7, unit: .page, force: true).ran)
    }

    func testMissingInputAndScatteredPagesAreErrors() throws {
        let empty = Workdir(path: temp + "/none")
        XCTAssertThrowsError(try ChunkStage.run(workdir: empty, size: 100, overlap: 10, unit: .page)) { error in
            XCTAssertTrue((error as? ChunkError)?.message.contains("pages.jsonl.zst") ?? false)
        }
        let p = Self.pages
        let work = try makeWorkdir("bad", pages: [p[0], p[3], p[2]])
        XCTAssertThrowsError(try ChunkStage.run(workdir: work, size: 100, overlap: 10, unit: .document)) { error in
            XCTAssertEqual((error as? ChunkError)?.message.hasSuffix(":3: pages of document a are not consecutive"), true)
        }
    }
}
