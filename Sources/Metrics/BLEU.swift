import Foundation

/// The sufficient statistics of BLEU for one segment or a whole corpus (sums): system and reference lengths,
/// and per n-gram order (1…4) the clipped matches (`counts`) and the system's n-grams (`totals`).
public struct BLEUStatistics: Equatable, Sendable {
    /// Tokens in the system output.
    public var sysLen = 0
    /// Tokens in the chosen references.
    public var refLen = 0
    /// Clipped n-gram matches per order.
    public var counts = [0, 0, 0, 0]
    /// System n-grams per order.
    public var totals = [0, 0, 0, 0]

    /// Empty statistics (zero everywhere).
    public init() {}

    /// Adds another segment's statistics.
    public mutating func add(_ other: BLEUStatistics) {
        sysLen += other.sysLen
        refLen += other.refLen
        for n in 0..<4 { counts[n] += other.counts[n]; totals[n] += other.totals[n] }
    }
}

/// A BLEU score with what sacrebleu's `BLEUScore` reports: precisions in percent, BP, lengths, and the
/// reproducibility signature.
public struct BLEUScore: Codable, Equatable, Sendable {
    /// BLEU in percent.
    public var score: Double
    /// Modified n-gram precisions per order, in percent.
    public var precisions: [Double]
    /// Clipped n-gram matches per order.
    public var counts: [Int]
    /// System n-grams per order.
    public var totals: [Int]
    /// Brevity penalty.
    public var bp: Double
    /// Tokens in the system output.
    public var sysLen: Int
    /// Tokens in the chosen references.
    public var refLen: Int
    /// sacrebleu's reproducibility signature.
    public var signature: String

    enum CodingKeys: String, CodingKey {
        case score, precisions, counts, totals, bp, signature
        case sysLen = "sys_len", refLen = "ref_len"
    }
}

/// BLEU as sacrebleu 2.6.0 computes it (`sacrebleu.corpus_bleu` / `BLEU()` defaults: mixed case, `exp` smoothing,
/// 4-grams; several references per segment, each n-gram clipped by its highest count in any one reference, the
/// brevity penalty against the reference length closest to the hypothesis length, the shorter one on a tie).
/// `sentenceScore` is `sacrebleu.sentence_bleu`: the same with `effective_order=True`.
public struct BLEU: Sendable {
    /// The sacrebleu version whose numbers and signature this reproduces.
    public static let sacrebleuVersion = "2.6.0"
    /// Highest n-gram order.
    public static let maxOrder = 4

    /// The tokenizer applied to hypotheses and references.
    public let tokenizer: BLEUTokenizer

    /// BLEU with one of sacrebleu's tokenizers (default 13a).
    public init(tokenizer: BLEUTokenizer = .thirteenA) { self.tokenizer = tokenizer }

    /// The statistics of one hypothesis against its references (at least one).
    public func statistics(prediction: String, references: [String]) -> BLEUStatistics {
        let texts = ([prediction] + references).map { tokenizer.tokens($0.unicodeScalars.map(\.value)) }
        var interner = TokenInterner(capacity: texts.reduce(0) { $0 + $1.count })
        let ids = texts.map { $0.map { interner.id($0) } }
        let hyp = ids[0]
        let refs = Array(ids[1...])
        let layout: NGramLayout = interner.count < 65535 ? .denseTokens : .tokens
        let hypProfile = hyp.withUnsafeBufferPointer { NGramProfile($0, layout: layout) }
        let refProfiles = refs.map { r in r.withUnsafeBufferPointer { NGramProfile($0, layout: layout) } }
        var stats = BLEUStatistics()
        stats.sysLen = hyp.count
        stats.refLen = Self.closestReferenceLength(hyp.count, refs.map(\.count))
        for n in 1...Self.maxOrder {
            let runs = NGramRuns(hypProfile, order: n)
            var best = [Int32](repeating: 0, count: runs.keys.count)
            for profile in refProfiles { runs.maximise(&best, countsIn: NGramRuns(profile, order: n)) }
            var correct = 0
            for k in 0..<best.count { correct += Int(min(runs.counts[k], best[k])) }
            stats.counts[n - 1] = correct
            stats.totals[n - 1] = hypProfile.total(order: n)
        }
        return stats
    }

    /// The reference length closest to `hypLength`; of two equally close, the shorter.
    public static func closestReferenceLength(_ hypLength: Int, _ refLengths: [Int]) -> Int {
        var bestDiff = -1, best = -1
        for len in refLengths {
            let diff = abs(hypLength - len)
            if bestDiff == -1 || diff < bestDiff {
                bestDiff = diff
                best = len
            } else if diff == bestDiff && len < best {
                best = len
            }
        }
        return best
    }

