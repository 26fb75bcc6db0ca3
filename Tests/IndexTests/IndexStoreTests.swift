import Core
import Foundation
@testable import Index
import XCTest

final class IndexStoreTests: XCTestCase {
    func writeChunks(_ workdir: String, _ texts: [(String, String)]) throws {
        try FileSystem.makeDirectory(workdir + "/chunk")
        let w = try JSONLWriter<ChunkRecord>(path: workdir + "/chunk/chunks.jsonl.zst")
        for (i, (id, t)) in texts.enumerated() {
            try w.write(ChunkRecord(chunkId: id, docId: "doc\(i % 2)", source: "doc\(i % 2).pdf", page: i % 3 == 0 ? nil : i,
                                    startIndex: 10 * i, text: t))
        }
        try w.close()
    }

    func vectors(_ db: String) throws -> [String: [Float]] {
        let s = try SearchIndex(path: db)
        let q = try s.db.prepare("SELECT c.chunk_id, e.vector FROM chunks c JOIN embeddings e USING (text_sha256)")
        var out: [String: [Float]] = [:]
        while try q.step() {
            let b = q.blob(1)
            out[q.string(0)] = Array(b.bindMemory(to: Float.self))
        }
        return out
    }

    func count(_ db: String, _ sql: String) throws -> Int {
        let s = try SearchIndex(path: db)
        let q = try s.db.prepare(sql)
        _ = try q.step()
        return q.int(0)
    }

