import Core
import Foundation
import XCTest
@testable import Train

/// LoRA against PEFT 0.21 on the tiny GPT-2 fixture (Fixtures/make_lora_fixtures.py writes Fixtures/lora_tiny/).
final class LoRATests: XCTestCase {
    static let fixtures = SharedData.packageRoot(filePath: #filePath) + "/Tests/TrainTests/Fixtures"
    static let base = fixtures + "/gpt2_tiny"
    static let dir = fixtures + "/lora_tiny"

    struct Expected: Decodable { let input_ids: [[Int32]]; let labels: [[Int32]] }

    func batch() throws -> (tokens: [Int32], targets: [Int32], b: Int, t: Int) {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Self.base + "/expected.json"))
        let e = try JSONDecoder().decode(Expected.self, from: data)
        var targets: [Int32] = []
        for row in e.labels { targets += Array(row.dropFirst()) + [-100] }
        return (e.input_ids.flatMap { $0 }, targets, e.input_ids.count, e.input_ids[0].count)
    }

    func relErr(_ a: UnsafePointer<Float>, _ b: [Float]) -> Float {
        var maxDiff: Float = 0, maxRef: Float = 0
        for i in 0..<b.count { maxDiff = max(maxDiff, abs(a[i] - b[i])); maxRef = max(maxRef, abs(b[i])) }
        return maxDiff / max(maxRef, 1e-30)
    }

    func testPEFTAdapterLogitsLossAndGradients() throws {
        let model = try Checkpoint.load(directory: Self.base + "/model")
        let lora = try LoRA.load(directory: Self.dir + "/adapter", into: model)
        XCTAssertEqual(lora.r, 4)
        XCTAssertEqual(lora.scaling, 2)
        XCTAssertEqual(lora.targets, LoRATarget.allCases)
        XCTAssertEqual(lora.parameterCount, 2 * (4 * 64 + 192 * 4 + 4 * 64 + 64 * 4 + 4 * 64 + 256 * 4 + 4 * 256 + 64 * 4))
        let ref = try SafeTensors.read(path: Self.dir + "/expected.safetensors.zst")
        let (tokens, targets, b, t) = try batch()
        let ctx = TrainContext(model: model, batch: b, seq: t)
        let loss = ctx.forward(tokens: tokens, targets: targets)
        let le = relErr(ctx.logits.p, try XCTUnwrap(ref["logits"]).values)
        XCTAssertLessThan(le, 1e-4, "logits")
        XCTAssertEqual(loss, try XCTUnwrap(ref["loss"]).values[0], accuracy: 1e-5 * abs(loss))
        model.zeroGrad()
        ctx.backward()
        var worst: Float = 0
        for p in lora.parameters {
            let g = try XCTUnwrap(ref["grad." + LoRAAdapter.peftName(p)], p.name)
            XCTAssertEqual(g.shape, p.shape)
            worst = max(worst, relErr(p.grad.p, g.values))
        }
        XCTAssertLessThan(worst, 1e-3, "LoRA gradients")
        for p in model.parameters { XCTAssertTrue(p.frozen) }
        print("LoRA vs PEFT: logits max rel err \(le), loss \(loss), gradients max rel err \(worst) over \(lora.parameters.count) tensors")
    }

    func testSaveLoadMergeAndDecoder() throws {
        let model = try Checkpoint.load(directory: Self.base + "/model")
        let lora = try LoRA.attach(to: model, r: 3, alpha: 5, dropout: 0, targets: [.cAttn, .fcProj], seed: 11,
                                   baseModelName: "gpt2_tiny/model")
        // init: A ~ U(±1/√in), B = 0, so the adapted model starts equal to the base
        for ad in lora.adapters {
            let bound = 1 / Float(ad.inDim).squareRoot()
            XCTAssertTrue(ad.a.value.array.allSatisfy { abs($0) <= bound })
            XCTAssertGreaterThan(ad.a.value.array.map(abs).max()!, bound * 0.8)
            XCTAssertTrue(ad.b.value.array.allSatisfy { $0 == 0 })
        }
        var rng = Xoshiro256(seed: 3)
        for ad in lora.adapters { for k in 0..<ad.b.count { ad.b.value.p[k] = Float(rng.normal() * 0.05) } }
        let (tokens, _, b, t) = try batch()
        let ctx = TrainContext(model: model, batch: b, seq: t)
        ctx.forward(tokens: tokens)
        let logits = ctx.logits.array
        // KV-cache decoder with the adapter gives the same logits as the full pass
        let dec = Decoder(model: model, sequences: 1)
        let row = try dec.feed(tokens: Array(tokens[0..<t]), seqs: Array(repeating: 0, count: t), logitsFor: [t - 1])[0]
        let V = model.config.vocabSize
        XCTAssertLessThan(relErr(row, Array(logits[(t - 1) * V..<t * V])), 1e-5)
        // disabled adapter = base model
        lora.enabled = false
        ctx.forward(tokens: tokens)
        let baseModel = try Checkpoint.load(directory: Self.base + "/model")
        let bctx = TrainContext(model: baseModel, batch: b, seq: t)
        bctx.forward(tokens: tokens)
        XCTAssertEqual(ctx.logits.array, bctx.logits.array)
        lora.enabled = true
        // save (PEFT layout) and reload into a fresh model
        let tmp = NSTemporaryDirectory() + "lora-test-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try lora.save(directory: tmp)
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tmp + "/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(cfg["peft_type"] as? String, "LORA")
        XCTAssertEqual(cfg["fan_in_fan_out"] as? Bool, true)
        XCTAssertEqual(cfg["target_modules"] as? [String], ["c_attn", "mlp.c_proj"])
        let names = try SafeTensors.read(path: tmp + "/adapter_model.safetensors").keys.sorted()
        XCTAssertTrue(names.contains("base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight"))
        XCTAssertEqual(names.count, 2 * 2 * 2)
        let m2 = try Checkpoint.load(directory: Self.base + "/model")
        try LoRA.load(directory: tmp, into: m2)
        let c2 = TrainContext(model: m2, batch: b, seq: t)
        c2.forward(tokens: tokens)
        XCTAssertEqual(c2.logits.array, logits)
        if let check = ProcessInfo.processInfo.environment["LORA_CHECK_DIR"] {
            // for `make_lora_fixtures.py --check DIR`: PEFT loads our adapter and compares these logits
            try lora.save(directory: check)
            let obj: [String: Any] = ["shape": [b, t, V], "logits": logits.map(Double.init)]
            try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: check + "/check_logits.json"))
        }
        // merge: same logits, plain model
        LoRA.merge(into: m2)
        XCTAssertNil(m2.lora)
        c2.forward(tokens: tokens)
        XCTAssertLessThan(relErr(c2.logits.p, logits), 1e-5)
    }

    func testTrainingTouchesOnlyTheAdapter() throws {
        let model = try Checkpoint.load(directory: Self.base + "/model")
        let lora = try LoRA.attach(to: model, r: 4, alpha: 8, dropout: 0.1, targets: LoRATarget.allCases, seed: 1)
        lora.training = true
        let before = model.parameters.map { $0.value.array }
        let opt = AdamW(parameters: model.trainableParameters, weightDecay: 0)
        XCTAssertEqual(opt.m.count, lora.parameters.count)
        let (tokens, targets, b, t) = try batch()
        let ctx = TrainContext(model: model, batch: b, seq: t)
        var losses: [Float] = []
        for _ in 0..<8 {
            model.zeroGrad()
            losses.append(ctx.forward(tokens: tokens, targets: targets))
            ctx.backward()
            clipGradNorm(model.trainableParameters, maxNorm: 1)
            opt.update(lr: 1e-2)
        }
        XCTAssertLessThan(losses.last!, losses.first!)
        for (p, v) in zip(model.parameters, before) { XCTAssertEqual(p.value.array, v, p.name) }
    }

    /// Finite differences through dropout: with the same dropout mask (same generator state), the analytic
    /// gradient of A and B matches (loss(θ+h) − loss(θ−h)) / 2h.
    func testDropoutGradientMatchesFiniteDifferences() throws {
        let model = try Checkpoint.load(directory: Self.base + "/model")
        let lora = try LoRA.attach(to: model, r: 2, alpha: 4, dropout: 0.3, targets: [.cAttn, .fc], seed: 2)
        var rng = Xoshiro256(seed: 9)
        for ad in lora.adapters { for k in 0..<ad.b.count { ad.b.value.p[k] = Float(rng.normal() * 0.2) } }
        lora.training = true
        let (tokens, targets, b, t) = try batch()
        let ctx = TrainContext(model: model, batch: b, seq: t)
        let state = lora.rng
        model.zeroGrad()
        ctx.forward(tokens: tokens, targets: targets)
        ctx.backward()
        for p in [lora.adapters[0].a, lora.adapters[1].b, lora.adapters[3].a] {
            for k in [0, 5, p.count - 1] {
                let v = p.value.p[k], h: Float = 1e-2
                p.value.p[k] = v + h; lora.rng = state
                let lp = Double(ctx.forward(tokens: tokens, targets: targets))
                p.value.p[k] = v - h; lora.rng = state
                let lm = Double(ctx.forward(tokens: tokens, targets: targets))
                p.value.p[k] = v
                let fd = Float((lp - lm) / (2 * Double(h)))
                XCTAssertEqual(p.grad.p[k], fd, accuracy: 2e-3 + 0.05 * abs(fd), "\(p.name)[\(k)]")
            }
        }
    }
}
