import Foundation
import XCTest
@testable import Train

/// `Generator.pick`: the kept set follows transformers' TopK/TopP warpers and the draws follow the filtered softmax.
final class SamplingTests: XCTestCase {
    /// The filtered distribution by the definition (everything sorted): temperature, top-k keeping ties with the
    /// k-th, top-p keeping a token while the mass before it (descending) is below top_p, at least one.
    func reference(_ logits: [Float], _ o: SamplingOptions) -> [Int: Double] {
        let scaled = logits.map { $0 / o.temperature }
        let order = scaled.indices.sorted { scaled[$0] > scaled[$1] || (scaled[$0] == scaled[$1] && $0 < $1) }
        var keep = order.count
        if o.topK > 0 && o.topK < order.count {
            let kth = scaled[order[o.topK - 1]]
            keep = order.filter { scaled[$0] >= kth }.count
        }
        let mx = scaled[order[0]]
        var p = order.prefix(keep).map { exp(Double(scaled[$0] - mx)) }
        let total = p.reduce(0, +)
        if o.topP < 1 {
            var before = 0.0, cut = keep
            for r in 0..<keep { if before / total >= Double(o.topP) { cut = r; break }; before += p[r] }
            p = Array(p.prefix(max(1, cut)))
        }
        let s = p.reduce(0, +)
        var out: [Int: Double] = [:]
        for (r, v) in p.enumerated() { out[order[r]] = v / s }
        return out
    }

    func testDrawsFollowTheFilteredSoftmax() {
        var gen = Xoshiro256(seed: 7)
        let logits: [Float] = (0..<16).map { _ in Float(gen.uniform() * 6 - 3) } + [1.5, 1.5, 1.5]  // ties
        let cases: [(Int, Float, Float)] = [(0, 1, 1), (0, 0.7, 1), (5, 1, 0.8), (4, 1, 1), (17, 0.9, 1), (0, 1, 0.5),
                                            (3, 2, 0.95), (1, 1, 1)]
        for (k, t, p) in cases {
            var o = SamplingOptions()
            o.topK = k; o.temperature = t; o.topP = p
            let expected = reference(logits, o)
            var rng = Xoshiro256(seed: UInt64(k * 100) + 1)
            let n = 40_000
            var counts = [Int](repeating: 0, count: logits.count)
            for _ in 0..<n {
                var l = logits
                counts[Generator.pick(&l, o, &rng)] += 1
            }
            for (i, c) in counts.enumerated() where expected[i] == nil {
                XCTAssertEqual(c, 0, "top-k \(k) top-p \(p): token \(i) is outside the kept set")
            }
            // Pearson chi-square over the kept set; the 0.999 quantile for ≤ 18 degrees of freedom is below 43.
            var chi = 0.0
            for (i, q) in expected { let e = q * Double(n); chi += (Double(counts[i]) - e) * (Double(counts[i]) - e) / e }
            XCTAssertLessThan(chi, 43, "top-k \(k) temperature \(t) top-p \(p): chi-square \(chi) over \(expected.count) tokens")
        }
    }

    func testKthLargestBySelection() {
        var gen = Xoshiro256(seed: 3)
        for n in [1, 2, 5, 50, 1000] {
            let v = (0..<n).map { _ in Float(Int(gen.uniform() * 20)) }  // many ties
            let sorted = v.sorted(by: >)
            for k in Set([1, n, (n + 1) / 2]) { XCTAssertEqual(Generator.kthLargest(v, k), sorted[k - 1], "n \(n) k \(k)") }
        }
    }
}