    func testIncrementalIndexAndSearch() throws {
        let model = try modelFolder()
        let embedder = try sharedEmbedder()
        let wd = NSTemporaryDirectory() + "index-\(UUID().uuidString)"
        let work = Workdir(path: wd)
        let v1 = [("a", "The cat sat on the mat."), ("b", "Quantum chromodynamics describes the strong force."),
                  ("c", "Recipes for sourdough bread need a starter."), ("d", "The cat sat on the mat."),
                  ("e", "Stock markets fell sharply on Monday.")]
        try writeChunks(wd, v1)
        try FileSystem.makeDirectory(wd + "/ingest")
        let dw = try JSONLWriter<DocumentRecord>(path: wd + "/ingest/documents.jsonl.zst")
        try dw.write(DocumentRecord(docID: "doc0", source: "doc0.pdf", sha256: "00", bytes: 10, pages: 3, title: "T",
                                    author: nil, created: nil, status: "ok", error: nil))
        try dw.close()

        let s1 = try XCTUnwrap(IndexBuilder.run(workdir: work, modelDir: model, force: false))
        XCTAssertEqual(s1.chunks, 5); XCTAssertEqual(s1.embedded, 4); XCTAssertEqual(s1.reused, 0); XCTAssertEqual(s1.documents, 1)
        XCTAssertNil(try IndexBuilder.run(workdir: work, modelDir: model, force: false), "second run is up to date")
        let db = wd + "/index/index.sqlite"
        let vec1 = try vectors(db)
        let expected = embedder.embed(v1.map(\.1))
        for (i, (id, _)) in v1.enumerated() {
            XCTAssertEqual(vec1[id], Array(expected[(i * 384)..<((i + 1) * 384)]), "vector of \(id)")
        }
        let meta = try SearchIndex(path: db).meta
        XCTAssertEqual(meta["model"], "all-MiniLM-L6-v2"); XCTAssertEqual(meta["dimension"], "384")
        XCTAssertEqual(meta["pooling"], "mean"); XCTAssertEqual(meta["model_sha256"], try Hashing.sha256(path: model + "/model.safetensors"))
        XCTAssertEqual(try count(db, "SELECT count(*) FROM documents"), 1)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM embeddings"), 4)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM chunks WHERE page IS NULL"), 2)

        // Change c, remove e, add f: only c and f are embedded.
        let v2 = [("a", "The cat sat on the mat."), ("b", "Quantum chromodynamics describes the strong force."),
                  ("c", "Recipes for rye bread need a starter."), ("d", "The cat sat on the mat."),
                  ("f", "Penguins live in the southern hemisphere.")]
        try writeChunks(wd, v2)
        let s2 = try XCTUnwrap(IndexBuilder.run(workdir: work, modelDir: model, force: false))
        XCTAssertEqual(s2.chunks, 5); XCTAssertEqual(s2.embedded, 2); XCTAssertEqual(s2.reused, 2)
        let vec2 = try vectors(db)
        XCTAssertEqual(Set(vec2.keys), ["a", "b", "c", "d", "f"])
        XCTAssertEqual(vec2["a"], vec1["a"]); XCTAssertEqual(vec2["b"], vec1["b"])
        XCTAssertNotEqual(vec2["c"], vec1["c"])
        XCTAssertEqual(try count(db, "SELECT count(*) FROM embeddings"), 4)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'Stock'"), 0)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'rye'"), 1)

        // Searches.
        let index = try SearchIndex(path: db)
        let embed: (String) throws -> [Float] = { embedder.embed([$0]) }
        let dense = try index.search("Where do penguins live?", k: 2, mode: .dense, embed: embed)
        XCTAssertEqual(dense.first?.chunkId, "f")
        XCTAssertEqual(dense.count, 2)
        let exact = try index.search("Quantum chromodynamics describes the strong force.", k: 1, mode: .dense, embed: embed)
        XCTAssertEqual(exact.first?.chunkId, "b")
        XCTAssertEqual(exact.first?.score ?? 0, 1, accuracy: 1e-5)
        let bm = try index.search("sourdough OR rye AND bread", k: 4, mode: .bm25, embed: embed)
        XCTAssertEqual(bm.first?.chunkId, "c")
        let hybrid = try index.search("strong force physics", k: 3, mode: .hybrid, embed: embed)
        XCTAssertEqual(hybrid.first?.chunkId, "b")
        XCTAssertEqual(hybrid.first?.score ?? 0, 2.0 / 61, accuracy: 1e-12)
        XCTAssertEqual(hybrid.map(\.rank), [1, 2, 3])
        let all = try index.search("cat", k: 10, mode: .hybrid, embed: embed)
        XCTAssertEqual(all.count, 5)
        XCTAssertEqual(Set(all.prefix(2).map(\.chunkId)), ["a", "d"])
        // Robustness issue, item 6: a k beyond the index (it crashed at 2^31) returns every chunk.
        for mode in [SearchMode.dense, .bm25, .hybrid] {
            let hits = try index.search("cat", k: 2_147_483_648, mode: mode, embed: embed)
            XCTAssertEqual(hits.count, mode == .bm25 ? 2 : 5, "\(mode)")
        }
    }

    /// Robustness issue, item 9: an index built incrementally (after removing and re-adding chunks, so vectors were
    /// embedded in other batches) is byte-identical to one built from scratch.
    func testIncrementalIndexIsByteIdenticalToAFreshOne() throws {
        let model = try modelFolder()
        func documents(_ wd: String) throws {
            try FileSystem.makeDirectory(wd + "/ingest")
            let dw = try JSONLWriter<DocumentRecord>(path: wd + "/ingest/documents.jsonl.zst")
            try dw.write(DocumentRecord(docID: "doc0", source: "doc0.pdf", sha256: "00", bytes: 10, pages: 3, title: "T",
                                        author: nil, created: nil, status: "ok", error: nil))
            try dw.close()
        }
        let words = "penguins live in the southern hemisphere while bread needs a sourdough starter".split(separator: " ")
        let all = (0..<14).map { i in
            ("c\(i)", (0..<(3 + i * 11)).map { String(words[($0 + i) % words.count]) }.joined(separator: " "))
        }
        let incremental = NSTemporaryDirectory() + "index-inc-\(UUID().uuidString)"
        try documents(incremental)
        try writeChunks(incremental, all)
        XCTAssertNotNil(try IndexBuilder.run(workdir: Workdir(path: incremental), modelDir: model, force: false))
        try writeChunks(incremental, all.enumerated().filter { $0.offset % 3 != 0 }.map(\.element))  // remove some
        XCTAssertNotNil(try IndexBuilder.run(workdir: Workdir(path: incremental), modelDir: model, force: false))
        try writeChunks(incremental, all)  // and add them back: embedded in a different batch than the first time
        let s = try XCTUnwrap(IndexBuilder.run(workdir: Workdir(path: incremental), modelDir: model, force: false))
        XCTAssertEqual(s.embedded, 5); XCTAssertEqual(s.reused, 9)

        let fresh = NSTemporaryDirectory() + "index-fresh-\(UUID().uuidString)"
        try documents(fresh)
        try writeChunks(fresh, all)
        XCTAssertNotNil(try IndexBuilder.run(workdir: Workdir(path: fresh), modelDir: model, force: false))
        let a = try Data(contentsOf: URL(fileURLWithPath: incremental + "/index/index.sqlite"))
        let b = try Data(contentsOf: URL(fileURLWithPath: fresh + "/index/index.sqlite"))
        XCTAssertEqual(a.count, b.count)
        XCTAssertTrue(a == b, "index.sqlite differs between an incremental and a fresh build")
        XCTAssertEqual(try vectors(incremental + "/index/index.sqlite"), try vectors(fresh + "/index/index.sqlite"))
    }

    /// Robustness issue, item 5: a damaged previous database falls back to a full rebuild (with a warning) instead
    /// of failing every later run; no error names a temporary path.
    func testCorruptPreviousIndexIsRebuilt() throws {
        let model = try modelFolder()
        let wd = NSTemporaryDirectory() + "index-corrupt-\(UUID().uuidString)"
        let chunks = (0..<40).map { ("c\($0)", "chunk number \($0) about penguins, bread and the strong force \($0 * 7)") }
        try writeChunks(wd, chunks)
        XCTAssertNotNil(try IndexBuilder.run(workdir: Workdir(path: wd), modelDir: model, force: false))
        let db = wd + "/index/index.sqlite"
        let good = try Data(contentsOf: URL(fileURLWithPath: db))
        var bad = good
        for i in 8192..<min(bad.count, 8192 * 4) { bad[i] = UInt8(truncatingIfNeeded: i &* 131) }  // pages 2-4 garbage
        try bad.write(to: URL(fileURLWithPath: db))
        let s = try XCTUnwrap(IndexBuilder.run(workdir: Workdir(path: wd), modelDir: model, force: true))
        XCTAssertEqual(s.reused, 0); XCTAssertEqual(s.embedded, 40)
        XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: db)) == good, "the rebuild equals the first build")
    }

    func testDuplicateChunkIdIsAnError() throws {
        let model = try modelFolder()
        let wd = NSTemporaryDirectory() + "index-\(UUID().uuidString)"
        try writeChunks(wd, [("a", "one"), ("a", "two")])
        XCTAssertThrowsError(try IndexBuilder.run(workdir: Workdir(path: wd), modelDir: model, force: false)) { e in
            XCTAssertTrue("\(e)".contains(":2: duplicate chunk_id a"), "\(e)")
        }
    }

    func testMissingInputsAreClearErrors() throws {
        let wd = NSTemporaryDirectory() + "index-\(UUID().uuidString)"
        XCTAssertThrowsError(try IndexBuilder.run(workdir: Workdir(path: wd), modelDir: "/nonexistent", force: false)) { e in
            XCTAssertTrue("\(e)".contains("pipeline chunk"), "\(e)")
        }
        try writeChunks(wd, [("a", "one")])
        XCTAssertThrowsError(try IndexBuilder.run(workdir: Workdir(path: wd), modelDir: "/nonexistent", force: false)) { e in
            XCTAssertTrue("\(e)".contains("make model"), "\(e)")
        }
    }
}