    /// Corpus BLEU (`sacrebleu.corpus_bleu`): `references[i]` are the references of `predictions[i]`.
    public func corpusScore(predictions: [String], references: [[String]]) -> BLEUScore {
        precondition(predictions.count == references.count)
        let perItem = Parallel.map(predictions.indices) {
            statistics(prediction: predictions[$0], references: references[$0])
        }
        var total = BLEUStatistics()
        for s in perItem { total.add(s) }
        return Self.score(total, effectiveOrder: false,
                          signature: signature(referenceCounts: references.map(\.count), effectiveOrder: false))
    }

    /// Sentence BLEU (`sacrebleu.sentence_bleu`: effective order on).
    public func sentenceScore(prediction: String, references: [String]) -> BLEUScore {
        Self.score(statistics(prediction: prediction, references: references), effectiveOrder: true,
                   signature: signature(referenceCounts: [references.count], effectiveOrder: true))
    }

    /// sacrebleu's signature, e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`; `nrefs:var`
    /// when the segments have different numbers of references.
    public func signature(referenceCounts: [Int], effectiveOrder: Bool) -> String {
        let distinct = Set(referenceCounts)
        let nrefs = distinct.count == 1 ? String(distinct.first!) : "var"
        return "nrefs:\(nrefs)|case:mixed|eff:\(effectiveOrder ? "yes" : "no")|tok:\(tokenizer.rawValue)"
            + "|smooth:exp|version:\(Self.sacrebleuVersion)"
    }

    /// BLEU from statistics with `exp` smoothing (sacrebleu's `compute_bleu`): an order without matches gets
    /// precision 100 / (2^k · total) for its k-th occurrence; with `effectiveOrder`, orders beyond the last one
    /// with any n-gram are left out of the geometric mean. The arithmetic is done in sacrebleu's order, so the
    /// Double is the same.
    public static func score(_ s: BLEUStatistics, effectiveOrder: Bool, signature: String) -> BLEUScore {
        var bp = 1.0
        if s.sysLen < s.refLen {
            bp = s.sysLen > 0 ? exp(1 - Double(s.refLen) / Double(s.sysLen)) : 0.0
        }
        var precisions = [Double](repeating: 0, count: maxOrder)
        func result(_ score: Double) -> BLEUScore {
            BLEUScore(score: score, precisions: precisions, counts: s.counts, totals: s.totals, bp: bp,
                      sysLen: s.sysLen, refLen: s.refLen, signature: signature)
        }
        if s.counts.allSatisfy({ $0 == 0 }) { return result(0) }
        var smooth = 1.0
        var order = maxOrder
        for n in 1...maxOrder {
            let total = s.totals[n - 1], correct = s.counts[n - 1]
            if total == 0 { break }
            if effectiveOrder { order = n }
            if correct == 0 {
                smooth *= 2
                precisions[n - 1] = 100.0 / (smooth * Double(total))
            } else {
                precisions[n - 1] = 100.0 * Double(correct) / Double(total)
            }
        }
        var logSum = 0.0
        for p in precisions[0..<order] { logSum += p == 0 ? -9_999_999_999 : log(p) }
        return result(bp * exp(logSum / Double(order)))
    }
}

/// Numbers the distinct tokens of one segment and its references (an open-addressing table keyed by FNV-1a;
/// equal means the same code points, as Python compares `str` — no normalisation).
struct TokenInterner {
    private var slots: [Int32]
    private var tokens: [ArraySlice<UInt32>] = []
    private var hashes: [UInt64] = []
    private let mask: Int

    init(capacity: Int) {
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        tokens.reserveCapacity(capacity)
        hashes.reserveCapacity(capacity)
    }

    /// The number of distinct tokens so far.
    var count: Int { tokens.count }

    /// The id of `token` (0, 1, 2… in order of first appearance).
    mutating func id(_ token: ArraySlice<UInt32>) -> UInt32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in token { h = (h ^ UInt64(v)) &* 0x100_0000_01b3 }
        var i = Int(truncatingIfNeeded: h ^ (h >> 29)) & mask
        while true {
            let s = slots[i]
            if s < 0 {
                slots[i] = Int32(tokens.count)
                tokens.append(token)
                hashes.append(h)
                return UInt32(tokens.count - 1)
            }
            if hashes[Int(s)] == h && tokens[Int(s)] == token { return UInt32(s) }
            i = (i + 1) & mask
        }
    }
}
