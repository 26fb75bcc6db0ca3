import Core
import Foundation
@testable import Index
import XCTest

/// The index as N embedding shards and a merge that builds the database: the bytes of one run, for every N.
final class IndexShardTests: XCTestCase {
    var temp = ""

    override func setUpWithError() throws {
        temp = NSTemporaryDirectory() + "index-shards-\(getpid())-\(UUID().uuidString)"
        try FileSystem.makeDirectory(temp)
    }

    override func tearDown() { FileSystem.remove(temp) }

    /// 200 chunks (3 blocks of 64 and a partial one) of 2–40 words; every fifth text repeats an earlier one, in
    /// its own block or another (so in another shard), and the documents file has a duplicate.
    func makeWorkdir(_ name: String) throws -> Workdir {
        let work = Workdir(path: temp + "/" + name)
        try FileSystem.makeDirectory(work.stageDir("chunk"))
        try FileSystem.makeDirectory(work.stageDir("ingest"))
        let words = "penguins live in the southern hemisphere while bread needs a sourdough starter é 中文 42"
            .split(separator: " ")
        var state: UInt64 = 7
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        var texts: [String] = []
        let w = try JSONLWriter<ChunkRecord>(path: work.stageDir("chunk") + "/chunks.jsonl.zst")
        for i in 0..<200 {
            let text = i % 5 == 4 ? texts[next() % texts.count]
                : (0..<(2 + next() % 39)).map { String(words[($0 * 7 + i) % words.count]) }.joined(separator: " ")
            texts.append(text)
            try w.write(ChunkRecord(chunkId: "d\(i / 10):\(i % 10):0", docId: "d\(i / 10)", source: "d\(i / 10).pdf",
                                    page: i % 10, startIndex: 0, text: text))
        }
        try w.close()
        let dw = try JSONLWriter<DocumentRecord>(path: work.stageDir("ingest") + "/documents.jsonl.zst")
        for d in 0..<20 {
            try dw.write(DocumentRecord(docID: "d\(d)", source: "d\(d).pdf", sha256: "\(d)", bytes: 10, pages: 10,
                                        title: nil, author: nil, created: nil, status: "ok", error: nil))
        }
        var dup = DocumentRecord(docID: "d3", source: "copy.pdf", sha256: "3", bytes: 10, pages: 0, title: nil,
                                 author: nil, created: nil, status: "duplicate", error: nil)
        dup.duplicateOf = "d3.pdf"
        try dw.write(dup)
        try dw.close()
        return work
    }

    func bytes(_ path: String) throws -> [UInt8] { try ByteReader(path: path).readAll() }

