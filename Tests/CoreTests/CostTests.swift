import Core
import XCTest

/// The FLOP and byte accounting the benchmarks' bounds come from, checked against matrix products enumerated one by
/// one on a small shape and against the published per-token count of GPT-2 124M.
final class CostTests: XCTestCase {
    /// 2 layers, width 8, MLP 32, vocabulary 10; 3 sequences of 5 tokens.
    let s = TransformerShape(layers: 2, width: 8, inner: 32, vocab: 10)

    /// Every product of the forward pass, listed as (m, n, k).
    func products(batch: Int, seq: Int) -> [(Int, Int, Int)] {
        let tokens = batch * seq, e = s.width
        var list: [(Int, Int, Int)] = []
        for _ in 0..<s.layers {
            list.append((tokens, 3 * e, e))          // c_attn
            for _ in 0..<batch {
                list.append((seq, seq, e))           // Q·Kᵀ, all heads
                list.append((seq, e, seq))           // P·V, all heads
            }
            list.append((tokens, e, e))              // attention c_proj
            list.append((tokens, s.inner, e))        // c_fc
            list.append((tokens, e, s.inner))        // mlp c_proj
        }
        list.append((tokens, s.vocab, e))            // LM head
        return list
    }

    func testForwardAndTrainingFLOPsEqualTheProductsOneByOne() {
        let enumerated = products(batch: 3, seq: 5).reduce(0.0) { $0 + 2 * Double($1.0 * $1.1 * $1.2) }
        XCTAssertEqual(enumerated, 53_280)
        XCTAssertEqual(Cost.forward(s, tokens: 15, context: 5), enumerated)
        XCTAssertEqual(Cost.trainStep(s, batch: 3, seq: 5), 3 * enumerated)
        // Only the last position of each sequence through the head (a prefill): 12 head rows fewer.
        XCTAssertEqual(Cost.forward(s, tokens: 15, context: 5, headTokens: 3), enumerated - 12 * 2 * 8 * 10)
    }

    func testGPT2PerTokenTrainingFLOPsArePaLMsCount() {
        // 6·N + 12·L·T·E per token, N = the 123,532,032 weights that multiply every token (blocks and tied head).
        let gpt2 = TransformerShape(layers: 12, width: 768, inner: 3072, vocab: 50257)
        XCTAssertEqual(gpt2.blockMatrixParameters + gpt2.headParameters, 123_532_032)
        XCTAssertEqual(Cost.trainStep(gpt2, batch: 1, seq: 1024) / 1024, 6 * 123_532_032 + 12 * 12 * 1024 * 768)
    }

    func testDecodingCountsTheCacheAndEveryWeightOnce() {
        // One new token per sequence at context 7: the products of one token plus attention over 7 positions.
        XCTAssertEqual(Cost.decodeStep(s, batch: 2, context: 7),
                       2 * (2 * Double(s.blockMatrixParameters + s.headParameters) + 4 * 2 * 7 * 8))
        XCTAssertEqual(Cost.decodeStepBytes(s, batch: 2, context: 7),
                       4 * Double(2 * (4 * 64 + 2 * 8 * 32) + 80) + 4 * Double(2 * 2 * 2 * 7 * 8))
        // Generating 3 tokens after a 4-token prompt: the prefill (head on the last position) and 2 decode steps.
        let g = Cost.generate(s, batch: 2, prompt: 4, newTokens: 3)
        XCTAssertEqual(g.flops, Cost.forward(s, tokens: 8, context: 4, headTokens: 2)
                       + Cost.decodeStep(s, batch: 2, context: 5) + Cost.decodeStep(s, batch: 2, context: 6))
    }

    func testLoRAStepAndEncoder() {
        // Frozen weights: forward + input gradients; rank-2 adapters on 2 matrices per block: 6 FLOPs per weight.
        let lora = Cost.loraStep(s, batch: 1, seq: 5, rank: 2, adaptedPerLayer: 2)
        XCTAssertEqual(lora, 2 * Cost.forward(s, tokens: 5, context: 5) + 6 * 5 * Double(2 * 2 * 2 * 2 * 8))
        let encoder = TransformerShape(layers: 2, width: 8, inner: 32, vocab: 0)
        XCTAssertEqual(Cost.encode(encoder, lengths: [5, 3]),
                       Cost.forward(encoder, tokens: 5, context: 5) + Cost.forward(encoder, tokens: 3, context: 3))
    }

    func testRooflineTakesTheLargerLimit() {
        let r = Roofline(flopsPerSecond: 100e9, bytesPerSecond: 10e9)
        XCTAssertEqual(r.bound(flops: 1e9, bytes: 1e9), 0.1)       // memory: 1 GB at 10 GB/s
        XCTAssertEqual(r.limit(flops: 1e9, bytes: 1e9), "memory")
        XCTAssertEqual(r.bound(flops: 50e9, bytes: 1e9), 0.5)      // compute
        XCTAssertEqual(r.fraction(flops: 50e9, bytes: 1e9, seconds: 1), 0.5)
    }
}

extension CostTests {
    func testGRPOStepIsGenerationPolicyAndReference() {
        let g = Cost.generate(s, batch: 4, prompt: 6, newTokens: 3)
        let step = Cost.grpoStep(s, completions: 4, prompt: 6, completion: 3, rank: 2, adaptedPerLayer: 2,
                                 reference: true)
        let policy = Cost.loraStep(s, batch: 4, seq: 9, rank: 2, adaptedPerLayer: 2, headTokens: 12)
        XCTAssertEqual(step.flops, g.flops + policy + Cost.forward(s, tokens: 36, context: 9, headTokens: 12))
        XCTAssertEqual(step.bytes, g.bytes + Cost.loraStepBytes(s) + 4 * Double(1536 + 80))
    }
}
