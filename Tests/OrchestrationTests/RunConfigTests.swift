import XCTest
@testable import Core
@testable import Orchestration

/// pipeline.toml parsing, stage selection, argument building, the work-directory lock, the report's charts.
final class RunConfigTests: XCTestCase {
    func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        configError(text, file: file, line: line)
    }

    func testParsesSectionsAndValues() throws {
        let c = try RunConfig.parse("""
        [run]
        workdir = "w"
        runs = "r"
        [inputs]
        pdfs = ["a", "b"]
        gsm8k = ["t.jsonl"]
        base_model = "m"
        [bpe-train]
        vocab_size = 2000
        min_frequency = 2
        add_prefix_space = true
        files = ["x.txt"]
        """, path: "p.toml")
        XCTAssertEqual(c.workdir, "w")
        XCTAssertEqual(c.runsDir, "r")
        XCTAssertEqual(c.inputs.pdfs, ["a", "b"])
        XCTAssertEqual(c.inputs.gsm8k, ["t.jsonl"])
        XCTAssertEqual(c.inputs.baseModel, "m")
        XCTAssertEqual(c.values["bpe-train"]?["vocab_size"], .int(2000))
        XCTAssertEqual(c.values["bpe-train"]?["add_prefix_space"], .bool(true))
        let args = RunStages.spec("bpe-train")!.arguments(values: c.values["bpe-train"]!, inputs: c.inputs, workdir: "w", force: true)
        XCTAssertEqual(args, ["bpe-train", "x.txt", "--vocab-size", "2000", "--min-frequency", "2",
                              "--special-tokens", "<pad>,<unk>,<s>", "--add-prefix-space", "--workdir", "w", "--force"])
        let g = RunStages.spec("gsm8k")!.arguments(values: [:], inputs: c.inputs, workdir: "w", force: false)
        XCTAssertEqual(Array(g.prefix(2)), ["gsm8k", "t.jsonl"])
        // An empty string option is left to the command's default.
        let t = RunStages.spec("tokenize")!.arguments(values: ["corpus": .string("")], inputs: c.inputs, workdir: "w", force: false)
        XCTAssertEqual(t, ["tokenize", "--workdir", "w"])
        // Stages without their input, or replaced by the base model, are not run.
        XCTAssertEqual(RunStages.spec("pretrain")!.replacedBy(c.inputs), "base model m")
        XCTAssertNil(RunStages.spec("ingest")!.replacedBy(c.inputs))
        XCTAssertNotNil(RunStages.spec("ingest")!.replacedBy(RunInputs()))
        XCTAssertNil(RunStages.spec("pretrain")!.replacedBy(RunInputs()))
        let p = RunStages.spec("pretrain")!.arguments(values: ["config": .string("tiny"), "lr": .double(0.001)],
                                                    inputs: RunInputs(), workdir: "w", force: false)
        XCTAssertEqual(Array(p.prefix(5)), ["pretrain", "--config", "tiny", "--steps", "200"])
        XCTAssertTrue(p.joined(separator: " ").contains("--lr 0.001 "), "\(p)")
    }

    func testUnknownKeysAndWrongTypesNameKeyAndLine() {
        var m = parseError("[bpe-train]\nvocab_size = 10\nvocab = 3\n")
        XCTAssertEqual(m, "p.toml:3: unknown key bpe-train.vocab (known: files, vocab_size, min_frequency, special_tokens, add_prefix_space, no_initial_alphabet, threads)")
        m = parseError("[run]\nworkdir = \"a\"\n\n[bpe-train]\nvocab_size = \"big\"\n")
        XCTAssertEqual(m, "p.toml:5: bpe-train.vocab_size must be an integer, not string")
        m = parseError("[inputs]\npdfs = \"data\"\n")
        XCTAssertEqual(m, "p.toml:2: inputs.pdfs must be an array of strings, not string")
        m = parseError("[inputs]\ngsm8k = [\"a\", 3]\n")
        XCTAssertEqual(m, "p.toml:2: inputs.gsm8k must contain only strings, found integer")
        m = parseError("x = 1\n")
        XCTAssertTrue(m.hasPrefix("p.toml:1: x must be a table"), m)
        m = parseError("[stagez]\n")
        XCTAssertTrue(m.hasPrefix("p.toml:1: unknown section [stagez]"), m)
        m = parseError("[gsm8k]\nsolution_end = true\n")
        XCTAssertEqual(m, "p.toml:2: gsm8k.solution_end must be a string, not boolean")
        m = parseError("[pretrain]\nstep = 3\n")
        XCTAssertTrue(m.hasPrefix("p.toml:2: unknown key pretrain.step (known: config, steps, "), m)
        m = parseError("[run]\nworkdir = \n")   // syntax error: line from TOMLKit
        XCTAssertTrue(m.hasPrefix("p.toml:2: "), m)
        m = parseError("[run]\nfoo = 1\n")
        XCTAssertEqual(m, "p.toml:2: unknown key run.foo (known: workdir, runs)")
    }

    func testRepoConfigParses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let c = try RunConfig.load(path: root + "/pipeline.toml")
        XCTAssertEqual(c.values["bpe-train"]?["vocab_size"], .int(1000))
        XCTAssertEqual(c.values["pretrain"]?["config"], .string("small"))
        XCTAssertEqual(c.inputs.pdfs, ["data/papers"])
        XCTAssertEqual(c.inputs.gsm8k, ["data/gsm8k/train.jsonl", "data/gsm8k/test.jsonl"])
    }

    func testSelection() throws {
        XCTAssertEqual(try RunStages.select(until: nil, only: []).map(\.name), RunStages.names)
        XCTAssertEqual(try RunStages.select(until: "tokenize", only: []).map(\.name),
                       ["ingest", "dedup", "gsm8k", "decontaminate", "bpe-train", "tokenize"])
        // --only keeps pipeline order whatever the order given.
        XCTAssertEqual(try RunStages.select(until: nil, only: ["chunk", "bpe-train"]).map(\.name),
                       ["bpe-train", "chunk"])
        XCTAssertThrowsError(try RunStages.select(until: "nope", only: []))
        XCTAssertThrowsError(try RunStages.select(until: "gsm8k", only: ["gsm8k"]))
        XCTAssertEqual(RunStages.names, ["ingest", "dedup", "gsm8k", "decontaminate", "bpe-train", "tokenize", "chunk",
                                         "index", "pretrain", "sft", "grpo", "eval"])
        XCTAssertEqual(Set(RunStages.all.map(\.folder)), Set(Workdir.stages))
    }

    func testLockIsExclusive() throws {
        let dir = NSTemporaryDirectory() + "lock-\(UUID().uuidString)"
        defer { FileSystem.remove(dir) }
        var first: WorkdirLock? = try WorkdirLock(workdir: dir, wait: false)
        XCTAssertThrowsError(try WorkdirLock(workdir: dir, wait: false)) { e in
            XCTAssertTrue((e as? RunError)?.message.contains("another pipeline run holds the lock") ?? false)
        }
        withExtendedLifetime(first) {}
        first = nil
        XCTAssertNoThrow(try WorkdirLock(workdir: dir, wait: false))
    }

    func testChartsDrawData() {
        let h = SVG.histogram([1, 2, 2, 3, 10], bins: 5, xLabel: "len")
        XCTAssertEqual(h.components(separatedBy: "<rect").count - 1, 5)
        XCTAssertTrue(h.contains("n = 5"))
        let l = SVG.lines([("loss", [(1, 3), (2, 2), (3, 1.5)])], xLabel: "step")
        XCTAssertTrue(l.contains("<polyline"))
        XCTAssertEqual(l.components(separatedBy: "<circle").count - 1, 3)
        XCTAssertTrue(SVG.bars([]).contains("no data"))
        // Negative values (rewards) grow left from a zero line in the middle; no negative widths.
        let b = SVG.bars([("a", -4), ("b", 2)])
        XCTAssertFalse(b.contains("width='-"), b)
        XCTAssertTrue(b.contains("<rect x='190.0' y='8' width='180.0'"), b)   // −4: from 190 to the zero line at 370
        XCTAssertTrue(b.contains("<rect x='370.0' y='30' width='90.0'"), b)   // +2: half as long, to the right
    }
}

/// The message of the usage error `RunConfig.parse` gives for `text` (a test failure when there is none).
func configError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
        _ = try RunConfig.parse(text, path: "p.toml")
        XCTFail("no error for:\n\(text)", file: file, line: line)
    } catch let e as RunError {
        XCTAssertEqual(e.exitStatus, .usage, file: file, line: line)
        return e.message
    } catch {
        XCTFail("unexpected \(error)", file: file, line: line)
    }
    return ""
}
