import Core
import Foundation
import GSM8K
import Tokenize
import Metrics
import XCTest
@testable import Train

final class EvalTests: XCTestCase {
    var temp = ""

    override func setUpWithError() throws {
        temp = NSTemporaryDirectory() + "eval-tests-\(getpid())-\(UUID().uuidString)"
        try FileSystem.makeDirectory(temp)
    }

    override func tearDown() { FileSystem.remove(temp) }

    /// Greedy answers of a small random model to GSM8K-style records: every stored score is what the reward
    /// functions give for the stored text, the summary is their mean, the stage is deterministic and skips when
    /// nothing changed, and --limit bounds the questions.
    func testEvalScoresEveryAnswerAndIsDeterministic() throws {
        let work = Workdir(path: temp + "/w")
        var text = ""
        var data = ""
        for i in 0..<12 {
            let q = "Tom has \(i) apples and buys \(i + 3) more. How many apples does he have?"
            text += q + "\n<start_working_out>\(i) + \(i + 3) = \(2 * i + 3)<end_working_out><SOLUTION>\(2 * i + 3)</SOLUTION>\n"
            let prompt = "System: solve it.\nUser: \(q)\nAssistant:"
            data += "{\"id\":\"test-\(i)\",\"answer\":\"\(2 * i + 3)\",\"prompt_text\":\(String(decoding: try JSON.encode(prompt), as: UTF8.self))}\n"
        }
        try FileSystem.atomicWrite(text, to: temp + "/corpus.txt")
        try FileSystem.atomicWrite(data, to: temp + "/test.jsonl")
        var topt = TrainerOptions()
        topt.vocabSize = 300; topt.minFrequency = 2
        _ = try TokenizeStages.bpeTrain(workdir: work, files: [temp + "/corpus.txt"], options: topt, force: false, threads: 1)
        let tok = try BPETokenizer(path: work.stageDir("tokenize"))
        let model = GPT2(config: GPT2Config(vocabSize: tok.vocabSize, nPositions: 64, nEmbd: 32, nLayer: 2, nHead: 4))
        model.initialize(seed: 7)
        var o = EvalStage.Options()
        o.limit = 10; o.maxNewTokens = 12; o.batch = 4

        func run(force: Bool) throws -> EvalStage.Summary? {
            try EvalStage.run(workdir: work, model: model, modelName: "random", adapterName: nil, modelInputs: [],
                              tokenizer: tok, tokenizerInputs: [], data: temp + "/test.jsonl", options: o, force: force)
        }
        let s = try XCTUnwrap(try run(force: false))
        XCTAssertEqual(s.questions, 10)
        let first = try Hashing.sha256(path: work.stageDir("eval") + "/completions.jsonl.zst")

        struct Row: Decodable { let id: String; let completion: String; let tokens: Int; let rewards: [String: Double]; let reward: Double }
        let rows = try JSONLReader.readAll(Row.self, path: work.stageDir("eval") + "/completions.jsonl.zst")
        XCTAssertEqual(rows.map(\.id), (0..<10).map { "test-\($0)" })
        let rewards = Rewards()
        var total = 0.0
        for r in rows {
            XCTAssertLessThanOrEqual(r.tokens, 12)
            let scores = rewards.scores(completion: r.completion, answer: String(2 * Int(r.id.dropFirst(5))! + 3))
            for (f, v) in zip(RewardFunction.allCases, scores) { XCTAssertEqual(r.rewards[f.name], v, r.id) }
            XCTAssertEqual(r.reward, scores.reduce(0, +))
            total += r.reward
        }
        XCTAssertEqual(s.reward, total / 10, accuracy: 1e-12)

        XCTAssertNil(try run(force: false), "unchanged inputs: up to date")
        _ = try run(force: true)
        XCTAssertEqual(try Hashing.sha256(path: work.stageDir("eval") + "/completions.jsonl.zst"), first)
        o.limit = 3
        XCTAssertEqual(try run(force: false)?.questions, 3, "another limit re-runs")
        XCTAssertFalse(FileSystem.exists(work.stageDir("eval") + "/metrics.json"), "no --metrics, no metrics.json")

        // --metrics: the answers scored against each record's reasoning, as `pipeline score` scores them.
        o.limit = 10
        o.metrics = [.bleu, .chrf, .rouge, .qa]
        XCTAssertNotNil(try run(force: false), "another --metrics re-runs")
        let report = try JSONDecoder().decode(ScoreReport.self, from: Data(try ByteReader(
            path: work.stageDir("eval") + "/metrics.json").readAll()))
        let items = rows.map { ScoreItem(id: $0.id, prediction: $0.completion, references: [""]) }
        XCTAssertEqual(report, Scorer.score(items, options: ScoreOptions(metrics: o.metrics)))
        XCTAssertEqual(work.manifest("eval")?.parameters["metrics"], "bleu,chrf,rouge,qa")
    }

