import XCTest
@testable import Core

/// The shard partition: every unit in exactly one shard, decided by the data alone.
final class ShardTests: XCTestCase {
    func testParsingAndValidation() throws {
        XCTAssertEqual(Shard(argument: "2/8"), try Shard(index: 2, count: 8))
        for bad in ["8/8", "-1/3", "1/0", "1", "a/b", "1/2/3"] { XCTAssertNil(Shard(argument: bad), bad) }
        XCTAssertEqual(try Shard(index: 3, count: 4).folder, "3-of-4")
        XCTAssertEqual(Workdir.shardStage("chunk", try Shard(index: 0, count: 2)), "chunk/shards/0-of-2")
    }

    func testEveryPositionAndFileIsInExactlyOneShard() throws {
        for n in [1, 2, 3, 7] {
            let shards = try (0..<n).map { try Shard(index: $0, count: n) }
            for position in 0..<2000 {
                XCTAssertEqual(shards.filter { $0.owns(position: position) }.count, 1)
                // Whole blocks go together.
                let owner = shards.first { $0.owns(position: position) }!
                XCTAssertTrue(owner.owns(position: (position / Shard.blockSize) * Shard.blockSize))
            }
            let hashes = (0..<500).map { Hashing.sha256("file \($0)") }
            var seen: [String: Int] = [:]
            for h in hashes { seen[h] = shards.filter { $0.owns(sha256: h) }.count }
            XCTAssertTrue(seen.values.allSatisfy { $0 == 1 })
            // A file's shard is its sha256's first 16 hex digits modulo N: its content only, not its place.
            let owners = hashes.map { h in shards.firstIndex { $0.owns(sha256: h) }! }
            XCTAssertEqual(owners, hashes.map { Int(UInt64($0.prefix(16), radix: 16)! % UInt64(n)) })
            if n > 1 { XCTAssertGreaterThan(Set(owners).count, 1, "spread over the shards") }
        }
    }

    func testShardFromTheSchedulersEnvironment() throws {
        XCTAssertNil(try Shard.fromEnvironment([:], shards: nil))
        XCTAssertEqual(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"], shards: nil),
                       try Shard(index: 3, count: 4))
        XCTAssertEqual(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "1"], shards: 5), try Shard(index: 1, count: 5))
        XCTAssertThrowsError(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "1"], shards: nil))
        XCTAssertThrowsError(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"], shards: nil))
    }

    func testLineReaderGivesEveryLineWithItsNewline() throws {
        let path = NSTemporaryDirectory() + "lines-\(UUID().uuidString).zst"
        defer { FileSystem.remove(path) }
        let w = try ZstdWriter(path: path)
        var expected: [[UInt8]] = []
        for i in 0..<5000 {
            let line = Array(String(repeating: "x", count: i % 300).utf8) + [0x0A]
            expected.append(line)
            try w.write(line)
        }
        try w.write(Array("tail".utf8))
        expected.append(Array("tail".utf8))
        try w.close()
        let r = try LineReader(path: path)
        var got: [[UInt8]] = []
        while let l = try r.next() { got.append(l) }
        XCTAssertEqual(got, expected)
    }
}
