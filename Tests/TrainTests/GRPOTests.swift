import Core
import Foundation
import GSM8K
import Tokenize
import XCTest
@testable import Train

/// GRPO against the real TRL 1.16 GRPOTrainer (Fixtures/make_grpo_fixtures.py, one optimizer step on the tiny
/// GPT-2 + PEFT LoRA for each loss type and β ∈ {0, 0.04}).
final class GRPOTests: XCTestCase {
    static let fixtures = SharedData.packageRoot(filePath: #filePath) + "/Tests/TrainTests/Fixtures"
    static let dir = fixtures + "/grpo_tiny"

    struct Case: Decodable { let loss_type: String; let beta: Double; let micro_losses: [Double]; let micro_rows: [[Int]]; let loss: Double }
    struct Expected: Decodable {
        let eos_scale: Float; let marker_scale: Float; let temperature: Double; let num_generations: Int
        let batch: Int; let grad_accum: Int; let max_completion_length: Int
        let answers: [String]; let prompt_ids: [[Int]]; let completion_ids: [[Int]]; let completion_texts: [String]
        let rewards: [String: [Double?]]; let reward_funcs: [String]; let advantages: [Double]; let cases: [Case]
    }

    func expected() throws -> Expected { try Self.loadExpected() }

    static func loadExpected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: try XCTUnwrap(FileManager.default.contents(atPath: Self.dir + "/expected.json")))
    }

    /// The fixture's base model: gpt2_tiny with the EOS / marker embedding rows scaled (powers of two: exact).
    func model(_ e: Expected) throws -> GPT2 {
        let m = try Checkpoint.load(directory: Self.fixtures + "/gpt2_tiny/model")
        let E = m.config.nEmbd
        for i in 0..<E { m.wte.value.p[999 * E + i] *= e.eos_scale }
        for r in 995..<999 { for i in 0..<E { m.wte.value.p[r * E + i] *= e.marker_scale } }
        return m
    }

    func testRewardsAndAdvantagesMatchTRL() throws {
        let e = try expected()
        let weights = [1.0, 1, 1, 1, 0.5]
        let perFunc = (0..<e.completion_ids.count).map { i in e.reward_funcs.map { e.rewards[$0]![i] } }
        let total = GRPOMath.totalRewards(perFunc, weights: weights)
        let (adv, _) = GRPOMath.advantages(total, groupSize: e.num_generations, scale: .group)
        for (a, b) in zip(adv, e.advantages) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
        // our four reward functions on the texts TRL decoded and scored
        let rw = Rewards()
        for (i, text) in e.completion_texts.enumerated() {
            let ours = rw.scores(completion: text, answer: e.answers[i])
            for (k, f) in RewardFunction.allCases.enumerated() {
                XCTAssertEqual(ours[k], e.rewards[f.rawValue]![i], "completion \(i) \(f.rawValue)")
            }
        }
        // our decoding of the completion ids gives the same texts
        let tok = try BPETokenizer(path: Self.dir + "/tokenizer.json")
        for (i, ids) in e.completion_ids.enumerated() {
            XCTAssertEqual(tok.decode(ids.filter { $0 != 999 }), e.completion_texts[i], "completion \(i)")
        }
        // NaN-aware sum: a skipped function contributes nothing; all skipped → NaN → advantage 0
        let t = GRPOMath.totalRewards([[1, nil], [nil, nil], [2, 4]], weights: [1, 0.5])
        XCTAssertEqual(t[0], 1); XCTAssertTrue(t[1].isNaN); XCTAssertEqual(t[2], 4)
        let (a2, z2) = GRPOMath.advantages([1, .nan, 3, 3], groupSize: 2, scale: .group)
        XCTAssertEqual(a2[0], 0); XCTAssertEqual(a2[1], 0); XCTAssertEqual(a2[2], 0); XCTAssertTrue(z2[2])
    }

    func testLossAndGradientsMatchTRLForEveryLossTypeAndBeta() throws {
        let e = try expected()
        let grads = try SafeTensors.read(path: Self.dir + "/grads.safetensors.zst")
        let samples = (0..<e.completion_ids.count).map {
            GRPOSample(prompt: e.prompt_ids[$0], completion: e.completion_ids[$0], advantage: e.advantages[$0])
        }
        let genTokens = samples.reduce(0) { $0 + $1.completion.count }
        var worstLoss = 0.0, worstGrad: Float = 0
        for c in e.cases {
            let m = try model(e)
            let lora = try LoRA.load(directory: Self.dir + "/adapter", into: m)
            lora.training = true
            var o = GRPOLossOptions()
            o.lossType = try XCTUnwrap(GRPOLossType(rawValue: c.loss_type)); o.beta = c.beta
            o.temperature = e.temperature; o.maxCompletionLength = e.max_completion_length
            let loss = GRPOLoss(model: m, options: o)
            m.zeroGrad()
            var total = 0.0
            for k in 0..<e.grad_accum {
                let r = loss.step(c.micro_rows[k].map { samples[$0] }, generationTokens: genTokens, accumulation: e.grad_accum)
                XCTAssertEqual(r.loss, c.micro_losses[k], accuracy: 1e-5, "\(c.loss_type) β=\(c.beta) micro-batch \(k)")
                total += r.loss
            }
            XCTAssertEqual(total, c.loss, accuracy: 1e-5, "\(c.loss_type) β=\(c.beta)")
            worstLoss = max(worstLoss, abs(total - c.loss))
            for p in lora.parameters {
                let ref = try XCTUnwrap(grads["\(c.loss_type)/\(c.beta)/" + LoRAAdapter.peftName(p)], p.name)
                var maxDiff: Float = 0, maxRef: Float = 0
                for i in 0..<p.count { maxDiff = max(maxDiff, abs(p.grad.p[i] - ref.values[i])); maxRef = max(maxRef, abs(ref.values[i])) }
                let rel = maxDiff / max(maxRef, 1e-30)
                XCTAssertLessThan(rel, 1e-4, "\(c.loss_type) β=\(c.beta) \(p.name)")
                worstGrad = max(worstGrad, rel)
            }
        }
        print("GRPO vs TRL: \(e.cases.count) cases, max |loss diff| \(worstLoss), gradients max rel err \(worstGrad)")
    }
}

