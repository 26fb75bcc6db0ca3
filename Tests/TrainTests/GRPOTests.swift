import Core
import Foundation
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

    func expected() throws -> Expected {
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
