import Core
import Foundation
@testable import Index
import XCTest

/// The chunk stage as N shards and a merge gives the bytes of one run, for every N.
final class ChunkShardTests: XCTestCase {
    var temp = ""

    override func setUpWithError() throws {
        temp = NSTemporaryDirectory() + "chunk-shards-\(getpid())-\(UUID().uuidString)"
        try FileSystem.makeDirectory(temp)
    }

    override func tearDown() { FileSystem.remove(temp) }

    /// 300 documents (5 blocks of 64 and a partial one) of 1–3 pages, some empty, of varied lengths.
    func makeWorkdir(_ name: String) throws -> Workdir {
        let work = Workdir(path: temp + "/" + name)
        try FileSystem.makeDirectory(work.stageDir("ingest"))
        let w = try JSONLWriter<ChunkStageTests.Page>(path: ChunkStage.inputPath(work))
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        for d in 0..<300 {
            for p in 0..<(1 + next() % 3) {
                let words = (0..<(next() % 400)).map { i in ["alpha", "beta", "gamma\n\n", "delta.", "é", "中文"][(i + d) % 6] }
                try w.write(.init(doc_id: String(format: "%016x", d), source: "doc\(d).pdf", page: p,
                                  text: words.joined(separator: " ")))
            }
        }
        try w.close()
        return work
    }

    func bytes(_ path: String) throws -> [UInt8] { try ByteReader(path: path).readAll() }

    func testShardsAndMergeEqualOneRunForEveryN() throws {
        for unit in ChunkStage.Unit.allCases {
            let one = try makeWorkdir("one-\(unit)")
            _ = try ChunkStage.run(workdir: one, size: 200, overlap: 30, unit: unit)
            let expected = try bytes(one.stageDir("chunk") + "/chunks.jsonl.zst")
            let records = try XCTUnwrap(one.manifest("chunk")).records
            for n in [1, 2, 3, 7] {
                let work = try makeWorkdir("n\(n)-\(unit)")
                for i in (0..<n).reversed() {   // the order the shards finish in does not matter
                    let o = try ChunkStage.runShard(workdir: work, size: 200, overlap: 30, unit: unit,
                                                    shard: try Shard(index: i, count: n))
                    XCTAssertTrue(o.ran)
                }
                let m = try ChunkStage.merge(workdir: work, size: 200, overlap: 30, unit: unit, shards: n)
                XCTAssertTrue(m.ran)
                XCTAssertEqual(try bytes(work.stageDir("chunk") + "/chunks.jsonl.zst"), expected, "N = \(n), \(unit)")
                let manifest = try XCTUnwrap(work.manifest("chunk"))
                XCTAssertEqual(manifest.records, records)
                XCTAssertEqual(manifest.parameters, one.manifest("chunk")?.parameters)
                XCTAssertEqual(manifest.outputs.map(\.path), ["chunks.jsonl.zst"], "the shards are not outputs")
                // The shards stay beside the outputs, up to date: a re-run does nothing, and so does the merge.
                XCTAssertTrue(FileSystem.isDirectory(work.stageDir("chunk") + "/shards/0-of-\(n)"))
                XCTAssertFalse(try ChunkStage.runShard(workdir: work, size: 200, overlap: 30, unit: unit,
                                                       shard: try Shard(index: 0, count: n)).ran)
                XCTAssertFalse(try ChunkStage.merge(workdir: work, size: 200, overlap: 30, unit: unit, shards: n).ran)
                XCTAssertEqual(work.freshness("chunk"), .upToDate)
            }
        }
    }

    func testMergeNamesAMissingOrStaleShard() throws {
        let work = try makeWorkdir("missing")
        _ = try ChunkStage.runShard(workdir: work, size: 200, overlap: 30, unit: .page, shard: try Shard(index: 0, count: 2))
        XCTAssertThrowsError(try ChunkStage.merge(workdir: work, size: 200, overlap: 30, unit: .page, shards: 2)) {
            XCTAssertTrue("\($0)".contains("shard 1/2 has not run"), "\($0)")
        }
        // A shard made with other options is stale for these.
        _ = try ChunkStage.runShard(workdir: work, size: 300, overlap: 30, unit: .page, shard: try Shard(index: 1, count: 2))
        XCTAssertThrowsError(try ChunkStage.merge(workdir: work, size: 200, overlap: 30, unit: .page, shards: 2)) {
            XCTAssertTrue("\($0)".contains("shard 1/2 is stale"), "\($0)")
        }
        XCTAssertFalse(FileSystem.exists(work.stageDir("chunk") + "/chunks.jsonl.zst"))
    }
}
