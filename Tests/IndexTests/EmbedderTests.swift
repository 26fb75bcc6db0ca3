import Core
import Foundation
@testable import Index
import XCTest

/// The model folder tests use: <package root>/models/all-MiniLM-L6-v2 (`make model`), or skip.
func modelFolder() throws -> String {
    let dir = SharedData.packageRoot() + "/models/all-MiniLM-L6-v2"
    guard FileSystem.exists(dir + "/model.safetensors") else {
        throw XCTSkip("models/all-MiniLM-L6-v2 is absent (run `make model` first): skipped")
    }
    return dir
}

private let sharedEmbedderLock = NSLock()
nonisolated(unsafe) private var sharedEmbedderValue: SentenceEmbedder?

/// One loaded embedder for all tests.
func sharedEmbedder() throws -> SentenceEmbedder {
    let dir = try modelFolder()
    sharedEmbedderLock.lock(); defer { sharedEmbedderLock.unlock() }
    if let e = sharedEmbedderValue { return e }
    let e = try SentenceEmbedder(folder: dir)
    sharedEmbedderValue = e
    return e
}

struct EmbedFixture: Decodable {
    var text: String
    var ids: [Int32]
}

func fixturePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/" + name).path
}

final class EmbedderTests: XCTestCase {
    func loadFixture() throws -> ([EmbedFixture], [Float]) {
        let rows = try JSONLReader.readAll(EmbedFixture.self, path: fixturePath("embed_texts.jsonl.zst"))
        let bytes = try ByteReader(path: fixturePath("embed_vectors.f32.zst")).readAll()
        var vecs = [Float](repeating: 0, count: bytes.count / 4)
        for i in 0..<vecs.count {
            let b = UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24
            vecs[i] = Float(bitPattern: b)
        }
        return (rows, vecs)
    }

    func testTokenIdsMatchHuggingFace() throws {
        let e = try sharedEmbedder()
        XCTAssertEqual(e.maxSeqLength, 256)
        let (rows, _) = try loadFixture()
        XCTAssertGreaterThanOrEqual(rows.count, 200)
        XCTAssertTrue(rows.contains { $0.ids.count == 256 }, "fixture has texts longer than 256 tokens")
        var bad = 0
        for (i, r) in rows.enumerated() {
            let ids = e.encode(r.text)
            if ids != r.ids {
                bad += 1
                if bad <= 5 { XCTFail("text \(i) \(r.text.debugDescription.prefix(80)): ids \(ids.prefix(40)) expected \(r.ids.prefix(40))") }
            }
        }
        XCTAssertEqual(bad, 0, "\(bad) of \(rows.count) texts tokenised differently")
    }

    func testEmbeddingsMatchSentenceTransformers() throws {
        let e = try sharedEmbedder()
        let (rows, expected) = try loadFixture()
        let dim = e.dimension
        XCTAssertEqual(expected.count, rows.count * dim)
        // A small batch size exercises several packed batches.
        let got = e.embed(rows.map(\.text))
        var worst: Float = 0, worstRow = -1
        for i in 0..<expected.count {
            let d = abs(got[i] - expected[i])
            if d > worst { worst = d; worstRow = i / dim }
        }
        print("embedder conformance: \(rows.count) texts, max abs difference \(worst)")
        XCTAssertLessThanOrEqual(worst, 4e-7, "max abs difference \(worst) at text \(worstRow)")
        // Same vectors whatever the batching, bit for bit.
        let one = e.embed([rows[10].text, rows[3].text])
        XCTAssertEqual(Array(one[0..<dim]), Array(got[(10 * dim)..<(11 * dim)]))
        XCTAssertEqual(Array(one[dim...]), Array(got[(3 * dim)..<(4 * dim)]))
        for r in 0..<rows.count {
            var n: Float = 0
            for d in 0..<dim { n += got[r * dim + d] * got[r * dim + d] }
            XCTAssertEqual(n, 1, accuracy: 1e-4)
        }
    }

    /// A text's vector must not depend on the texts embedded with it (robustness issue, items 0 and 9): the index
    /// stores vectors computed in whatever batches the history produced, and shards embed different mixes.
    func testEmbeddingsAreBatchInvariant() throws {
        let e = try sharedEmbedder()
        let saved = e.batchTokens
        defer { e.batchTokens = saved }
        let words = "the cat sat on a mat while quantum fields describe strong forces and bread needs starter".split(separator: " ")
        var texts: [String] = []
        for i in 0..<40 {  // 1 to ~400 words: every remainder of the row alignment, and texts over 256 tokens
            let n = 1 + (i * 37) % 400
            texts.append((0..<n).map { String(words[($0 * 7 + i) % words.count]) }.joined(separator: " "))
        }
        texts += ["", "The cat sat on the mat.", "Stock markets fell sharply on Monday."]
        let dim = e.dimension
        let alone = texts.map { e.embed([$0]) }
        func check(_ got: [Float], _ order: [Int], _ what: String) {
            for (k, i) in order.enumerated() where Array(got[(k * dim)..<((k + 1) * dim)]) != alone[i] {
                XCTFail("\(what): text \(i) (\(texts[i].count) chars) differs from its vector embedded alone")
            }
        }
        let all = Array(texts.indices)
        check(e.embed(texts), all, "one call")
        let shuffled = all.map { ($0 * 17) % texts.count }
        check(e.embed(shuffled.map { texts[$0] }), shuffled, "shuffled")
        for tokens in [16, 64, 300, 1000] {
            e.batchTokens = tokens
            check(e.embed(texts), all, "batchTokens \(tokens)")
        }
    }

    func testMissingModelFolderIsAClearError() {
        XCTAssertThrowsError(try SentenceEmbedder(folder: "/nonexistent/model")) { error in
            XCTAssertTrue((error as? IndexError)?.message.contains("config.json") ?? false, "\(error)")
        }
    }
}
