// Conformance of the dedup stage with datatrove (Fixtures/make_fixtures.py ran datatrove's four MinHash steps).
import Core
import Dedup
import Foundation
import XCTest

/// What Fixtures/expected.json holds.
struct Expected: Decodable {
    struct Words: Decodable { let text: String; let simple: String; let words: [String] }
    let documents: Int
    let exact_removed: [String]
    let near_removed: [String]
    let signed: [String]
    let signatures_sha256: String
    let parameters_sha256: String
    let first_signatures: [[UInt64]?]
    let words: [Words]
}

/// One document of Fixtures/corpus.jsonl.zst.
struct CorpusDoc: Decodable { let id: String; let text: String }

enum Fixture {
    static let dir = SharedData.packageRoot() + "/Tests/DedupTests/Fixtures"
    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json")))
    }
    static func corpus() throws -> [CorpusDoc] {
        try JSONLReader.readAll(CorpusDoc.self, path: dir + "/corpus.jsonl.zst")
    }

    /// The exact rule as the stage applies it: the ids removed and the documents left, in order.
    static func exact(_ docs: [CorpusDoc]) -> (removed: [String], kept: [CorpusDoc]) {
        var seen = Set<String>(), removed: [String] = [], kept: [CorpusDoc] = []
        for d in docs {
            if seen.insert(Hashing.sha256(DedupStage.exactText(d.text))).inserted { kept.append(d) }
            else { removed.append(d.id) }
        }
        return (removed, kept)
    }
}

final class DedupConformanceTests: XCTestCase {
    func littleEndian(_ values: [UInt64]) -> [UInt8] {
        values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    }

    /// The permutation parameters are numpy's RandomState(1).randint draws, bit for bit.
    func testParametersAreDatatroves() throws {
        let m = MinHash()
        XCTAssertEqual(m.a.count, 112)
        XCTAssertEqual(Hashing.sha256(littleEndian(m.a) + littleEndian(m.b)), try Fixture.expected().parameters_sha256)
        XCTAssertEqual(m.threshold, 0.71901, accuracy: 0.00001)
    }

    /// simplify_text and spaCy's English words on contractions, units, diacritics, symbols, Greek, whitespace.
    func testWordsAreDatatroves() throws {
        for w in try Fixture.expected().words {
            let simple = SimplifiedText.simplify(w.text)
            XCTAssertEqual(String(decoding: simple, as: UTF8.self), w.simple, "simplify_text of \(w.text)")
            let words = SpaCyWords.tokens(simple).map { String(decoding: simple[$0], as: UTF8.self) }
            XCTAssertEqual(words, w.words, "words of \(w.text)")
        }
    }

    /// XXH64 of the reference vectors (xxhash's own: "" and "a" with seed 0).
    func testXXHash64() {
        XCTAssertEqual(XXHash64.hash([]), 0xEF46_DB37_51D8_E999)
        XCTAssertEqual(XXHash64.hash(Array("a".utf8)), 0xD24E_C4F1_A98C_6E5B)
        // Above 32 bytes (the four-lane path): xxhash.xxh64_intdigest(b"abc" * 20).
        XCTAssertEqual(XXHash64.hash(Array(String(repeating: "abc", count: 20).utf8)), 0xE5D4_B65C_2F20_4B38)
    }

    /// Every signature datatrove wrote (323-document corpus, 3 exact duplicates removed first) is ours bit for bit;
    /// the documents without one (fewer than 5 words) are the same.
    func testSignaturesAreBitIdentical() throws {
        let expected = try Fixture.expected()
        let docs = try Fixture.corpus()
        XCTAssertEqual(docs.count, expected.documents)
        let (exactRemoved, kept) = Fixture.exact(docs)
        XCTAssertEqual(exactRemoved, expected.exact_removed)
        let m = MinHash()
        let sigs = kept.map { m.signature($0.text) }
        XCTAssertEqual(zip(kept, sigs).filter { $0.1 != nil }.map(\.0.id), expected.signed)
        for (i, want) in expected.first_signatures.enumerated() {
            XCTAssertEqual(sigs[i], want, "signature of \(kept[i].id)")
        }
        XCTAssertEqual(Hashing.sha256(sigs.compactMap { $0 }.flatMap(littleEndian)), expected.signatures_sha256)
    }

    /// LSH pairs and union-find clusters remove exactly the documents datatrove's MinhashDedupFilter dropped.
    func testRemovedSetIsDatatroves() throws {
        let expected = try Fixture.expected()
        let (_, kept) = Fixture.exact(try Fixture.corpus())
        let m = MinHash()
        let sigs = kept.map { m.signature($0.text) }
        var clusters = DuplicateClusters(count: kept.count, pairs: m.pairs(sigs))
        let removed = clusters.clusters().flatMap(\.removed).map { kept[$0].id }.sorted()
        XCTAssertEqual(removed, expected.near_removed)
        XCTAssertEqual(removed.count, 40)
    }
}
