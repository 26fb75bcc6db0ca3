import XCTest
@testable import Core
import Metrics
@testable import Orchestration

/// The report's scale-out table, the eval's text metrics and the kept `pipeline score --name` results.
final class ReportSectionsTests: XCTestCase {
    func testScaleOutAndScoresAreShown() throws {
        let root = NSTemporaryDirectory() + "report-\(UUID().uuidString)"
        defer { FileSystem.remove(root) }
        let work = root + "/w", run = root + "/runs/20261202T000000Z"
        try FileSystem.makeDirectory(run)
        try FileSystem.makeDirectory(work + "/score")
        try FileSystem.makeDirectory(work + "/eval")
        var chunk = StageOutcome(stage: "chunk", folder: "chunk", status: "ran", exitCode: 0, seconds: 4.5,
                                 records: ["chunks": 10], log: "chunk.log", command: nil)
        chunk.shards = 3; chunk.slowestShardSeconds = 2.25; chunk.retries = 1
        let summary = RunSummary(started: "s", finished: "f", seconds: 5, status: "ok", failedStage: nil,
                                 config: "p.toml", workdir: work, stages: [chunk])
        try FileSystem.atomicWrite(try JSON.encode(summary), to: run + "/summary.json")
        let items = [ScoreItem(id: "1", prediction: "the cat sat", references: ["the cat sat down"])]
        let report = Scorer.score(items, options: ScoreOptions(metrics: [.bleu, .qa]))
        try FileSystem.atomicWrite(try JSON.encode(report), to: work + "/score/answers.json")
        try FileSystem.atomicWrite(try JSON.encode(report), to: work + "/eval/metrics.json")
        try FileSystem.atomicWrite(#"{"perplexity": {"loss": 2.0, "perplexity": 7.389, "tokens": 300, "windows": 5, "window": 64, "stride": 32}}"#,
                                   to: work + "/score/ppl.json")
        let html = try RunReport.render(runDir: run, runsDir: root + "/runs")
        XCTAssertTrue(html.contains("<h3>Scale-out</h3>"), html)
        XCTAssertTrue(html.contains("<tr><td>chunk</td><td>3</td><td>4.50</td><td>2.25</td>"), html)
        XCTAssertTrue(html.contains("<h2>Scores (pipeline score --name)</h2>"), html)
        XCTAssertTrue(html.contains("<h3>answers</h3>") && html.contains("BLEU") && html.contains("QA F1"))
        XCTAssertTrue(html.contains("perplexity <b>7.389</b> over 300 tokens (window 64, stride 32)"), html)
        XCTAssertEqual(RunReport.evalSection(work + "/eval").contains("Text metrics against the reference"), true)
    }

    /// The decontaminate section: the counts from the manifest and the first overlaps.
    func testDecontaminationCountsAndOverlapsAreShown() throws {
        let dir = NSTemporaryDirectory() + "report-decon-\(UUID().uuidString)"
        defer { FileSystem.remove(dir) }
        try FileSystem.makeDirectory(dir)
        let out = try JSONLWriter<OverlapRecord>(path: dir + "/overlaps.jsonl.zst")
        try out.write(OverlapRecord(trainID: "85917b1d440080d1", trainSource: "data/papers/field-notes.md",
                                    evalID: "test-0", ngram: "a baker uses 3 eggs", sharedNgrams: 4, removed: true))
        try out.close()
        let m = Manifest(stage: "decontaminate", toolVersion: "t", parameters: ["ngram": "13", "eval": "gsm8k:test",
                                                                                "report_only": "false"],
                         inputs: [], outputs: [], started: "s", finished: "f", seconds: 0,
                         records: ["eval_items": 4, "documents": 4, "records": 12, "contaminated_documents": 1,
                                   "contaminated_records": 0, "contaminated_eval_items": 1])
        let html = RunReport.section("decontaminate", manifest: m, dir: dir)
        XCTAssertTrue(html.contains("4 evaluation items (gsm8k:test) against 4 documents and 12 GSM8K training "
                                    + "records: <b>1 documents and 0 records</b> share a 13-gram with <b>1 "
                                    + "evaluation items</b> (removed from the training copies)"), html)
        XCTAssertTrue(html.contains("<tr><td>85917b1d440080d1</td><td>data/papers/field-notes.md</td><td>test-0</td>"
                                    + "<td>4</td><td>a baker uses 3 eggs</td></tr>"), html)
    }

    /// `grpo --eval-every`: the accuracy chart beside the reward curve and the before/after table of the same
    /// questions, from evals.jsonl.zst and metrics.jsonl.zst.
    func testGRPOEvalsShowAccuracyChartAndBeforeAfterTable() throws {
        let dir = NSTemporaryDirectory() + "grpo-evals-\(UUID().uuidString)"
        defer { FileSystem.remove(dir) }
        try FileSystem.makeDirectory(dir)
        XCTAssertEqual(RunReport.grpoEvals(dir), "", "no evals.jsonl.zst: no section")
        func sample(_ completion: String, _ reward: Double) -> GRPOEvalSample {
            GRPOEvalSample(id: "test-0", question: "Ava has 3 apples. How many?", answer: "3", completion: completion,
                           reward: reward)
        }
        let evals = try JSONLWriter<GRPOEvalRecord>(path: dir + "/evals.jsonl.zst")
        try evals.write(GRPOEvalRecord(step: 0, questions: 10, accuracy: 0.4, formatExact: 0.9, reward: 2,
                                       samples: [sample("<SOLUTION>4</SOLUTION>", -1.5)]))
        try evals.write(GRPOEvalRecord(step: 20, questions: 10, accuracy: 0.6, formatExact: 1, reward: 6,
                                       samples: [sample("<SOLUTION>3</SOLUTION>", 8.5)]))
        try evals.close()
        let metrics = try JSONLWriter<GRPOMetrics>(path: dir + "/metrics.jsonl.zst")
        for step in 1...20 {
            var m = GRPOMetrics(step: step)
            m.reward = Double(step) / 4
            try metrics.write(m)
        }
        try metrics.close()
        let h = RunReport.grpoEvals(dir)
        XCTAssertTrue(h.contains("accuracy <b>40.0%</b> at step 0 → <b>60.0%</b> at step 20"), h)
        XCTAssertTrue(h.contains("exact format 90.0% → 100.0%"), h)
        XCTAssertEqual(h.components(separatedBy: "<svg").count - 1, 2, "accuracy chart and reward curve")
        XCTAssertTrue(h.contains("mean sampled reward") && h.contains("accuracy %"), h)
        XCTAssertTrue(h.contains("<th>step 0 (reward)</th><th>step 20 (reward)</th>"), h)
        XCTAssertTrue(h.contains("&lt;SOLUTION&gt;4&lt;/SOLUTION&gt;") && h.contains("&lt;SOLUTION&gt;3"), h)
    }
}
