import Core
import Foundation
import XCTest
@testable import Metrics

/// `pipeline score` as a user runs it: the built executable (.build/debug/pipeline, built by
/// `swift build --build-tests`) on files in a temporary folder.
final class ScoreCommandTests: XCTestCase {
    var root: String!
    var binary: String!

    override func setUpWithError() throws {
        guard let b = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        binary = b
        root = NSTemporaryDirectory() + "score-\(UUID().uuidString)"
        try FileSystem.makeDirectory(root)
    }

    override func tearDown() { if let root { FileSystem.remove(root) } }

    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func jsonLine(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    func write(_ lines: [String], _ name: String) throws -> String {
        let path = root + "/" + name
        try FileSystem.atomicWrite(lines.map { $0 + "\n" }.joined(), to: path)
        return path
    }

    func testIdOnOneSideIsAnErrorNamingIt() throws {
        let p = try write(try ["a", "b", "c"].map { try jsonLine(["id": $0, "prediction": "x y"]) }, "p.jsonl")
        let r = try write(try ["a", "b", "d"].map { try jsonLine(["id": $0, "reference": "x y"]) }, "r.jsonl")
        let result = try run(["score", "--predictions", p, "--references", r])
        XCTAssertEqual(result.status, 1)
        let lines = result.err.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.err)
        XCTAssertTrue(result.err.hasPrefix("error: "), result.err)
        XCTAssertTrue(result.err.contains("\"c\"") && result.err.contains("\"d\""), result.err)
        XCTAssertEqual(result.out, "")
    }

    func testBadRecordAndUnknownMetric() throws {
        let p = try write([try jsonLine(["id": 1, "prediction": "x"]), "{not json"], "p.jsonl")
        let r = try write([try jsonLine(["id": 1, "reference": "x"])], "r.jsonl")
        let bad = try run(["score", "--predictions", p, "--references", r])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.err.hasPrefix("error: \(p):2: "), bad.err)
        let usage = try run(["score", "--predictions", p, "--references", r, "--metrics", "bleu,bertscore"])
        XCTAssertEqual(usage.status, 2)
        XCTAssertTrue(usage.err.contains("bertscore"), usage.err)
    }

    /// The first 40 fixture items through the executable: the JSON holds sacrebleu's and rouge-score's numbers.
    func testJSONOutputEqualsReferenceScores() throws {
        let items = Array(Fixture.items[0..<40])
        // References in reverse order: the join is by id, not by line.
        let p = try write(try items.map { try jsonLine(["id": $0.id, "prediction": $0.prediction]) }, "p.jsonl")
        let r = try write(try items.reversed().map { try jsonLine(["id": $0.id, "references": $0.references]) },
                          "r.jsonl")
        try Zstd.compressFile(r, to: r + ".zst")
        let work = root + "/work"
        let result = try run(["score", "--predictions", p, "--references", r + ".zst", "--json", "--stem",
                              "--per-item", "--name", "slice0", "--workdir", work])
        XCTAssertEqual(result.status, 0, result.err)
        let object = try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as! [String: Any]
        XCTAssertEqual(object["items"] as? Int, 40)
        let bleu = object["bleu"] as! [String: Any]
        let want = ((Fixture.root["bleu"] as! [String: [String: Any]])["13a"]!["slices"] as! [[String: Any]])[0]
        XCTAssertEqual((bleu["score"] as! NSNumber).doubleValue.bitPattern, Fixture.hex(want["score"]).bitPattern)
        XCTAssertEqual(bleu["signature"] as? String, want["signature"] as? String)
        XCTAssertEqual(bleu["counts"] as? [Int], Fixture.ints(want["counts"]))
        let chrf = object["chrf"] as! [String: Any]
        let wantChrf = ((Fixture.root["chrf"] as! [String: Any])["slices"] as! [[String: Any]])[0]
        XCTAssertEqual((chrf["score"] as! NSNumber).doubleValue.bitPattern, Fixture.hex(wantChrf["score"]).bitPattern)
        let rougeItems = (Fixture.root["rouge"] as! [String: [String: Any]])["stem"]!["items"] as! [[String: Any]]
        var mean = 0.0
        for it in rougeItems[0..<40] { mean += Fixture.doubles(it["rougeL"])[2] }
        let rougeL = (object["rouge"] as! [String: Any])["rougeL"] as! [String: Any]
        XCTAssertEqual((rougeL["fmeasure"] as! NSNumber).doubleValue, mean / 40, accuracy: 1e-9)
        XCTAssertEqual(object["rouge_stemmer"] as? Bool, true)
        let perItem = object["per_item"] as! [[String: Any]]
        XCTAssertEqual(perItem.map { $0["id"] as! String }, items.map(\.id))
        // --name wrote the same object.
        let saved = try ByteReader(path: work + "/score/slice0.json").readAll()
        XCTAssertEqual(String(decoding: saved, as: UTF8.self), result.out)
    }

    func testPlainTextFilesPairByLine() throws {
        let p = try write(["the cat sat on the mat", "", "a b c"], "p.txt")
        let r = try write(["the cat sat on a mat", "something", "a b c"], "r.txt")
        let result = try run(["score", "--predictions", p, "--references", r, "--metrics", "qa,bleu"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.out.contains("BLEU = "), result.out)
        XCTAssertTrue(result.out.contains("exact_match = 66.67"), result.out)
        let short = try write(["only one"], "short.txt")
        let mismatch = try run(["score", "--predictions", p, "--references", short])
        XCTAssertEqual(mismatch.status, 1)
        XCTAssertTrue(mismatch.err.hasPrefix("error: ") && mismatch.err.contains("same number"), mismatch.err)
    }
}
