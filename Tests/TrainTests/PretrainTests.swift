import Core
import Foundation
import Tokenize
import XCTest
@testable import Train

final class PretrainTests: XCTestCase {
    func makeTokens(_ dir: String, vocab: Int = 97, count: Int = 6000) throws -> String {
        try FileSystem.makeDirectory(dir)
        let path = dir + "/tokens.bin.zst"
        let w = try TokenFileWriter(path: path, vocabSize: vocab)
        var rng = Xoshiro256(seed: 3)
        // a learnable stream: mostly counting upwards mod vocab, with noise
        var ids: [UInt32] = []
        var t = 0
        for _ in 0..<count {
            t = rng.below(10) == 0 ? rng.below(vocab) : (t + 1) % vocab
            ids.append(UInt32(t))
        }
        try w.append(ids)
        try w.close()
        return path
    }

    func options() -> PretrainOptions {
        var o = PretrainOptions(config: GPT2Config(vocabSize: 97, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 4), configName: "test")
        o.steps = 6; o.batch = 2; o.seq = 16; o.warmup = 2; o.saveEvery = 2; o.evalEvery = 3; o.evalBatches = 2; o.lr = 3e-3
        o.gradAccum = 2
        return o
    }

    func testResumedRunEqualsUninterruptedRun() throws {
        let root = NSTemporaryDirectory() + "pretrain-test-\(getpid())"
        defer { FileSystem.remove(root) }
        let tokens = try makeTokens(root + "/data")
        let a = try XCTUnwrap(PretrainStage.run(workdir: Workdir(path: root + "/a"), tokensPath: tokens, options: options(), resume: false, force: false))
        // interrupted after step 3 (last checkpoint at step 2), then resumed
        let wb = Workdir(path: root + "/b")
        _ = try PretrainStage.run(workdir: wb, tokensPath: tokens, options: options(), resume: false, force: false, stopAfter: 3)
        XCTAssertEqual(wb.manifest("pretrain")?.records["steps"], 2)
        let b = try XCTUnwrap(PretrainStage.run(workdir: wb, tokensPath: tokens, options: options(), resume: true, force: false))
        XCTAssertEqual(b.step, 6)
        func strip(_ m: [PretrainMetrics]) -> [PretrainMetrics] { m.map { var x = $0; x.tokens_per_s = 0; return x } }
        XCTAssertEqual(strip(a.metrics), strip(b.metrics))
        for (p, q) in zip(a.model.parameters, b.model.parameters) { XCTAssertEqual(p.value.array, q.value.array, p.name) }
        // the committed folder loads as a model and holds the metrics
        let loaded = try Checkpoint.load(directory: root + "/a/pretrain")
        XCTAssertEqual(loaded.parameters[2].value.array, a.model.parameters[2].value.array)
        let metrics = try JSONLReader.readAll(PretrainMetrics.self, path: root + "/a/pretrain/metrics.jsonl.zst")
        XCTAssertEqual(metrics.count, 6)
        XCTAssertNotNil(metrics[2].val_loss)
        XCTAssertLessThan(metrics[5].train_loss, metrics[0].train_loss)
        // same options again: up to date
        XCTAssertNil(try PretrainStage.run(workdir: Workdir(path: root + "/a"), tokensPath: tokens, options: options(), resume: false, force: false))
    }

    func testSameSeedSameRun() throws {
        let root = NSTemporaryDirectory() + "pretrain-seed-\(getpid())"
        defer { FileSystem.remove(root) }
        let tokens = try makeTokens(root + "/data")
        var o = options(); o.steps = 2; o.saveEvery = 10
        let data = try TokenData(path: tokens, seq: o.seq, valFraction: o.valFraction)
        let a = try Pretrainer(options: o, data: data), b = try Pretrainer(options: o, data: data)
        XCTAssertEqual(a.trainStep().train_loss, b.trainStep().train_loss)
        o.seed = 7
        let c = try Pretrainer(options: o, data: data)
        XCTAssertNotEqual(a.model.parameters[0].value.array, c.model.parameters[0].value.array)
    }

    /// `--profile`: every step's time lands in one of the four phases, and the FLOPs are Core's count of a
    /// training step (forward one third, backward two thirds).
    func testProfileCountsPhasesAndFLOPs() throws {
        let root = NSTemporaryDirectory() + "pretrain-profile-\(getpid())"
        defer { FileSystem.remove(root) }
        let tokens = try makeTokens(root + "/data")
        var o = options(); o.steps = 3; o.saveEvery = 10; o.evalEvery = 100
        let data = try TokenData(path: tokens, seq: o.seq, valFraction: o.valFraction)
        let t = try Pretrainer(options: o, data: data)
        for _ in 0..<3 { _ = t.trainStep() }
        let p = t.profile
        XCTAssertEqual(p.steps, 3)
        XCTAssertTrue([p.data, p.forward, p.backward, p.optimizer].allSatisfy { $0 >= 0 })
        XCTAssertGreaterThan(p.forward, 0); XCTAssertGreaterThan(p.backward, 0)
        let step = Cost.trainStep(o.config.shape, batch: o.batch, seq: o.seq) * Double(o.gradAccum)
        XCTAssertEqual(p.forwardFLOPs + p.backwardFLOPs, 3 * step, accuracy: step * 1e-12)
        XCTAssertEqual(p.backwardFLOPs, 2 * p.forwardFLOPs, accuracy: step * 1e-12)
        XCTAssertEqual(p.lines.count, 6)
        XCTAssertTrue(p.lines[2].hasPrefix("forward") && p.lines[2].contains("GFLOP/s"), p.lines[2])
        XCTAssertEqual(StepProfile().lines, [])
    }

