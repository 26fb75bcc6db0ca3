import Core
import Foundation
import Tokenize
@testable import Train
import XCTest

/// `score perplexity` / `eval-loss` against transformers' sliding-window perplexity on the tiny GPT-2
/// (Fixtures/make_perplexity_fixtures.py writes Fixtures/perplexity.json with torch + transformers).
final class PerplexityTests: XCTestCase {
    struct Case: Decodable {
        let window: Int, stride: Int, nll: Double, perplexity: Double, tokens: Int, windows: Int
        // swiftlint:disable:next identifier_name
        let guide_nll: Double
    }
    struct Fixture: Decodable { let ids: [Int]; let cases: [Case] }

    static let fixtures = SharedData.packageRoot(filePath: #filePath) + "/Tests/TrainTests/Fixtures"

    func fixture() throws -> Fixture {
        let bytes = try ByteReader(path: Self.fixtures + "/perplexity.json").readAll()
        return try JSONDecoder().decode(Fixture.self, from: Data(bytes))
    }

    func testSlidingWindowEqualsTransformers() throws {
        let f = try fixture()
        XCTAssertGreaterThanOrEqual(f.cases.count, 6)
        let model = try Checkpoint.load(directory: Self.fixtures + "/gpt2_tiny/model")
        var worst = 0.0
        for c in f.cases {
            for batch in [1, 3] {
                let r = try EvalLoss.run(model: model, ids: f.ids, name: "fixture", window: c.window, stride: c.stride,
                                         batch: batch)
                let what = "window \(c.window) stride \(c.stride) batch \(batch)"
                XCTAssertEqual(r.tokens, c.tokens, what)
                XCTAssertEqual(r.windows, c.windows, what)
                let rel = abs(r.perplexity - c.perplexity) / c.perplexity
                worst = max(worst, rel, abs(r.loss - c.nll) / c.nll)
                XCTAssertLessThan(rel, 1e-4, what)
                XCTAssertLessThan(abs(r.loss - c.nll) / c.nll, 1e-4, what)
            }
        }
        print("perplexity: worst relative error against transformers \(worst) over \(f.cases.count) cases")
    }

    /// The fixture's ids as a token file in a new temporary folder (the folder, then the file).
    func tokenFile(_ ids: [Int], prefix: String) throws -> (root: String, path: String) {
        let root = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString)"
        try FileSystem.makeDirectory(root)
        let path = root + "/t.bin.zst"
        let w = try TokenFileWriter(path: path, vocabSize: 1000)
        try w.append(ids.map { UInt32($0) })
        try w.close()
        return (root, path)
    }

    /// The token-file path streams the same windows as the in-memory one.
    func testTokenFileEqualsIds() throws {
        let f = try fixture()
        let (root, path) = try tokenFile(f.ids, prefix: "ppl")
        defer { FileSystem.remove(root) }
        let model = try Checkpoint.load(directory: Self.fixtures + "/gpt2_tiny/model")
        for c in f.cases {
            let a = try EvalLoss.run(model: model, tokensPath: path, window: c.window, stride: c.stride, batch: 4)
            let b = try EvalLoss.run(model: model, ids: f.ids, name: "ids", window: c.window, stride: c.stride,
                                     batch: 4)
            XCTAssertEqual(a.tokens, b.tokens); XCTAssertEqual(a.windows, b.windows)
            XCTAssertEqual(a.loss, b.loss, accuracy: 1e-12)
        }
        // --max-tokens N scores the first N predictions only.
        let cut = try EvalLoss.run(model: model, tokensPath: path, window: 64, stride: 32, batch: 2, maxTokens: 100)
        let ref = try EvalLoss.run(model: model, ids: Array(f.ids.prefix(101)), name: "ids", window: 64, stride: 32,
                                   batch: 2)
        XCTAssertEqual(cut.tokens, 100)
        XCTAssertEqual(cut.loss, ref.loss, accuracy: 1e-12)
    }

    /// `pipeline score perplexity` and its alias `eval-loss` as a user runs them, on the fixture's tokens.
    func testCommandAndItsAlias() throws {
        guard let binary = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        let f = try fixture()
        let (root, path) = try tokenFile(f.ids, prefix: "ppl-cli")
        defer { FileSystem.remove(root) }
        func run(_ args: [String]) throws -> [String: Any] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args + ["--model", Self.fixtures + "/gpt2_tiny/model", "--tokens", path, "--json",
                                  "--workdir", root]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "\(args)")
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
        // Defaults: the model's 64 positions, stride 32.
        let sliding = try run(["score", "perplexity", "--name", "ppl"])
        let want = try XCTUnwrap(f.cases.first { $0.window == 64 && $0.stride == 32 })
        XCTAssertEqual(sliding["window"] as? Int, 64); XCTAssertEqual(sliding["stride"] as? Int, 32)
        XCTAssertEqual(sliding["tokens"] as? Int, want.tokens)
        let got = try XCTUnwrap(sliding["perplexity"] as? Double)
        XCTAssertEqual(got, want.perplexity, accuracy: want.perplexity * 1e-4)
        let named = try JSONSerialization.jsonObject(with: Data(ByteReader(path: root + "/score/ppl.json").readAll()))
        XCTAssertNotNil((named as? [String: Any])?["perplexity"])
        // eval-loss: non-overlapping windows of --seq predictions = window seq + 1, stride seq.
        let alias = try run(["eval-loss", "--seq", "63"])
        let same = try run(["score", "perplexity", "--window", "64", "--stride", "63"])
        XCTAssertEqual(alias["loss"] as? Double, same["loss"] as? Double)
        XCTAssertEqual(alias["tokens"] as? Int, 300)
    }

    /// `score perplexity --text FILE --tokenizer T` scores the text encoded as `pipeline encode --file` encodes it.
    func testTextFileEqualsItsTokenFile() throws {
        guard let binary = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        let root = NSTemporaryDirectory() + "ppl-text-\(UUID().uuidString)"
        try FileSystem.makeDirectory(root)
        defer { FileSystem.remove(root) }
        let text = (0..<80).map { "Line \($0): the penguins walk to the sea and back again, \($0 * 7) metres.\n" }.joined()
        try FileSystem.atomicWrite(text, to: root + "/text.txt")
        @discardableResult
        func run(_ args: [String]) throws -> Data {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args + ["--workdir", root + "/w"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "\(args)")
            return data
        }
        try run(["bpe-train", root + "/text.txt", "--vocab-size", "300", "--min-frequency", "2", "-q"])
        try run(["encode", "--file", root + "/text.txt", "--output", root + "/text.bin.zst"])
        let model = ["--model", Self.fixtures + "/gpt2_tiny/model", "--json"]
        let fromText = try XCTUnwrap(try JSONSerialization.jsonObject(with: try run(
            ["score", "perplexity", "--text", root + "/text.txt", "--tokenizer", root + "/w/tokenize"] + model))
            as? [String: Any])
        let fromTokens = try XCTUnwrap(try JSONSerialization.jsonObject(with: try run(
            ["score", "perplexity", "--tokens", root + "/text.bin.zst"] + model)) as? [String: Any])
        XCTAssertEqual(fromText["tokens"] as? Int, fromTokens["tokens"] as? Int)
        XCTAssertGreaterThan(fromText["tokens"] as? Int ?? 0, 100)
        XCTAssertEqual(fromText["loss"] as? Double, fromTokens["loss"] as? Double)
    }
}
