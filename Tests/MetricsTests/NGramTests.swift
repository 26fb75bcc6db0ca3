import XCTest
@testable import Metrics

/// The sorted-profile n-gram counting against plain dictionary counting, on texts whose alphabets are too large
/// for the one-word key layouts (the fixtures' texts all fit them), so both layouts are exercised.
final class NGramTests: XCTestCase {
    /// Counts of every n-gram of order n.
    func counts(_ s: [UInt32], _ n: Int) -> [[UInt32]: Int] {
        var c: [[UInt32]: Int] = [:]
        if s.count >= n { for i in 0...(s.count - n) { c[Array(s[i..<(i + n)]), default: 0] += 1 } }
        return c
    }

    func clipped(_ h: [[UInt32]: Int], _ r: [[UInt32]: Int]) -> Int {
        h.reduce(0) { $0 + min($1.value, r[$1.key] ?? 0) }
    }

    /// A pseudo-random text over `alphabet` distinct code points (CJK from U+4E00), with repeats.
    func text(_ length: Int, alphabet: Int, seed: UInt64) -> String {
        var x = seed, out = String.UnicodeScalarView()
        for _ in 0..<length {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            out.append(Unicode.Scalar(0x4E00 + UInt32((x >> 33) % UInt64(alphabet)))!)
        }
        return String(out)
    }

    func testCHRFStatisticsEqualPlainCounting() {
        for (alphabet, seed) in [(30, 1), (2000, 2), (5000, 3)] as [(Int, UInt64)] {
            let hyp = text(3000, alphabet: alphabet, seed: seed), ref = text(2500, alphabet: alphabet, seed: seed + 10)
            let h = hyp.unicodeScalars.map(\.value), r = ref.unicodeScalars.map(\.value)
            var want: [Int] = []
            for n in 1...6 { want += [h.count - n + 1, r.count - n + 1, clipped(counts(h, n), counts(r, n))] }
            XCTAssertEqual(CHRF().statistics(prediction: hyp, references: [ref]), want, "alphabet \(alphabet)")
        }
    }

    func testBLEUStatisticsEqualPlainCounting() {
        // Over 65,535 distinct tokens in the large case: past the 16-bit layout. The reference is the hypothesis
        // with every seventh word replaced, so n-grams of every order match.
        for (vocabulary, length, seed) in [(50, 400, 4), (200_000, 90_000, 5)] as [(Int, Int, UInt64)] {
            var x = seed
            func word() -> String {
                x = x &* 6364136223846793005 &+ 1442695040888963407
                return "w\((x >> 33) % UInt64(vocabulary))"
            }
            let h = (0..<length).map { _ in word() }
            let r = h.enumerated().map { $0.offset % 7 == 3 ? word() : $0.element }
            var ids: [String: UInt32] = [:]
            let hi = h.map { w in ids[w] ?? { ids[w] = UInt32(ids.count); return UInt32(ids.count - 1) }() }
            let ri = r.map { w in ids[w] ?? { ids[w] = UInt32(ids.count); return UInt32(ids.count - 1) }() }
            if vocabulary > 65_535 { XCTAssertGreaterThan(ids.count, 65_535) }
            let got = BLEU(tokenizer: .none).statistics(prediction: h.joined(separator: " "),
                                                        references: [r.joined(separator: " ")])
            XCTAssertEqual(got.sysLen, h.count)
            XCTAssertEqual(got.refLen, r.count)
            for n in 1...4 {
                XCTAssertEqual(got.counts[n - 1], clipped(counts(hi, n), counts(ri, n)), "order \(n)")
                XCTAssertEqual(got.totals[n - 1], h.count - n + 1)
            }
        }
    }
}
