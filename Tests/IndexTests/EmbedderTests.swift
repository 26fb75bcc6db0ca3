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
        XCTAssertLessThanOrEqual(worst, 1e-5, "max abs difference \(worst) at text \(worstRow)")
        // Same vectors whatever the batching.
        let one = e.embed([rows[10].text, rows[3].text])
        for d in 0..<dim {
            XCTAssertEqual(one[d], got[10 * dim + d], accuracy: 2e-6)
            XCTAssertEqual(one[dim + d], got[3 * dim + d], accuracy: 2e-6)
        }
        for r in 0..<rows.count {
            var n: Float = 0
            for d in 0..<dim { n += got[r * dim + d] * got[r * dim + d] }
            XCTAssertEqual(n, 1, accuracy: 1e-4)
        }
    }

    func testMissingModelFolderIsAClearError() {
        XCTAssertThrowsError(try SentenceEmbedder(folder: "/nonexistent/model")) { error in
            XCTAssertTrue((error as? IndexError)?.message.contains("config.json") ?? false, "\(error)")
        }
    }
}
