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
}
