import Core
import Foundation
import XCTest
@testable import Train

/// GPT-2 against transformers' GPT2LMHeadModel and torch.optim.AdamW on a tiny random model
/// (Fixtures/make_gpt2_fixtures.py writes Fixtures/gpt2_tiny/ with the real libraries).
final class GPT2ConformanceTests: XCTestCase {
    struct AdamFixture: Decodable {
        let lr: Float; let beta1: Float; let beta2: Float; let eps: Float; let weight_decay: Float
        let clip: Float; let warmup: Int; let steps: Int; let losses: [Float]; let grad_norms: [Float]; let lrs: [Float]
        let final_loss: Float
    }
    struct GenFixture: Decodable { let prompts: [[Int]]; let max_new_tokens: Int; let eos: Int; let tokens: [[Int]] }
    struct Expected: Decodable {
        let input_ids: [[Int32]]; let labels: [[Int32]]; let loss: Float; let adamw: AdamFixture; let generate: GenFixture
    }

    static let dir = SharedData.packageRoot(filePath: #filePath) + "/Tests/TrainTests/Fixtures/gpt2_tiny"

    func expected(_ dir: String = GPT2ConformanceTests.dir) throws -> Expected {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: dir + "/expected.json"))
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    /// Batch from the fixture: transformers shifts labels inside the model; our targets are already shifted.
    func batch(_ e: Expected) -> (tokens: [Int32], targets: [Int32], b: Int, t: Int) {
        let b = e.input_ids.count, t = e.input_ids[0].count
        var targets: [Int32] = []
        for row in e.labels { targets += Array(row.dropFirst()) + [-100] }
        return (e.input_ids.flatMap { $0 }, targets, b, t)
    }

    func relErr(_ a: UnsafePointer<Float>, _ b: [Float]) -> Float {
        var maxDiff: Float = 0, maxRef: Float = 0
        for i in 0..<b.count { maxDiff = max(maxDiff, abs(a[i] - b[i])); maxRef = max(maxRef, abs(b[i])) }
        return maxDiff / max(maxRef, 1e-30)
    }

    func testLogitsLossAndGradients() throws { try checkLogitsLossAndGradients(Self.dir) }

    /// The same checks on a mid-size model made by `make_gpt2_fixtures.py --mid DIR` (too large to commit):
    /// runs when GPT2_MID_FIXTURE=DIR is set.
    func testMidSizeModelFromEnvironment() throws {
        guard let dir = ProcessInfo.processInfo.environment["GPT2_MID_FIXTURE"] else {
            throw XCTSkip("set GPT2_MID_FIXTURE to a folder written by make_gpt2_fixtures.py --mid")
        }
        try checkLogitsLossAndGradients(dir)
        try checkAdamW(dir)
        try checkGreedy(dir)
    }

    func checkLogitsLossAndGradients(_ dir: String) throws {
        let e = try expected(dir)
        let model = try Checkpoint.load(directory: dir + "/model")
        let (tokens, targets, b, t) = batch(e)
        let ctx = TrainContext(model: model, batch: b, seq: t)
        let loss = ctx.forward(tokens: tokens, targets: targets)
        let refLogits = try XCTUnwrap(SafeTensors.read(path: dir + "/logits.safetensors.zst")["logits"])
        let le = relErr(ctx.logits.p, refLogits.values)
        print("logits max relative error \(le); loss \(loss) vs \(e.loss)")
        XCTAssertLessThan(le, 1e-4)
        XCTAssertEqual(loss, e.loss, accuracy: 1e-4 * e.loss)

        model.zeroGrad()
        ctx.backward()
        let grads = try SafeTensors.read(path: dir + "/grads.safetensors.zst")
        var worst: (String, Float) = ("", 0)
        for p in model.parameters {
            let ref = try XCTUnwrap(grads["transformer." + p.name], p.name)
            XCTAssertEqual(ref.shape, p.shape)
            let err = relErr(p.grad.p, ref.values)
            if err > worst.1 { worst = (p.name, err) }
            XCTAssertLessThan(err, 1e-3, p.name)
        }
        print("gradients: max relative error \(worst.1) (\(worst.0)) over \(model.parameters.count) tensors")
    }

