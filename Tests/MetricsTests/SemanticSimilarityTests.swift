import Core
import Foundation
import XCTest
@testable import Metrics

/// semsim: the metric on a stand-in embedding, and the executable with the real MiniLM model against the
/// sentence-transformers vectors committed for the Index tests.
final class SemanticSimilarityTests: XCTestCase {
    /// A stand-in model: a text's vector is (length, vowels, 1).
    let toy = SentenceEmbedding(name: "toy", dimension: 3) { texts in
        texts.flatMap { t in [Float(t.count), Float(t.filter { "aeiou".contains($0) }.count), 1] }
    }

    func testBestReferenceAndMean() {
        let items = [ScoreItem(id: "1", prediction: "banana", references: ["xyz", "banana"]),
                     ScoreItem(id: "2", prediction: "", references: ["qq"])]
        let scores = SemanticSimilarity.scores(items, with: toy)
        XCTAssertEqual(scores[0], 1, accuracy: 1e-12) // identical text: cosine 1, the better of the two
        // (0, 0, 1) against (2, 0, 1): 1 / √5
        XCTAssertEqual(scores[1], 1 / 5.0.squareRoot(), accuracy: 1e-12)
        let report = Scorer.score(items, options: ScoreOptions(metrics: [.semsim], perItem: true, embedding: toy))
        XCTAssertEqual(report.semsim!.mean, (scores[0] + scores[1]) / 2, accuracy: 1e-12)
        XCTAssertEqual(report.semsim!.model, "toy")
        XCTAssertEqual(report.perItem!.map { $0.semsim! }, scores)
    }

    /// `pipeline score --metrics semsim` on pairs of the Index fixture texts: the cosines of sentence-transformers'
    /// vectors for the same texts, within 1e-5.
    func testExecutableEqualsSentenceTransformersCosines() throws {
        let pkg = SharedData.packageRoot()
        let model = pkg + "/models/all-MiniLM-L6-v2"
        guard FileSystem.exists(model + "/model.safetensors") else {
            throw XCTSkip("models/all-MiniLM-L6-v2 is absent (run `make model` first): skipped")
        }
        let binary = pkg + "/.build/debug/pipeline"
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("pipeline is not built") }
        let fixtures = pkg + "/Tests/IndexTests/Fixtures"
        struct Row: Decodable { let text: String }
        let texts = try JSONLReader.readAll(Row.self, path: fixtures + "/embed_texts.jsonl.zst").map(\.text)
        let bytes = try ByteReader(path: fixtures + "/embed_vectors.f32.zst").readAll()
        let vectors = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let d = vectors.count / texts.count
        let n = 80
        let root = NSTemporaryDirectory() + "semsim-\(UUID().uuidString)"
        try FileSystem.makeDirectory(root)
        defer { FileSystem.remove(root) }
        func line(_ o: [String: Any]) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: o), as: UTF8.self) + "\n"
        }
        // Item i: text i against text i + 1.
        try FileSystem.atomicWrite(try (0..<n).map { try line(["id": $0, "prediction": texts[$0]]) }.joined(),
                                   to: root + "/p.jsonl")
        try FileSystem.atomicWrite(try (0..<n).map { try line(["id": $0, "reference": texts[$0 + 1]]) }.joined(),
                                   to: root + "/r.jsonl")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["score", "--predictions", root + "/p.jsonl", "--references", root + "/r.jsonl",
                       "--metrics", "semsim", "--per-item", "--json", "--model", model]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let perItem = object["per_item"] as! [[String: Any]]
        var worst = 0.0, mean = 0.0
        for i in 0..<n {
            let want = vectors.withUnsafeBufferPointer { SemanticSimilarity.cosine($0, i * d, (i + 1) * d, d) }
            let got = (perItem[i]["semsim"] as! NSNumber).doubleValue
            worst = max(worst, abs(got - want))
            mean += want / Double(n)
        }
        print("semsim vs sentence-transformers cosines: largest difference \(worst)")
        XCTAssertLessThanOrEqual(worst, 1e-5)
        let semsim = object["semsim"] as! [String: Any]
        XCTAssertEqual((semsim["mean"] as! NSNumber).doubleValue, mean, accuracy: 1e-5)
    }
}