    func testGPT2InitStatistics() {
        let m = GPT2(config: GPT2Config(vocabSize: 500, nPositions: 64, nEmbd: 64, nLayer: 4, nHead: 4))
        m.initialize(seed: 1)
        func std(_ p: Parameter) -> Double {
            let a = p.value.array.map(Double.init)
            let mean = a.reduce(0, +) / Double(a.count)
            return (a.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(a.count)).squareRoot()
        }
        XCTAssertEqual(std(m.wte), 0.02, accuracy: 0.001)
        XCTAssertEqual(std(m.blocks[0].fcProjW), 0.02 / 8.0.squareRoot(), accuracy: 0.0005)
        XCTAssertEqual(m.blocks[0].ln1w.value.array, Array(repeating: 1, count: 64))
        XCTAssertEqual(m.blocks[0].attnB.value.array, Array(repeating: 0, count: 192))
    }

    func testSafeTensorsHalfAndBFloat16AndBadInput() throws {
        // header for one F16 and one BF16 tensor
        let header = #"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}}"#
        var bytes: [UInt8] = []
        let h = Array(header.utf8)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: h.count >> (8 * i))) }
        bytes += h
        bytes += [0x00, 0x3C, 0x00, 0xC0] // F16 1.0, -2.0
        bytes += [0x80, 0x3F, 0x40, 0x40] // BF16 1.0, 3.0
        let t = try SafeTensors.parse(bytes, path: "x")
        XCTAssertEqual(t["a"]?.values, [1, -2])
        XCTAssertEqual(t["b"]?.values, [1, 3])
        XCTAssertThrowsError(try SafeTensors.parse(Array(bytes.prefix(20)), path: "x"))
        // a shape whose element count overflows is an error in both readers (robustness issue, item 6)
        let hostile = #"{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}"#
        var hb: [UInt8] = []
        for i in 0..<8 { hb.append(UInt8(truncatingIfNeeded: hostile.utf8.count >> (8 * i))) }
        hb += Array(hostile.utf8) + [UInt8](repeating: 0, count: 8)
        XCTAssertThrowsError(try SafeTensors.parse(hb, path: "x")) { XCTAssertTrue("\($0)".contains("overflows"), "\($0)") }
        let hostilePath = NSTemporaryDirectory() + "st-hostile-\(getpid()).safetensors"
        defer { FileSystem.remove(hostilePath) }
        try FileSystem.atomicWrite(hb, to: hostilePath)
        XCTAssertThrowsError(try SafeTensors.stream(path: hostilePath) { _, _ in nil }) {
            XCTAssertTrue("\($0)".contains("overflows"), "\($0)")
        }
        // the streaming reader gives the same values and refuses a truncated file
        let path = NSTemporaryDirectory() + "st-\(getpid()).safetensors"
        defer { FileSystem.remove(path) }
        try FileSystem.atomicWrite(bytes, to: path)
        let a = FloatBuffer(2), b = FloatBuffer(2)
        let names = try SafeTensors.stream(path: path) { name, shape in
            XCTAssertEqual(shape, [2])
            return name == "a" ? a.p : b.p
        }
        XCTAssertEqual(names, ["a", "b"])
        XCTAssertEqual(a.array, [1, -2])
        XCTAssertEqual(b.array, [1, 3])
        try FileSystem.atomicWrite(Array(bytes.dropLast(2)), to: path)
        XCTAssertThrowsError(try SafeTensors.stream(path: path) { _, _ in a.p })
        XCTAssertThrowsError(try SafeTensors.parse([1, 2, 3], path: "x"))
    }
}

extension PretrainTests {
    func testEvalLossStreamsWindows() throws {
        let root = NSTemporaryDirectory() + "evalloss-\(getpid())"
        defer { FileSystem.remove(root) }
        let path = try makeTokens(root, count: 101)
        let (_, ids) = try TokenFile.readAll(path: path)
        let model = GPT2(config: GPT2Config(vocabSize: 97, nPositions: 32, nEmbd: 32, nLayer: 1, nHead: 2))
        model.initialize(seed: 5)
        // 100 predictions: 6 windows of 16 in batches of 4, then a last window of 4
        let r = try EvalLoss.run(model: model, tokensPath: path, seq: 16, batch: 4)
        XCTAssertEqual(r.tokens, 100)
        XCTAssertEqual(r.windows, 7)
        var total = 0.0
        for w in 0..<7 {
            let len = w < 6 ? 16 : 4
            let ctx = TrainContext(model: model, batch: 1, seq: len)
            let x = ids[(w * 16)..<(w * 16 + len)].map { Int32($0) }, y = ids[(w * 16 + 1)...(w * 16 + len)].map { Int32($0) }
            total += Double(ctx.forward(tokens: x, targets: y)) * Double(len)
        }
        XCTAssertEqual(r.loss, total / 100, accuracy: 1e-5)
        XCTAssertEqual(r.perplexity, Foundation.exp(r.loss), accuracy: 1e-9)
    }
}