    func testAdamWStepsMatchTorch() throws { try checkAdamW(Self.dir) }

    func checkAdamW(_ dir: String) throws {
        let e = try expected(dir)
        let a = e.adamw
        let model = try Checkpoint.load(directory: dir + "/model")
        let (tokens, targets, b, t) = batch(e)
        let ctx = TrainContext(model: model, batch: b, seq: t)
        let opt = AdamW(parameters: model.parameters, beta1: a.beta1, beta2: a.beta2, eps: a.eps, weightDecay: a.weight_decay)
        for step in 0..<a.steps {
            model.zeroGrad()
            let loss = ctx.forward(tokens: tokens, targets: targets)
            ctx.backward()
            let norm = clipGradNorm(model.parameters, maxNorm: a.clip)
            let lr = cosineSchedule(step: step, baseLR: a.lr, warmup: a.warmup, total: a.steps)
            XCTAssertEqual(lr, a.lrs[step], accuracy: 1e-9 + 1e-6 * a.lrs[step])
            XCTAssertEqual(norm, a.grad_norms[step], accuracy: 1e-3 * a.grad_norms[step])
            XCTAssertEqual(loss, a.losses[step], accuracy: 1e-4 * a.losses[step], "step \(step)")
            opt.update(lr: lr)
        }
        print("AdamW: \(a.steps) losses from \(a.losses[0]) to \(a.losses[a.steps - 1]) match torch")
        let final = ctx.forward(tokens: tokens, targets: targets)
        XCTAssertEqual(final, a.final_loss, accuracy: 1e-4 * a.final_loss)
    }

    func testSaveLoadRoundTrip() throws {
        let model = try Checkpoint.load(directory: Self.dir + "/model")
        let tmp = NSTemporaryDirectory() + "gpt2-roundtrip-\(getpid())"
        defer { FileSystem.remove(tmp) }
        for compressed in [false, true] {
            try Checkpoint.save(model, directory: tmp + "/\(compressed)", compressed: compressed)
            let back = try Checkpoint.load(directory: tmp + "/\(compressed)")
            XCTAssertEqual(back.config, model.config)
            for (p, q) in zip(model.parameters, back.parameters) {
                XCTAssertEqual(p.name, q.name)
                XCTAssertEqual(p.value.array, q.value.array)
            }
            let names = try SafeTensors.read(path: tmp + "/\(compressed)/model.safetensors" + (compressed ? ".zst" : "")).keys
            XCTAssertFalse(names.contains("lm_head.weight"))
            XCTAssertTrue(names.contains("transformer.h.1.attn.c_attn.weight"))
        }
    }
}

extension GPT2ConformanceTests {
    func testGreedyGenerationMatchesTransformers() throws { try checkGreedy(Self.dir) }

    func checkGreedy(_ dir: String) throws {
        let e = try expected(dir)
        let model = try Checkpoint.load(directory: dir + "/model")
        var o = SamplingOptions()
        o.greedy = true
        o.maxNewTokens = e.generate.max_new_tokens
        o.eosTokenId = e.generate.eos
        // all prompts in one batch (different lengths) and one at a time give transformers' tokens
        let batched = try Generator.generate(model: model, prompts: e.generate.prompts, options: o)
        for (i, p) in e.generate.prompts.enumerated() {
            let single = try Generator.generate(model: model, prompts: [p], options: o)[0]
            XCTAssertEqual(single, batched[i])
            let ref = e.generate.tokens[i]
            XCTAssertEqual(single, Array(ref.prefix(single.count)))
            XCTAssertTrue(ref.dropFirst(single.count).allSatisfy { $0 == e.generate.eos })
        }
    }

