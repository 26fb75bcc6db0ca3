import XCTest
@testable import Core
@testable import Orchestration

/// `pipeline run --shards N` (the local executor): the sharded stages run as N parallel processes and a merge, and
/// the artifacts are those of a run without shards.
extension RunProcessTests {
    func writeShardConfig(_ name: String) throws -> String {
        let docs = root + "/data/docs"
        try FileSystem.makeDirectory(docs)
        for d in 0..<150 {
            let text = (0..<(20 + d % 37)).map { "Paragraph \($0) of note \(d): the train leaves at noon." }
                .joined(separator: d % 3 == 0 ? "\n\n" : "\n")
            try FileSystem.atomicWrite(text, to: docs + String(format: "/note-%03d.txt", d))
        }
        let path = root + "/\(name).toml"
        try FileSystem.atomicWrite("""
        [run]
        workdir = "\(root!)/\(name)-work"
        runs = "\(root!)/\(name)-runs"
        [inputs]
        pdfs = ["\(docs)"]
        [ingest]
        jobs = 1
        [chunk]
        size = 300
        overlap = 40
        [bpe-train]
        vocab_size = 300
        min_frequency = 2
        """, to: path)
        return path
    }

    func testShardedRunGivesTheArtifactsOfAPlainRun() throws {
        let plain = try writeShardConfig("plain")
        let stages = ["ingest", "dedup", "bpe-train", "tokenize", "chunk"]
        try run(["run", "--config", plain, "--no-report", "--only"] + stages)
        let sharded = try writeShardConfig("sharded")
        let (_, out) = try run(["run", "--config", sharded, "--no-report", "--only"] + stages
                                + ["--shards", "3", "--jobs", "2"])
        XCTAssertTrue(out.contains("chunk: ran") && out.contains("tokenize: ran") && out.contains("ingest: ran"), out)
        func artifacts(_ work: String) throws -> [String: String] {
            try snapshot(work).filter { file in
                !file.key.contains("/shards/") && ["ingest/", "dedup/", "chunk/", "tokens/"].contains { file.key.hasPrefix($0) }
            }
        }
        XCTAssertEqual(try artifacts(root + "/sharded-work"), try artifacts(root + "/plain-work"))
        for i in 0..<3 {
            for stage in ["ingest", "dedup", "chunk"] {
                XCTAssertTrue(FileSystem.exists(root + "/sharded-work/\(stage)/shards/\(i)-of-3/manifest.json"))
            }
        }
        // Once more: every shard and the merge are up to date.
        let (_, again) = try run(["run", "--config", sharded, "--no-report", "--only"] + stages + ["--shards", "3"])
        XCTAssertTrue(again.contains("chunk: up to date") && again.contains("tokenize: up to date"), again)
        let summary = try RunSummary.load(runDir: try latestRun(root + "/sharded-runs"))
        let chunk = try XCTUnwrap(summary.stages.first { $0.stage == "chunk" })
        XCTAssertEqual(chunk.shards, 3)
    }

    func latestRun(_ runs: String) throws -> String {
        runs + "/" + (try FileManager.default.contentsOfDirectory(atPath: runs).sorted().last ?? "")
    }
}
