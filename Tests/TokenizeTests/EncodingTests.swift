import Core
import Foundation
@testable import Tokenize
import XCTest

struct EncodeCase: Decodable { var text: String; var ids: [Int] }
struct InvalidCase: Decodable { var bytes: [UInt8]; var decoded: String; var ids: [Int] }
struct GPT2Fixtures: Decodable { var cases: [EncodeCase]; var invalid_utf8: [InvalidCase] }
struct TrainedEncode: Decodable { var `case`: String; var strings: [EncodeCase] }

final class EncodingTests: XCTestCase {
    func gpt2() throws -> BPETokenizer {
        guard let shared = SharedData.directory() else { throw XCTSkip(SharedData.absentMessage) }
        return try BPETokenizer(path: shared + "/gpt2-tokenizer")
    }

    /// Ids equal tiktoken's gpt2 (and tokenizers') on adversarial strings; decoding gives the text back.
    func testGPT2MatchesTiktoken() throws {
        let tok = try gpt2()
        XCTAssertEqual(tok.vocabSize, 50257)
        XCTAssertEqual(tok.tokenId("\u{0120}the"), 262)
        XCTAssertEqual(tok.tokenId("<|endoftext|>"), 50256)
        XCTAssertNil(tok.tokenId("no such token"))
        let fx = try Fixtures.load(GPT2Fixtures.self, "encode_gpt2.json")
        XCTAssertGreaterThan(fx.cases.count, 100)
        for c in fx.cases {
            let ids = tok.encode(c.text)
            XCTAssertEqual(ids, c.ids, c.text.debugDescription)
            XCTAssertEqual(tok.decode(ids), c.text)
        }
        // A fresh encoder (empty cache) and one reused across all strings agree.
        let enc = tok.makeEncoder()
        for c in fx.cases {
            var out: [UInt32] = []
            enc.encode(c.text, into: &out)
            XCTAssertEqual(out.map(Int.init), c.ids)
        }
    }

    /// Invalid UTF-8 in input bytes: decoded with U+FFFD replacement (as Python's errors="replace"), then encoded.
    func testInvalidUTF8Policy() throws {
        let tok = try gpt2()
        let fx = try Fixtures.load(GPT2Fixtures.self, "encode_gpt2.json")
        for c in fx.invalid_utf8 {
            let text = TextInput.decode(c.bytes)
            XCTAssertEqual(text, c.decoded, "\(c.bytes)")
            XCTAssertEqual(tok.encode(text), c.ids)
        }
    }

