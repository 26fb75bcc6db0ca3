import XCTest
@testable import Core
@testable import Orchestration

/// `make learn` scaled down to seconds (scripts/learn.py on a tiny model, a few steps of each stage): every stage
/// of the recipe runs, learn.json is written in the run folder with the schema of issue #16, and a second run
/// with the same seeds gives the same figures and the same metrics (timings aside).
final class LearnRecipeTests: XCTestCase {
    var root: String!
    var binary: String!
    let packageRoot = SharedData.packageRoot(filePath: #filePath)

    override func setUpWithError() throws {
        guard let b = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        binary = b
        root = NSTemporaryDirectory() + "learn-\(UUID().uuidString)"
        try FileSystem.makeDirectory(root)
    }

    override func tearDown() { if let root { FileSystem.remove(root) } }

    /// configs/learn.toml with the recipe's sizes cut down and its paths under `name`.
    func writeConfig(_ name: String) throws -> String {
        let w = root + "/" + name
        let path = root + "/\(name).toml"
        try FileSystem.atomicWrite("""
        [run]
        workdir = "\(w)"
        runs = "\(w)-runs"
        [inputs]
        pdfs = []
        gsm8k = ["\(w)/synth/train.jsonl", "\(w)/synth/test.jsonl"]
        [bpe-train]
        files = ["\(w)/synth/corpus.txt"]
        vocab_size = 300
        min_frequency = 2
        special_tokens = "<|endoftext|>,<start_working_out>,<end_working_out>,<SOLUTION>,</SOLUTION>"
        [tokenize]
        corpus = "\(w)/synth/corpus.txt"
        special = true
        [pretrain]
        config = "tiny"
        steps = 4
        batch = 2
        seq = 64
        eval_every = 2
        [sft]
        max_steps = 3
        batch = 2
        max_length = 160
        [grpo]
        max_steps = 4
        num_generations = 2
        batch = 2
        grad_accum = 1
        beta = 0.0
        max_prompt_length = 160
        max_completion_length = 12
        eval_every = 2
        eval_limit = 3
        [eval]
        limit = 5
        max_new_tokens = 12
        """, to: path)
        return path
    }

    /// Runs the recipe with `config`; returns its output and the parsed learn.json.
    func recipe(_ config: String) throws -> (String, [String: Any], String) {
        let (status, text) = try runProcess("/usr/bin/env", [
            "python3", packageRoot + "/scripts/learn.py", "--config", config, "--bin", binary, "--train", "40",
            "--test", "8", "--gsm8k-test", packageRoot + "/data/gsm8k/test.jsonl", "--gsm8k-limit", "3",
        ], in: root)
        XCTAssertEqual(status, 0, text)
        let path = try XCTUnwrap(text.split(separator: "\n").last.map(String.init), text)
        XCTAssertTrue(path.hasSuffix("/learn.json"), text)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
                                 as? [String: Any])
        return (text, json, path)
    }

    func testScaledDownRecipeRunsEveryStageAndWritesLearnJSON() throws {
        let (text, learn, path) = try recipe(try writeConfig("a"))
        // every stage of the recipe ran in the run, and the run folder holds learn.json
        let runDir = (path as NSString).deletingLastPathComponent
        let summary = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath:
                                                                                             runDir + "/summary.json")))
        XCTAssertEqual(summary.status, "ok")
        let ran = summary.stages.filter { $0.status != "not selected" }
        XCTAssertEqual(ran.map(\.stage), ["gsm8k", "bpe-train", "tokenize", "pretrain", "sft", "grpo", "eval"])
        XCTAssertEqual(Set(ran.map(\.status)), ["ran"], text)
        XCTAssertEqual(Set(summary.stages.filter { !ran.map(\.stage).contains($0.stage) }.map(\.stage)),
                       ["ingest", "dedup", "decontaminate", "chunk", "index"])
        // the schema of issue #16 point 5
        XCTAssertNotNil(learn["seconds"] as? Double)
        let expected = ["sft": 5, "grpo": 5, "gsm8k_sft": 3, "gsm8k_grpo": 3]
        for (name, questions) in expected {
            let e = try XCTUnwrap(learn[name] as? [String: Any], name)
            XCTAssertEqual(e["questions"] as? Int, questions, name)
            for k in ["accuracy", "format_exact", "empty_working_out", "copied_working_out",
                      "working_out_arithmetic_true"] {
                let v = try XCTUnwrap(e[k] as? Double, "\(name).\(k)")
                XCTAssertTrue((0...1).contains(v), "\(name).\(k) = \(v)")
            }
        }
        for name in ["reward_first20", "reward_last20"] {
            let r = try XCTUnwrap(learn[name] as? [String: Any], name)
            XCTAssertNotNil(r["mean"] as? Double, name)
            XCTAssertNotNil(r["stderr"] as? Double, name)
            XCTAssertEqual(r["steps"] as? Int, 2, "half of the 4 GRPO steps each")
        }
        // the SFT evaluation is its own eval of the SFT adapter; the GRPO one the run's eval stage
        let sft = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath:
                                                   root + "/a/eval-sft/eval/summary.json"))) as? [String: Any]
        XCTAssertEqual(sft?["adapter"] as? String, root + "/a/sft")
        XCTAssertEqual((learn["sft"] as? [String: Any])?["accuracy"] as? Double, sft?["accuracy"] as? Double)
        let curve = try XCTUnwrap(learn["grpo_accuracy_over_steps"] as? [[String: Any]])
        XCTAssertEqual(curve.compactMap { $0["step"] as? Int }, [0, 2, 4])
        XCTAssertTrue(try String(contentsOfFile: runDir + "/report.html", encoding: .utf8)
                        .contains("Held-out greedy accuracy over the GRPO steps"))

        // the same seeds: the same figures and the same metrics, timings aside
        let (_, again, _) = try recipe(try writeConfig("b"))
        for name in ["sft", "grpo", "gsm8k_sft", "gsm8k_grpo", "reward_first20", "reward_last20"] {
            XCTAssertEqual(learn[name] as? NSDictionary, again[name] as? NSDictionary, name)
        }
        for file in ["pretrain/metrics.jsonl.zst", "sft/metrics.jsonl.zst", "grpo/metrics.jsonl.zst"] {
            func untimed(_ w: String) throws -> [[String: Double]] {
                try JSONLReader.readAll([String: Double].self, path: root + "/\(w)/" + file).map {
                    $0.filter { !["step_time", "generation_time", "tokens_per_s", "seconds"].contains($0.key) }
                }
            }
            XCTAssertEqual(try untimed("a"), try untimed("b"), file)
        }
        for file in ["grpo/evals.jsonl.zst", "grpo/adapter_model.safetensors", "eval/completions.jsonl.zst"] {
            XCTAssertEqual(try ByteReader(path: root + "/a/" + file).readAll(),
                           try ByteReader(path: root + "/b/" + file).readAll(), file)
        }
    }
}
