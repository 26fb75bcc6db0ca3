import Core
import Foundation
@testable import Tokenize
import XCTest

/// The tokenize stage as N shards and a merge gives the bytes and records of one run.
final class TokenShardTests: XCTestCase {
    func testShardsAndMergeEqualOneRun() throws {
        let tmp = NSTemporaryDirectory() + "token-shards-\(UUID().uuidString)"
        try FileSystem.makeDirectory(tmp)
        defer { FileSystem.remove(tmp) }
        var text = ""
        var x: UInt64 = 9
        let words = ["penguins", "walk", "to", "the", "sea", "and", "back", "again", "über", "中文", "  ", "42"]
        for i in 0..<6000 {
            var line: [String] = []
            for _ in 0..<(i % 17) { x = x &* 6364136223846793005 &+ 1442695040888963407; line.append(words[Int(x >> 33) % words.count]) }
            text += line.joined(separator: " ") + "\n"
        }
        try FileSystem.atomicWrite(text, to: tmp + "/corpus.txt")
        var o = TrainerOptions()
        o.vocabSize = 300; o.minFrequency = 2
        func work(_ name: String) throws -> Workdir {
            let w = Workdir(path: tmp + "/" + name)
            try TokenizeStages.bpeTrain(workdir: w, files: [tmp + "/corpus.txt"], options: o, force: false, threads: 1)
            return w
        }
        let one = try work("one")
        let r = try XCTUnwrap(try TokenizeStages.tokenize(workdir: one, corpus: tmp + "/corpus.txt", tokenizer: nil,
                                                          force: false, threads: 2))
        let expected = try ByteReader(path: one.stageDir("tokens") + "/tokens.bin.zst").readAll()
        for n in [1, 2, 3, 7] {
            let w = try work("n\(n)")
            for i in 0..<n {
                // Blocks of 4 kB (about 40 of them), so every shard has several.
                XCTAssertNotNil(try TokenizeStages.tokenize(workdir: w, corpus: tmp + "/corpus.txt", tokenizer: nil,
                                                            force: false, threads: 2,
                                                            shard: try Shard(index: i, count: n), blockSize: 4096))
            }
            let m = try XCTUnwrap(try TokenizeStages.mergeTokens(workdir: w, corpus: tmp + "/corpus.txt", tokenizer: nil,
                                                                 shards: n, force: false))
            XCTAssertEqual(m.tokens, r.tokens)
            XCTAssertEqual(try ByteReader(path: w.stageDir("tokens") + "/tokens.bin.zst").readAll(), expected, "N = \(n)")
            XCTAssertEqual(w.manifest("tokens")?.records, one.manifest("tokens")?.records)
            XCTAssertEqual(w.manifest("tokens")?.parameters, one.manifest("tokens")?.parameters)
            XCTAssertNil(try TokenizeStages.mergeTokens(workdir: w, corpus: tmp + "/corpus.txt", tokenizer: nil,
                                                        shards: n, force: false), "up to date")
        }
    }
}