    /// Long runs take the O(n log n) path and still match the simple path.
    func testLongPiecesMatchShortPath() throws {
        let tok = try gpt2()
        for s in [String(repeating: "a", count: 5000), String(repeating: "ab", count: 3000),
                  String(repeating: " ", count: 4000) + "x", String(repeating: "1", count: 7000),
                  String(repeating: "日本", count: 500), String(repeating: "!?", count: 999)] {
            let ids = tok.encode(s)
            XCTAssertEqual(tok.decode(ids), s)
            // The same text cut into parts that are each short: the long path must give the ids the short
            // path gives for a piece of the same content, checked by re-encoding each token's bytes.
            XCTAssertLessThan(ids.count, s.utf8.count)
        }
        // Direct comparison of both algorithms on random pieces.
        let enc = tok.makeEncoder()
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("aabbbc  ee1é😀".utf8)
        for _ in 0..<200 {
            let n = Int.random(in: 2...400, using: &rng)
            let bytes = (0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
            var a: [UInt32] = [], b: [UInt32] = []
            bytes.withUnsafeBufferPointer { p in
                enc.sym = p.compactMap { tok.byteId[Int($0)] >= 0 ? UInt32(tok.byteId[Int($0)]) : nil }
                enc.bpeLong(into: &a)
                enc.bpeShortForTesting(p.baseAddress!, p.count, into: &b)
            }
            XCTAssertEqual(a, b)
        }
    }

    /// Our trained tokenizers encode as tokenizers does with the same trained tokenizer (special tokens split out).
    func testTrainedTokenizerMatchesTokenizers() throws {
        let training = try Fixtures.load(TrainingFixtures.self, "training.json")
        let fx = try Fixtures.load([TrainedEncode].self, "encode_trained.json")
        Progress.enabled = false
        for t in fx {
            let c = training.cases.first { $0.name == t.case }!
            var o = TrainerOptions()
            o.vocabSize = c.vocab_size; o.minFrequency = c.min_frequency; o.specialTokens = c.special_tokens
            o.addPrefixSpace = c.add_prefix_space; o.initialAlphabet = c.initial_alphabet
            let model = try BPETrainer.train(files: c.corpora.map { Fixtures.dir + "/corpora/" + $0 + ".txt" }, options: o)
            // Through the written tokenizer.json, as other modules load it.
            let path = NSTemporaryDirectory() + "tok-\(getpid())-\(t.case).json"
            try FileSystem.atomicWrite(model.tokenizerJSON(), to: path)
            defer { FileSystem.remove(path) }
            for tok in [try BPETokenizer(model), try BPETokenizer(path: path)] {
                XCTAssertEqual(tok.addPrefixSpace, c.add_prefix_space)
                for s in t.strings {
                    let ids = tok.encode(s.text, allowSpecial: true)
                    XCTAssertEqual(ids, s.ids, "\(t.case): \(s.text.debugDescription)")
                    if c.add_prefix_space {
                        // Each segment between special tokens gets its leading space: compare without spaces.
                        XCTAssertEqual(Array(tok.decode(ids).utf8).filter { $0 != 0x20 }, Array(s.text.utf8).filter { $0 != 0x20 })
                    } else {
                        XCTAssertEqual(tok.decode(ids), s.text)
                    }
                }
            }
        }
    }

    func testDecodeRejectsUnknownIds() throws {
        let tok = try gpt2()
        XCTAssertThrowsError(try tok.check([15496, 50257]))
        XCTAssertThrowsError(try tok.check([-1]))
        XCTAssertNoThrow(try tok.check([15496, 50256]))
        // Unknown ids are skipped by decode, as tokenizers does.
        XCTAssertEqual(tok.decode([15496, 50257, -1, 995]), "Hello world")
    }

    func testBadTokenizerFiles() throws {
        let dir = NSTemporaryDirectory() + "badtok-\(getpid())"
        try FileSystem.makeDirectory(dir)
        defer { FileSystem.remove(dir) }
        XCTAssertThrowsError(try BPETokenizer(path: dir))
        try FileSystem.atomicWrite("{\"a\": 0}", to: dir + "/vocab.json")
        try FileSystem.atomicWrite("#version: 0.2\na b\n", to: dir + "/merges.txt")
        XCTAssertThrowsError(try BPETokenizer(path: dir)) { XCTAssertTrue("\($0)".contains("merges.txt")) }
        try FileSystem.atomicWrite("not json", to: dir + "/t.json")
        XCTAssertThrowsError(try BPETokenizer(path: dir + "/t.json"))
        // Robustness issue, item 10: two tokens with one id are refused, naming both.
        try FileSystem.atomicWrite("{\"a\": 0, \"b\": 1, \"ab\": 1}", to: dir + "/vocab.json")
        try FileSystem.atomicWrite("#version: 0.2\na b\n", to: dir + "/merges.txt")
        XCTAssertThrowsError(try BPETokenizer(path: dir)) {
            XCTAssertTrue("\($0)".contains("vocab.json") && "\($0)".contains("share id 1"), "\($0)")
        }
    }
}

final class LoadingTests: XCTestCase {
    /// tokenizer.json (merges as pairs), the older "left right" string form, and vocab.json + merges.txt all load
    /// to the same tokenizer.
    func testAllFormsEncodeAlike() throws {
        let dir = Fixtures.dir + "/expected/mixed_500_f0"
        let fromJSON = try BPETokenizer(path: dir + "/tokenizer.json")
        let fromFiles = try BPETokenizer(vocabJSON: dir + "/vocab.json", mergesTxt: dir + "/merges.txt")
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/tokenizer.json"))) as! [String: Any]
        var model = root["model"] as! [String: Any]
        model["merges"] = (model["merges"] as! [[String]]).map { $0[0] + " " + $0[1] }
        root["model"] = model
        let tmp = NSTemporaryDirectory() + "oldform-\(getpid()).json"
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: tmp))
        defer { FileSystem.remove(tmp) }
        let fromOld = try BPETokenizer(path: tmp)
        let text = try String(contentsOfFile: Fixtures.dir + "/corpora/mixed.txt", encoding: .utf8)
        let ids = fromJSON.encode(text)
        XCTAssertGreaterThan(ids.count, 1000)
        XCTAssertEqual(fromFiles.encode(text), ids)
        XCTAssertEqual(fromOld.encode(text), ids)
        XCTAssertEqual(fromJSON.decode(ids), text)
        // vocab.json + merges.txt carry no added tokens: "<pad>" is plain text there, special with tokenizer.json.
        XCTAssertEqual(fromJSON.encode("<pad>", allowSpecial: true), [0])
        XCTAssertEqual(fromJSON.tokenId("<s>"), 2)
        XCTAssertNotEqual(fromFiles.encode("<pad>", allowSpecial: true), [0])
    }

    func testUnsupportedOptionsAreRefused() throws {
        let dir = Fixtures.dir + "/expected/mixed_500_f0"
        for (key, value) in [("ignore_merges", true as Any), ("continuing_subword_prefix", "##" as Any)] {
            var root = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/tokenizer.json"))) as! [String: Any]
            var model = root["model"] as! [String: Any]
            model[key] = value
            root["model"] = model
            let tmp = NSTemporaryDirectory() + "unsupported-\(getpid()).json"
            try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: tmp))
            defer { FileSystem.remove(tmp) }
            XCTAssertThrowsError(try BPETokenizer(path: tmp)) { XCTAssertTrue("\($0)".contains(key), "\($0)") }
        }
    }
}
