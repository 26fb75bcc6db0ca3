import Core
import Foundation
@testable import Tokenize
import XCTest

/// bpe-train as a map (word counts per shard) and a reduce (counts summed, then the merges): the tokenizer files are
/// byte-identical to tokenizers' for every N, on the committed fixtures' corpora.
final class BPEShardTests: XCTestCase {
    func testShardedTrainingEqualsTokenizersForEveryN() throws {
        let fx = try Fixtures.load(TrainingFixtures.self, "training.json")
        Progress.enabled = false
        let tmp = NSTemporaryDirectory() + "bpe-shards-\(UUID().uuidString)"
        defer { FileSystem.remove(tmp) }
        for c in fx.cases {
            let files = c.corpora.map { Fixtures.dir + "/corpora/" + $0 + ".txt" }
            var o = TrainerOptions()
            o.vocabSize = c.vocab_size; o.minFrequency = c.min_frequency; o.specialTokens = c.special_tokens
            o.addPrefixSpace = c.add_prefix_space; o.initialAlphabet = c.initial_alphabet
            for n in [1, 2, 3, 7] {
                let work = Workdir(path: tmp + "/\(c.name)-\(n)")
                for i in 0..<n {
                    // 2 kB blocks: every shard counts several of them.
                    XCTAssertNotNil(try TokenizeStages.countShard(workdir: work, files: files, options: o,
                                                                  shard: try Shard(index: i, count: n), force: false,
                                                                  threads: 2, blockSize: 2048))
                }
                let s = try XCTUnwrap(try TokenizeStages.mergeBPE(workdir: work, files: files, options: o, shards: n,
                                                                  force: false))
                XCTAssertEqual(s.tokens, c.tokens, "\(c.name), N = \(n)")
                XCTAssertEqual(s.merges, c.merges, "\(c.name), N = \(n)")
                for name in ["tokenizer.json", "vocab.json", "merges.txt"] {
                    let bytes = try ByteReader(path: work.stageDir("tokenize") + "/\(name).zst").readAll()
                    XCTAssertEqual(Hashing.sha256(bytes), c.sha256[name], "\(c.name), N = \(n): \(name)")
                }
                XCTAssertNil(try TokenizeStages.mergeBPE(workdir: work, files: files, options: o, shards: n,
                                                         force: false), "up to date")
            }
        }
    }
}