    /// eval as N shards and a merge: completions, summary, metrics and records equal one run's, byte for byte.
    func testShardsAndMergeEqualOneRun() throws {
        var data = ""
        var text = ""
        for i in 0..<100 {
            let q = "Mia has \(i) pens and gets \(i % 7) more. How many pens?"
            text += q + "\n<start_working_out>\(i) + \(i % 7)<end_working_out><SOLUTION>\(i + i % 7)</SOLUTION>\n"
            let prompt = String(decoding: try JSON.encode("User: \(q)\nAssistant:"), as: UTF8.self)
            data += "{\"id\":\"t-\(i)\",\"answer\":\"\(i + i % 7)\",\"reasoning\":\"\(i) + \(i % 7)\",\"prompt_text\":\(prompt)}\n"
        }
        try FileSystem.atomicWrite(text, to: temp + "/corpus.txt")
        try FileSystem.atomicWrite(data, to: temp + "/test.jsonl")
        var topt = TrainerOptions()
        topt.vocabSize = 300; topt.minFrequency = 2
        func work(_ name: String) throws -> Workdir {
            let w = Workdir(path: temp + "/" + name)
            _ = try TokenizeStages.bpeTrain(workdir: w, files: [temp + "/corpus.txt"], options: topt, force: false,
                                            threads: 1)
            return w
        }
        let one = try work("one")
        let tok = try BPETokenizer(path: one.stageDir("tokenize"))
        let model = GPT2(config: GPT2Config(vocabSize: tok.vocabSize, nPositions: 64, nEmbd: 32, nLayer: 2, nHead: 4))
        model.initialize(seed: 11)
        var o = EvalStage.Options()
        o.limit = 0; o.maxNewTokens = 6; o.batch = 4; o.metrics = [.bleu, .qa]
        func source(_ w: Workdir) -> EvalStage.Source {
            EvalStage.Source(workdir: w, loadModel: { model }, modelName: "random", adapterName: nil, modelInputs: [],
                             tokenizer: tok, tokenizerInputs: [], data: temp + "/test.jsonl")
        }
        _ = try XCTUnwrap(try EvalStage.execute(source(one), options: o, shard: nil, force: false))
        let files = ["completions.jsonl.zst", "summary.json", "metrics.json"]
        let expected = try files.map { try ByteReader(path: one.stageDir("eval") + "/" + $0).readAll() }
        for n in [2, 3] {
            let w = try work("n\(n)")
            for i in 0..<n {
                XCTAssertTrue(try EvalStage.runShard(source(w), options: o, shard: try Shard(index: i, count: n),
                                                     force: false))
            }
            XCTAssertNotNil(try EvalStage.merge(source(w), options: o, shards: n, force: false))
            for (f, bytes) in zip(files, expected) {
                XCTAssertEqual(try ByteReader(path: w.stageDir("eval") + "/" + f).readAll(), bytes, "N = \(n): \(f)")
            }
            XCTAssertEqual(w.manifest("eval")?.records, one.manifest("eval")?.records)
        }
    }
}
