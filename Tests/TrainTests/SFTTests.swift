import Core
import Foundation
import GSM8K
import XCTest
@testable import Train

final class SFTTests: XCTestCase {
    static let base = SharedData.packageRoot(filePath: #filePath) + "/Tests/TrainTests/Fixtures/gpt2_tiny/model"

    func examples(_ n: Int, seed: UInt64) -> [SFTExample] {
        var rng = Xoshiro256(seed: seed)
        return (0..<n).map { i in
            let p = (0..<(5 + i % 4)).map { _ in rng.below(900) }
            // a learnable completion, as the reward format is: a fixed pattern after any prompt
            let c = Array([10, 20, 30, 40, 50].prefix(3 + i % 3)) + [999]
            return SFTExample(prompt: p, completion: c)
        }
    }

    func testPromptAndPaddingCarryNoLoss() throws {
        let exs = [SFTExample(prompt: [1, 2, 3], completion: [4, 5, 999]), SFTExample(prompt: [7], completion: [8, 999])]
        let pb = SFTTrainer.pack(exs, maxLength: 512, positions: 64, pad: 999)
        XCTAssertEqual(pb.t, 16)
        XCTAssertEqual(Array(pb.tokens[0..<7]), [1, 2, 3, 4, 5, 999, 999])
        // row 0: positions 0,1 predict prompt tokens (masked); 2→4, 3→5, 4→999; then padding
        XCTAssertEqual(Array(pb.targets[0..<16]), [-100, -100, 4, 5, 999] + Array(repeating: -100, count: 11))
        XCTAssertEqual(Array(pb.targets[16..<32]), [8, 999] + Array(repeating: -100, count: 14))
        // truncation keeps the start
        let tr = SFTTrainer.pack([SFTExample(prompt: [1, 2, 3], completion: [4, 5, 6, 7])], maxLength: 5, positions: 64, pad: 0)
        XCTAssertEqual(Array(tr.targets[0..<5]), [-100, -100, 4, 5, -100])

        // the loss is the mean cross-entropy over exactly the completion tokens
        let model = try Checkpoint.load(directory: Self.base)
        try LoRA.attach(to: model, r: 2, dropout: 0)
        let ctx = TrainContext(model: model, batch: pb.b, seq: pb.t)
        let loss = ctx.forward(tokens: pb.tokens, targets: pb.targets)
        XCTAssertEqual(ctx.count, 3 + 2)
        let V = model.config.vocabSize
        var total: Double = 0
        for (row, target) in [(2, 4), (3, 5), (4, 999), (16, 8), (17, 999)] {
            let l = Array(ctx.logits.array[(row * V)..<((row + 1) * V)]).map(Double.init)
            let mx = l.max()!
            let lse = log(l.map { exp($0 - mx) }.reduce(0, +)) + mx
            total += lse - l[target]
        }
        XCTAssertEqual(Double(loss), total / 5, accuracy: 1e-5)
    }

    func testLossDecreasesOnATinyModel() throws {
        let model = try Checkpoint.load(directory: Self.base)
        var o = SFTOptions()
        o.lora.r = 4; o.lora.targets = LoRATarget.allCases; o.lora.dropout = 0.05
        o.batch = 4; o.lr = 1e-2; o.maxSteps = 30; o.warmupRatio = 0
        let t = try SFTTrainer(model: model, examples: examples(8, seed: 1), options: o)
        while t.step < t.totalSteps { _ = t.trainStep() }
        let first = t.metrics.prefix(4).map(\.loss).reduce(0, +) / 4
        let last = t.metrics.suffix(4).map(\.loss).reduce(0, +) / 4
        // the random fixture model's logits are small (wte ~ N(0, 0.02)), so ~5.6 nats is its floor here
        XCTAssertLessThan(last, first - 0.5, "loss \(first) -> \(last)")
        for p in model.parameters { XCTAssertTrue(p.frozen) }
        XCTAssertEqual(t.metrics.last?.step, 30)
        XCTAssertEqual(t.metrics.last!.epoch, 15, accuracy: 1e-9)
    }

    /// Robustness issue, item 6: a batch larger than the data is clamped to it (it grew to 24 GB before), and a
    /// NaN loss stops the stage naming the step.
    func testBatchLargerThanTheDataIsClamped() throws {
        let model = try Checkpoint.load(directory: Self.base)
        var o = SFTOptions()
        o.batch = 1_000_000; o.maxSteps = 1
        let t = try SFTTrainer(model: model, examples: examples(12, seed: 2), options: o)
        XCTAssertEqual(t.options.batch, 12)
        XCTAssertEqual(t.totalSteps, 1)
        _ = t.trainStep()
        XCTAssertThrowsError(try TrainError.checkFinite(stage: "sft", step: 7, ["loss": .nan])) {
            XCTAssertEqual("\($0)", "sft: the loss is nan at step 7; stopped (lower --lr, or check the data); the last checkpoint is kept")
        }
    }

    /// The stage end to end on the GSM8K data with the GPT-2 tokenizer (skipped without the shared data).
    func testStageWritesAPEFTAdapterAndMetrics() throws {
        guard let shared = SharedData.directory() else { throw XCTSkip(SharedData.absentMessage) }
        let tmp = NSTemporaryDirectory() + "sft-stage-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let modelDir = tmp + "/model"
        let m = GPT2(config: GPT2Config(vocabSize: 50257, nPositions: 64, nEmbd: 16, nLayer: 1, nHead: 2, eosTokenId: 50256))
        m.initialize(seed: 1)
        try Checkpoint.save(m, directory: modelDir, compressed: true)
        // records as the gsm8k stage writes them (only prompt_text and target_text are read)
        var lines = ""
        for i in 0..<6 {
            let obj = ["id": "train-\(i)", "prompt_text": "User:\nWhat is \(i) + \(i)?\n\nAssistant:\n",
                       "target_text": "<start_working_out>\(i) + \(i) = \(2 * i)<end_working_out><SOLUTION>\(2 * i)</SOLUTION>"]
            lines += String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self) + "\n"
        }
        try FileSystem.makeDirectory(tmp + "/gsm8k")
        try FileSystem.atomicWrite(lines, to: tmp + "/gsm8k/train.jsonl")
        let work = Workdir(explicit: tmp + "/work")
        var o = SFTOptions()
        o.maxSteps = 3; o.batch = 2; o.maxLength = 48
        let data = try GSM8KStage.recordsFile(tmp + "/gsm8k/train")
        let t = try XCTUnwrap(SFTStage.run(workdir: work, modelDir: modelDir, dataPath: data, tokenizerPath: shared + "/gpt2-tokenizer",
                                           options: o, force: false))
        XCTAssertEqual(t.step, 3)
        let out = work.stageDir("sft")
        let metrics = try JSONLReader.readAll(SFTMetrics.self, path: out + "/metrics.jsonl.zst")
        XCTAssertEqual(metrics.map(\.step), [1, 2, 3])
        let m2 = try Checkpoint.load(directory: modelDir)
        let lora = try LoRA.load(directory: out, into: m2)
        XCTAssertEqual(lora.r, 8)
        XCTAssertEqual(lora.targets, [.cAttn])
        XCTAssertNil(try SFTStage.run(workdir: work, modelDir: modelDir, dataPath: data, tokenizerPath: shared + "/gpt2-tokenizer",
                                      options: o, force: false), "unchanged inputs: up to date")
    }
}