    func testShardsAndMergeEqualOneRunForEveryN() throws {
        let model = try modelFolder()
        let one = try makeWorkdir("one")
        let summary = try XCTUnwrap(IndexBuilder.run(workdir: one, modelDir: model, force: false, archive: true))
        XCTAssertEqual(summary.chunks, 200)
        XCTAssertLessThan(summary.embedded, 200)   // repeated texts are embedded once
        let db = one.stageDir("index") + "/index.sqlite"
        let expected = try Data(contentsOf: URL(fileURLWithPath: db))
        let archive = try Data(contentsOf: URL(fileURLWithPath: db + ".zst"))
        let records = try XCTUnwrap(one.manifest("index")).records
        for n in [1, 2, 3] {
            let work = try makeWorkdir("n\(n)")
            var embedded = 0
            for i in (0..<n).reversed() {
                let s = try XCTUnwrap(IndexBuilder.runShard(workdir: work, modelDir: model,
                                                            shard: try Shard(index: i, count: n), force: false))
                embedded += s.embedded
            }
            XCTAssertGreaterThanOrEqual(embedded, summary.embedded)
            XCTAssertNotNil(try IndexBuilder.merge(workdir: work, modelDir: model, shards: n, force: false,
                                                   archive: true))
            let merged = work.stageDir("index") + "/index.sqlite"
            XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: merged)) == expected, "index.sqlite, N = \(n)")
            XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: merged + ".zst")) == archive, "archive, N = \(n)")
            let manifest = try XCTUnwrap(work.manifest("index"))
            XCTAssertEqual(manifest.records, records)
            XCTAssertEqual(manifest.parameters, one.manifest("index")?.parameters)
            XCTAssertEqual(manifest.outputs.map(\.path).sorted(), ["index.sqlite", "index.sqlite.zst"])
            // Up to date: the shards and the merge do nothing on a re-run.
            XCTAssertNil(try IndexBuilder.runShard(workdir: work, modelDir: model,
                                                   shard: try Shard(index: 0, count: n), force: false))
            XCTAssertNil(try IndexBuilder.merge(workdir: work, modelDir: model, shards: n, force: false,
                                                archive: true))
        }
    }

    /// Shards reuse the vectors of the stage's current database (same model file), as a run without shards does:
    /// after a change only the new texts are embedded, and the merge equals a fresh run.
    func testShardsReuseTheVectorsOfThePreviousDatabase() throws {
        let model = try modelFolder()
        let work = try makeWorkdir("reuse"), fresh = try makeWorkdir("fresh")
        for i in 0..<2 {
            _ = try IndexBuilder.runShard(workdir: work, modelDir: model, shard: try Shard(index: i, count: 2),
                                          force: false)
        }
        XCTAssertNotNil(try IndexBuilder.merge(workdir: work, modelDir: model, shards: 2, force: false))
        let path = work.stageDir("chunk") + "/chunks.jsonl.zst"
        var chunks = Array(try JSONLReader.readAll(ChunkRecord.self, path: path).prefix(150))
        for (i, text) in ["an entirely new text", "and another one", "a third, never seen"].enumerated() {
            chunks.append(ChunkRecord(chunkId: "new:\(i):0", docId: "d19", source: "d19.pdf", page: i,
                                      startIndex: 0, text: text))
        }
        for w in [work, fresh] {
            let out = try JSONLWriter<ChunkRecord>(path: w.stageDir("chunk") + "/chunks.jsonl.zst")
            for c in chunks { try out.write(c) }
            try out.close()
        }
        var embedded = 0, reused = 0
        for i in 0..<2 {
            let s = try XCTUnwrap(IndexBuilder.runShard(workdir: work, modelDir: model,
                                                        shard: try Shard(index: i, count: 2), force: false))
            embedded += s.embedded; reused += s.reused
        }
        XCTAssertEqual(embedded, 3, "only the new texts are embedded")
        XCTAssertGreaterThan(reused, 100)
        XCTAssertNotNil(try IndexBuilder.merge(workdir: work, modelDir: model, shards: 2, force: false))
        XCTAssertNotNil(try IndexBuilder.run(workdir: fresh, modelDir: model, force: false))
        XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: work.stageDir("index") + "/index.sqlite"))
                      == Data(contentsOf: URL(fileURLWithPath: fresh.stageDir("index") + "/index.sqlite")))
    }

    func testMergeNamesAMissingOrStaleShard() throws {
        let model = try modelFolder()
        let work = try makeWorkdir("stale")
        _ = try IndexBuilder.runShard(workdir: work, modelDir: model, shard: try Shard(index: 0, count: 2),
                                      force: false)
        XCTAssertThrowsError(try IndexBuilder.merge(workdir: work, modelDir: model, shards: 2, force: false)) {
            XCTAssertTrue("\($0)".contains("index: shard 1/2 has not run"), "\($0)")
        }
        _ = try IndexBuilder.runShard(workdir: work, modelDir: model, shard: try Shard(index: 1, count: 2),
                                      force: false)
        // New chunks make both shards stale.
        let w = try JSONLWriter<ChunkRecord>(path: work.stageDir("chunk") + "/chunks.jsonl.zst")
        try w.write(ChunkRecord(chunkId: "x:0:0", docId: "x", source: "x.pdf", page: 0, startIndex: 0, text: "new"))
        try w.close()
        XCTAssertThrowsError(try IndexBuilder.merge(workdir: work, modelDir: model, shards: 2, force: false)) {
            XCTAssertTrue("\($0)".contains("index: shard 0/2 is stale"), "\($0)")
        }
    }
}
