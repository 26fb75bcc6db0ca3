@testable import Train
import XCTest

/// The few-row kernels of decoding steps: equal to OpenBLAS's products within float rounding, and each row's result
/// independent of the other rows of the call (a sequence decodes to the same bits in any batch).
final class FewRowsTests: XCTestCase {
    func random(_ n: Int, seed: UInt64) -> FloatBuffer {
        var rng = Xoshiro256(seed: seed)
        let b = FloatBuffer(n)
        for i in 0..<n { b.p[i] = Float(Int(rng.next() % 2001) - 1000) / 1000 }
        return b
    }

    func parameter(_ shape: [Int], seed: UInt64) -> Parameter {
        let p = Parameter("w", shape)
        let r = random(p.count, seed: seed)
        p.value.p.update(from: r.p, count: p.count)
        return p
    }

    /// The largest |a - b| relative to the largest |b|.
    func relativeError(_ a: FloatBuffer, _ b: FloatBuffer, _ n: Int) -> Float {
        var worst: Float = 0, scale: Float = 0
        for i in 0..<n { worst = max(worst, abs(a.p[i] - b.p[i])); scale = max(scale, abs(b.p[i])) }
        return worst / scale
    }

    func testLinearMatchesOpenBLASAndIsRowIndependent() {
        // 13 rows (a group of four and a remainder), 100 inputs, 75 outputs (not a multiple of 16).
        let rows = 13, inDim = 100, outDim = 75
        let x = random(rows * inDim, seed: 1), w = parameter([inDim, outDim], seed: 2), b = parameter([outDim], seed: 3)
        let ours = FloatBuffer(rows * outDim), blas = FloatBuffer(rows * outDim)
        FewRows.linear(x.p, w, b, ours.p, rows: rows, inDim: inDim, outDim: outDim)
        linear(x.p, w, b, blas.p, rows: rows, inDim: inDim, outDim: outDim)
        XCTAssertLessThan(relativeError(ours, blas, rows * outDim), 1e-6)
        for r in [0, 5, 12] {
            let one = FloatBuffer(outDim)
            FewRows.linear(x.p + r * inDim, w, b, one.p, rows: 1, inDim: inDim, outDim: outDim)
            for c in 0..<outDim {
                XCTAssertEqual(one.p[c].bitPattern, ours.p[r * outDim + c].bitPattern, "row \(r) column \(c)")
            }
        }
    }

    func testHeadMatchesOpenBLASAndIsRowIndependent() {
        let rows = 7, width = 44, vocab = 1_003
        let x = random(rows * width, seed: 4), wte = random(vocab * width, seed: 5)
        let ours = FloatBuffer(rows * vocab), blas = FloatBuffer(rows * vocab)
        FewRows.head(x.p, wte.p, ours.p, rows: rows, width: width, vocab: vocab)
        gemm(false, true, rows, vocab, width, 1, x.p, width, wte.p, width, 0, blas.p, vocab)
        XCTAssertLessThan(relativeError(ours, blas, rows * vocab), 1e-6)
        let one = FloatBuffer(vocab)
        FewRows.head(x.p + 3 * width, wte.p, one.p, rows: 1, width: width, vocab: vocab)
        for v in 0..<vocab { XCTAssertEqual(one.p[v].bitPattern, ours.p[3 * vocab + v].bitPattern, "token \(v)") }
    }

    /// The packed strips of batched decoding: the linear layers give the unpacked kernel's bits (outputs not a
    /// multiple of 16 included), the LM head OpenBLAS's product within rounding, each row independent of the others.
    func testPackedWeightsGiveTheSameProducts() {
        let c = GPT2Config(vocabSize: 1_003, nPositions: 16, nEmbd: 40, nLayer: 1, nHead: 2)
        let model = GPT2(config: c)
        model.initialize(seed: 3)
        let packed = FewRows.Packed(model)
        let rows = 9, E = c.nEmbd, V = c.vocabSize
        let x = random(rows * c.inner, seed: 6)
        let blk = model.blocks[0]
        for (w, b, inDim, outDim) in [(blk.attnW, blk.attnB, E, 3 * E), (blk.fcProjW, blk.fcProjB, c.inner, E)] {
            let plain = FloatBuffer(rows * outDim), fromPacked = FloatBuffer(rows * outDim)
            FewRows.linear(x.p, w, b, plain.p, rows: rows, inDim: inDim, outDim: outDim)
            FewRows.linear(x.p, w, b, fromPacked.p, rows: rows, inDim: inDim, outDim: outDim,
                           packed: packed.linear[ObjectIdentifier(w)])
            for i in 0..<rows * outDim { XCTAssertEqual(plain.p[i].bitPattern, fromPacked.p[i].bitPattern, "\(w.name) \(i)") }
        }
        let ours = FloatBuffer(rows * V), blas = FloatBuffer(rows * V), one = FloatBuffer(V)
        FewRows.head(x.p, model.wte.value.p, ours.p, rows: rows, width: E, vocab: V, packed: packed.head)
        gemm(false, true, rows, V, E, 1, x.p, E, model.wte.value.p, E, 0, blas.p, V)
        XCTAssertLessThan(relativeError(ours, blas, rows * V), 1e-6)
        FewRows.head(x.p + 5 * E, model.wte.value.p, one.p, rows: 1, width: E, vocab: V, packed: packed.head)
        for v in 0..<V { XCTAssertEqual(one.p[v].bitPattern, ours.p[5 * V + v].bitPattern, "token \(v)") }
    }
}

/// The LM head on the loss's rows only (`headRows`, transformers' logits_to_keep).
final class HeadRowsTests: XCTestCase {
    func testTargetRunsAreTheRowsWithATarget() {
        XCTAssertEqual(TrainContext.targetRuns([-100, 1, 2, -100, 3, -100, -100, 4]), [1..<3, 4..<5, 7..<8])
        XCTAssertEqual(TrainContext.targetRuns([-100, -100]), [])
        XCTAssertEqual(TrainContext.targetRuns([5, 6]), [0..<2])
    }

    func testLossAndGradientsEqualTheFullHeadsOnTheTargetRows() {
        let model = GPT2(config: .tiny(vocabSize: 97))
        var rng = Xoshiro256(seed: 9)
        for p in model.parameters { for i in 0..<p.count { p.value.p[i] = Float(Int(rng.next() % 2001) - 1000) / 20_000 } }
        let tokens = (0..<2 * 16).map { _ in Int32(rng.next() % 97) }
        var targets = [Int32](repeating: -100, count: 32)
        for r in 5..<12 { targets[r] = tokens[r + 1] }
        for r in 20..<31 { targets[r] = tokens[r + 1] }
        func run(_ head: [Range<Int>]?) -> (Float, [Float]) {
            for p in model.parameters { p.grad.zero() }
            let ctx = TrainContext(model: model, batch: 2, seq: 16)
            let loss = ctx.forward(tokens: tokens, targets: targets, headRows: head)
            ctx.backward()
            return (loss, model.parameters.flatMap { Array(UnsafeBufferPointer(start: $0.grad.p, count: $0.count)) })
        }
        let (full, gFull) = run(nil)
        let (kept, gKept) = run(TrainContext.targetRuns(targets))
        XCTAssertEqual(kept, full, accuracy: 1e-6 * abs(full))
        let scale = gFull.map(abs).max()!
        let worst = zip(gFull, gKept).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst / scale, 1e-6)
    }
}
