import Core
import Foundation
@testable import Tokenize
import XCTest

enum Fixtures {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
        return try JSONDecoder().decode(T.self, from: data)
    }
}

struct TrainingCase: Decodable {
    var name: String
    var corpora: [String]
    var vocab_size: Int
    var min_frequency: Int64
    var initial_alphabet: Bool
    var add_prefix_space: Bool
    var special_tokens: [String]
    var sha256: [String: String]
    var tokens: Int
    var merges: Int
    var full: Bool
}

struct TrainingFixtures: Decodable {
    var tokenizers: String
    var cases: [TrainingCase]
}

final class TrainingTests: XCTestCase {
    func options(_ c: TrainingCase) -> TrainerOptions {
        var o = TrainerOptions()
        o.vocabSize = c.vocab_size
        o.minFrequency = c.min_frequency
        o.specialTokens = c.special_tokens
        o.addPrefixSpace = c.add_prefix_space
        o.initialAlphabet = c.initial_alphabet
        return o
    }

    /// Every case: tokenizer.json, vocab.json and merges.txt byte-identical to tokenizers' files.
    func testTrainingMatchesTokenizers() throws {
        let fx = try Fixtures.load(TrainingFixtures.self, "training.json")
        XCTAssertGreaterThanOrEqual(fx.cases.count, 10)
        Progress.enabled = false
        for c in fx.cases {
            let files = c.corpora.map { Fixtures.dir + "/corpora/" + $0 + ".txt" }
            for threads in [1, 2] {
                let model = try BPETrainer.train(files: files, options: options(c), threads: threads)
                let tj = model.tokenizerJSON(), vj = model.vocabJSON(), mt = model.mergesText()
                XCTAssertEqual(model.tokens.count, c.tokens, "\(c.name): vocabulary size")
                XCTAssertEqual(model.serializedMerges.count, c.merges, "\(c.name): merges")
                XCTAssertEqual(Hashing.sha256(vj), c.sha256["vocab.json"], "\(c.name): vocab.json")
                XCTAssertEqual(Hashing.sha256(mt), c.sha256["merges.txt"], "\(c.name): merges.txt")
                XCTAssertEqual(Hashing.sha256(tj), c.sha256["tokenizer.json"], "\(c.name): tokenizer.json")
                if c.full {
                    let expected = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.dir + "/expected/\(c.name)/merges.txt")))
                    let e = String(decoding: expected, as: UTF8.self).split(separator: "\n")
                    let g = String(decoding: mt, as: UTF8.self).split(separator: "\n")
                    if let i = zip(e, g).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                        XCTFail("\(c.name): merge \(i) is \(g[i]), expected \(e[i])")
                    }
                    let tjExpected = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.dir + "/expected/\(c.name)/tokenizer.json")))
                    XCTAssertEqual(tj, tjExpected, "\(c.name): tokenizer.json bytes")
                }
            }
        }
    }

    func testInvalidUTF8IsReportedWithLine() throws {
        let path = NSTemporaryDirectory() + "bad-\(getpid()).txt"
        try FileSystem.atomicWrite([0x61, 0x0A, 0x62, 0x0A, 0x63, 0xFF, 0x0A, 0x64], to: path)
        defer { FileSystem.remove(path) }
        Progress.enabled = false
        XCTAssertThrowsError(try BPETrainer.train(files: [path], options: TrainerOptions(), threads: 2)) { error in
            XCTAssertEqual((error as? TokenizeError)?.message.hasPrefix(path + ":3:"), true, "\(error)")
        }
    }

    func testLongLinesAcrossBlocks() throws {
        // A line longer than the read block, and many short lines: same counts with any block size.
        var text = String(repeating: "word ", count: 3000) + "\n"
        for i in 0..<2000 { text += "line \(i) here\n" }
        let path = NSTemporaryDirectory() + "long-\(getpid()).txt"
        try FileSystem.atomicWrite(text, to: path)
        defer { FileSystem.remove(path) }
        let small = WordCounter(addPrefixSpace: false, threads: 2, blockSize: 1000)
        try small.add(file: path)
        let big = WordCounter(addPrefixSpace: false, threads: 1)
        try big.add(file: path)
        let a = small.result(), b = big.result()
        XCTAssertEqual(a.count, b.count)
        for e in 0..<a.count {
            let k = a.keyBytes(e)
            let j = k.withUnsafeBufferPointer { b.lookup($0.baseAddress!, $0.count) }
            XCTAssertEqual(j.map { b.value($0) }, a.value(e))
        }
        XCTAssertEqual(small.lines, 2001)
    }
}

final class PreTokenizerTests: XCTestCase {
    struct Piece: Decodable { var text: String; var pieces: [String]; var prefix_pieces: [String] }

    func pieces(_ text: String, prefix: Bool) -> [String] {
        var bytes = Array(text.utf8)
        if prefix && !bytes.isEmpty && bytes.first != 0x20 { bytes.insert(0x20, at: 0) }
        let scanner = PreTokenizer()
        defer { scanner.deallocate() }
        var out: [String] = []
        let bad = bytes.withUnsafeBufferPointer { b -> Int? in
            guard let base = b.baseAddress else { return nil }
            return scanner.split(base, b.count) { s, e in
                out.append(String(decoding: ByteLevel.encode(b[s..<e]), as: UTF8.self))
            }
        }
        XCTAssertNil(bad)
        return out
    }

    func testPiecesMatchTokenizers() throws {
        let cases = try Fixtures.load([Piece].self, "pretokenize.json")
        XCTAssertGreaterThan(cases.count, 100)
        for c in cases {
            XCTAssertEqual(pieces(c.text, prefix: false), c.pieces, "\(c.text.debugDescription)")
            XCTAssertEqual(pieces(c.text, prefix: true), c.prefix_pieces, "prefix: \(c.text.debugDescription)")
        }
    }

    /// The class of every code point equals what the reference pre-tokenizer (Oniguruma) sees.
    func testUnicodeClassesMatchReference() throws {
        let ranges = try Fixtures.load([[JSONValue]].self, "unicode_classes.json")
        var expected = [UInt8](repeating: CharClass.other.rawValue, count: 0x110000)
        for r in ranges {
            guard case let .int(a) = r[0], case let .int(b) = r[1], case let .string(k) = r[2] else { continue }
            let c: CharClass = k == "L" ? .letter : k == "N" ? .number : .space
            for cp in a...b { expected[cp] = c.rawValue }
        }
        var mismatches: [String] = []
        for cp in 0..<0x110000 where !(0xD800..<0xE000).contains(cp) {
            let got = UnicodeClasses.classify(UInt32(cp)).rawValue
            if got != expected[cp] {
                mismatches.append(String(format: "U+%04X ours %d reference %d", cp, got, expected[cp]) + " age \(Unicode.Scalar(UInt32(cp))!.properties.age.map { "\($0.major).\($0.minor)" } ?? "-")")
            }
        }
        XCTAssertEqual(mismatches.count, 0, mismatches.prefix(20).joined(separator: "; "))
    }
}

enum JSONValue: Decodable {
    case int(Int), string(String)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
    }
}