/// The trainer end to end on the tiny model: metrics with TRL's names, samples, the adapter learns, and
/// --resume continues exactly.
final class GRPOTrainerTests: XCTestCase {
    func setUpRun(_ tmp: String) throws -> (model: String, data: String, tokenizer: String) {
        let fx = GRPOTests.fixtures
        let m = try Checkpoint.load(directory: fx + "/gpt2_tiny/model")
        let E = m.config.nEmbd
        for i in 0..<E { m.wte.value.p[999 * E + i] *= 16 }
        try Checkpoint.save(m, directory: tmp + "/model", compressed: true)
        var lines = ""
        for i in 0..<6 {
            let obj = ["id": "train-\(i)", "prompt_text": "User:\nWhat is \(i) + \(i)?\n\nAssistant:\n", "answer": "\(2 * i)",
                       "target_text": ""]
            lines += String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self) + "\n"
        }
        try FileSystem.makeDirectory(tmp + "/gsm8k")
        try FileSystem.atomicWrite(lines, to: tmp + "/gsm8k/train.jsonl")
        return (tmp + "/model", tmp + "/gsm8k/train.jsonl", GRPOTests.dir + "/tokenizer.json")
    }

    func options() -> GRPOOptions {
        var o = GRPOOptions()
        o.lora.r = 4; o.lora.dropout = 0.1; o.numGenerations = 2; o.batch = 2; o.gradAccum = 2
        o.maxSteps = 4; o.maxPromptLength = 16; o.loss.maxCompletionLength = 12; o.lr = 1e-2; o.saveEvery = 2
        o.sampleEvery = 2; o.loss.temperature = 0.8
        return o
    }

    func testMetricsSamplesAndExactResume() throws {
        let tmp = NSTemporaryDirectory() + "grpo-stage-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let (model, data, tok) = try setUpRun(tmp)
        let w1 = Workdir(explicit: tmp + "/w1"), w2 = Workdir(explicit: tmp + "/w2")
        let full = try XCTUnwrap(GRPOStage.run(workdir: w1, modelDir: model, dataPath: data, tokenizerPath: tok, options: options(),
                                               resume: false, force: false))
        XCTAssertEqual(full.step, 4)
        let m = full.metrics[0]
        for k in ["loss", "grad_norm", "learning_rate", "reward", "reward_std", "rewards/match_format_exactly/mean",
                  "rewards/check_numbers/std", "completions/mean_length", "completions/clipped_ratio", "kl", "entropy",
                  "frac_reward_zero_std", "step_time"] {
            XCTAssertNotNil(m[k], k)
        }
        // transformers' linear schedule: warm-up ceil(0.1 × 4) = 1 step, then (4 − s)/3
        XCTAssertEqual(full.metrics.map { $0["learning_rate"]! }, [Float(0), 1e-2, 1e-2 * Float(2.0 / 3), 1e-2 * Float(1.0 / 3)].map { Double($0) })
        let saved = try JSONLReader.readAll([String: Double].self, path: w1.stageDir("grpo") + "/metrics.jsonl.zst")
        XCTAssertEqual(saved.count, 4)
        let samples = try JSONLReader.readAll(GRPOSampleRecord.self, path: w1.stageDir("grpo") + "/samples.jsonl.zst")
        XCTAssertEqual(samples.map(\.step), [1, 2, 4])
        XCTAssertEqual(samples[0].completions.count, 2)
        // interrupted after 2 steps, then resumed
        _ = try GRPOStage.run(workdir: w2, modelDir: model, dataPath: data, tokenizerPath: tok, options: options(),
                              resume: false, force: false, stopAfter: 2)
        let resumed = try XCTUnwrap(GRPOStage.run(workdir: w2, modelDir: model, dataPath: data, tokenizerPath: tok,
                                                  options: options(), resume: true, force: false))
        XCTAssertEqual(resumed.step, 4)
        func strip(_ m: GRPOMetrics) -> [String: Double] {
            m.values.filter { $0.key != "step_time" && $0.key != "generation_time" }
        }
        XCTAssertEqual(resumed.metrics.map(strip), full.metrics.map(strip))
        let a = try SafeTensors.read(path: w1.stageDir("grpo") + "/adapter_model.safetensors")
        let b = try SafeTensors.read(path: w2.stageDir("grpo") + "/adapter_model.safetensors")
        XCTAssertEqual(a, b)
        XCTAssertNil(try GRPOStage.run(workdir: w1, modelDir: model, dataPath: data, tokenizerPath: tok, options: options(),
                                       resume: false, force: false), "up to date")
    }

    /// Continuing an adapter: the KL reference is the starting adapter (TRL 1.x), so the first step's KL is 0.
    func testAdapterContinuationUsesTheStartingAdapterAsReference() throws {
        let tmp = NSTemporaryDirectory() + "grpo-adapter-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let (model, data, tok) = try setUpRun(tmp)
        var o = options()
        o.adapter = GRPOTests.dir + "/adapter"
        o.maxSteps = 3
        let t = try XCTUnwrap(GRPOStage.run(workdir: Workdir(explicit: tmp + "/w"), modelDir: model, dataPath: data,
                                            tokenizerPath: tok, options: o, resume: false, force: false))
        XCTAssertEqual(t.metrics[0]["kl"]!, 0, accuracy: 1e-9)
        let ref = try XCTUnwrap(t.loss.reference)
        XCTAssertFalse(ref === t.lora)
        // the KL is measured against that copy: moving the policy away from it makes the KL positive
        for p in t.lora.parameters { for i in 0..<p.count { p.value.p[i] *= 1.5 } }
        let e = try GRPOTests.loadExpected()
        let s = (0..<4).map { GRPOSample(prompt: e.prompt_ids[$0], completion: e.completion_ids[$0], advantage: 0) }
        XCTAssertGreaterThan(t.loss.step(s, generationTokens: 40, accumulation: 1).kl, 1e-6)
        t.loss.reference = nil   // adapter disabled: the base model
        XCTAssertGreaterThan(t.loss.step(s, generationTokens: 40, accumulation: 1).kl, 1e-6)
        XCTAssertEqual(t.lora.targets, [.cAttn, .fcProj])
    }

    /// `--eval-every`: held-out greedy evaluations before step 1, every N steps and at the end, equal to the eval
    /// stage's answers with the saved adapter; the training itself is unchanged, also across a resume.
    func testEvalEveryRecordsHeldOutAccuracyWithoutChangingTraining() throws {
        let tmp = NSTemporaryDirectory() + "grpo-evals-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let (model, data, tok) = try setUpRun(tmp)
        var o = options()
        o.evalEvery = 3; o.evalLimit = 3
        let plain = try XCTUnwrap(GRPOStage.run(workdir: Workdir(explicit: tmp + "/w0"), modelDir: model,
                                                dataPath: data, tokenizerPath: tok, options: options(), resume: false,
                                                force: false))
        let w = Workdir(explicit: tmp + "/w1")
        let t = try XCTUnwrap(GRPOStage.run(workdir: w, modelDir: model, dataPath: data, tokenizerPath: tok, options: o,
                                            evalData: data, resume: false, force: false))
        func strip(_ m: GRPOMetrics) -> [String: Double] {
            m.values.filter { !["step_time", "generation_time", "eval/accuracy", "eval/format_exact"].contains($0.key) }
        }
        XCTAssertEqual(t.metrics.map(strip), plain.metrics.map(strip), "evaluating changes no training step")
        XCTAssertEqual(try SafeTensors.read(path: w.stageDir("grpo") + "/adapter_model.safetensors"),
                       try SafeTensors.read(path: tmp + "/w0/grpo/adapter_model.safetensors"))
        let evals = try JSONLReader.readAll(GRPOEvalRecord.self, path: w.stageDir("grpo") + "/evals.jsonl.zst")
        XCTAssertEqual(evals.map(\.step), [0, 3, 4])
        XCTAssertEqual(evals.map(\.questions), [3, 3, 3])
        XCTAssertEqual(t.metrics.map { $0.evalAccuracy != nil }, [false, false, true, true])
        XCTAssertEqual(t.metrics[3].evalAccuracy, evals[2].accuracy)
        XCTAssertFalse(FileSystem.exists(tmp + "/w0/grpo/evals.jsonl.zst"), "only with --eval-every")
        // the last evaluation is what the eval stage answers with the saved adapter
        let net = try Checkpoint.load(directory: model)
        try LoRA.load(directory: w.stageDir("grpo"), into: net)
        var eo = EvalStage.Options()
        eo.limit = 3; eo.maxNewTokens = o.loss.maxCompletionLength
        let summary = try XCTUnwrap(EvalStage.run(workdir: Workdir(explicit: tmp + "/we"), model: net,
                                                  modelName: model, adapterName: nil, modelInputs: [],
                                                  tokenizer: try BPETokenizer(path: tok), tokenizerInputs: [],
                                                  data: data, options: eo, force: false))
        XCTAssertEqual(summary.accuracy, evals[2].accuracy)
        XCTAssertEqual(summary.formatExact, evals[2].formatExact)
        let answers = try JSONLReader.readAll(EvalCompletion.self, path: tmp + "/we/eval/completions.jsonl.zst")
        XCTAssertEqual(answers.map(\.completion), evals[2].samples.map(\.completion))
        XCTAssertEqual(answers.map(\.reward), evals[2].samples.map(\.reward))
        // interrupted after 2 steps and resumed: the same evaluations
        let w2 = Workdir(explicit: tmp + "/w2")
        _ = try GRPOStage.run(workdir: w2, modelDir: model, dataPath: data, tokenizerPath: tok, options: o,
                              evalData: data, resume: false, force: false, stopAfter: 2)
        let r = try XCTUnwrap(GRPOStage.run(workdir: w2, modelDir: model, dataPath: data, tokenizerPath: tok,
                                            options: o, evalData: data, resume: true, force: false))
        XCTAssertEqual(r.evals, t.evals)
    }
}