    func testKVCacheLogitsEqualFullForward() throws {
        let e = try expected()
        let model = try Checkpoint.load(directory: Self.dir + "/model")
        let (tokens, _, b, t) = batch(e)
        let ctx = TrainContext(model: model, batch: b, seq: t)
        ctx.forward(tokens: tokens)
        let dec = Decoder(model: model, sequences: b)
        let V = model.config.vocabSize
        // prefill half of each row, then one token at a time for both rows together
        var got = Array(repeating: [[Float]](), count: b)
        let half = t / 2
        var toks: [Int32] = [], seqs: [Int] = []
        for r in 0..<b { toks += tokens[(r * t)..<(r * t + half)]; seqs += Array(repeating: r, count: half) }
        let first = try dec.feed(tokens: toks, seqs: seqs, logitsFor: Array(0..<toks.count))
        for (i, l) in first.enumerated() { got[seqs[i]].append(l) }
        for pos in half..<t {
            let step = try dec.feed(tokens: (0..<b).map { tokens[$0 * t + pos] }, seqs: Array(0..<b), logitsFor: Array(0..<b))
            for r in 0..<b { got[r].append(step[r]) }
        }
        for r in 0..<b {
            for pos in 0..<t {
                let ref = Array(UnsafeBufferPointer(start: ctx.logits.p + (r * t + pos) * V, count: V))
                XCTAssertLessThan(got[r][pos].withUnsafeBufferPointer { relErr($0.baseAddress!, ref) }, 1e-5)
            }
        }
    }

    func testSamplingIsDeterministicForASeed() throws {
        let model = try Checkpoint.load(directory: Self.dir + "/model")
        var o = SamplingOptions()
        o.maxNewTokens = 12; o.temperature = 1.3; o.topK = 50; o.topP = 0.9; o.seed = 42
        let a = try Generator.generate(model: model, prompts: [[1, 2, 3], [4, 5], [1, 2, 3]], options: o)
        let b = try Generator.generate(model: model, prompts: [[1, 2, 3], [4, 5], [1, 2, 3]], options: o)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.map(\.count), [12, 12, 12])
    }
}

extension GPT2ConformanceTests {
    /// The hub's original layout: no `transformer.` prefix, `h.{i}.attn.bias`/`masked_bias` buffers and a tied
    /// `lm_head.weight` present; all ignored or mapped, same weights.
    func testHubLayoutLoads() throws {
        let ref = try Checkpoint.load(directory: Self.dir + "/model")
        let tensors = try SafeTensors.read(path: Self.dir + "/model/model.safetensors.zst")
        var list: [(String, [Int], [Float])] = tensors.map { (String($0.key.dropFirst("transformer.".count)), $0.value.shape, $0.value.values) }
        list.append(("h.0.attn.bias", [1, 1, 64, 64], Array(repeating: 1, count: 64 * 64)))
        list.append(("h.1.attn.masked_bias", [], [-1e4]))
        list.append(("lm_head.weight", tensors["transformer.wte.weight"]!.shape, tensors["transformer.wte.weight"]!.values))
        let tmp = NSTemporaryDirectory() + "gpt2-hub-\(getpid())"
        defer { FileSystem.remove(tmp) }
        try FileSystem.makeDirectory(tmp)
        let buffers = list.map { FloatBuffer($0.2) }
        let bytes = try SafeTensors.serialize(zip(list, buffers).map { ($0.0.0, $0.0.1, UnsafeBufferPointer(start: $0.1.p, count: $0.1.count)) })
        try FileSystem.atomicWrite(bytes, to: tmp + "/model.safetensors")
        try FileSystem.atomicWrite(try ByteReader(path: Self.dir + "/model/config.json").readAll(), to: tmp + "/config.json")
        let hub = try Checkpoint.load(directory: tmp)
        for (p, q) in zip(ref.parameters, hub.parameters) { XCTAssertEqual(p.value.array, q.value.array, p.name) }
        // a missing tensor is an error naming it
        try FileSystem.atomicWrite(try SafeTensors.serialize([]), to: tmp + "/model.safetensors")
        XCTAssertThrowsError(try Checkpoint.load(directory: tmp)) { e in
            XCTAssertTrue("\(e)".contains("wte.weight"), "\(e)")
        }
    }
}
