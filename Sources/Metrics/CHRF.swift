import Core

/// chrF as sacrebleu 2.6.0's default `CHRF()` computes it: character n-grams of orders 1…6 over the text with
/// all (Python) whitespace removed, no word n-grams, β = 2, the sacrebleu ≥ 2.0 "effective order" averaging;
/// against several references, each segment takes the statistics of its best-scoring reference.
public struct CHRF: Sendable {
    /// Highest character n-gram order.
    public static let charOrder = 6
    /// Weight of recall against precision (β).
    public static let beta = 2

    /// The default chrF (the only one here).
    public init() {}

    /// Per order, [hypothesis n-grams, reference n-grams, matches] (18 numbers), against the best reference.
    public func statistics(prediction: String, references: [String]) -> [Int] {
        var alphabet = Alphabet()
        let hyp = alphabet.ranks(Self.characters(prediction))
        let refs = references.map { alphabet.ranks(Self.characters($0)) }
        let layout: NGramLayout = alphabet.count < 1023 ? .denseCharacters : .characters
        let hypProfile = hyp.withUnsafeBufferPointer { NGramProfile($0, layout: layout) }
        var best: [Int] = []
        var bestF = -1.0
        for r in refs {
            let profile = r.withUnsafeBufferPointer { NGramProfile($0, layout: layout) }
            var stats: [Int] = []
            stats.reserveCapacity(3 * Self.charOrder)
            for n in 1...Self.charOrder {
                let refTotal = profile.total(order: n)
                let matches = refTotal == 0 ? 0 : hypProfile.clippedMatches(profile, order: n)
                // sacrebleu counts no hypothesis n-grams of an order the reference has none of.
                stats += [refTotal > 0 ? hypProfile.total(order: n) : 0, refTotal, matches]
            }
            let f = Self.fScore(stats)
            if f > bestF { bestF = f; best = stats }
        }
        return best
    }

    /// The code points of `text` without whitespace (`"".join(text.split())`).
    static func characters(_ text: String) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(text.utf8.count)
        for u in text.unicodeScalars where !PythonText.isSpace(u.value) { out.append(u.value) }
        return out
    }

    /// chrF in percent from (summed) statistics: precision and recall averaged over the orders where both
    /// sides have n-grams, then F-β — in sacrebleu's order of operations, so the Double is the same.
    public static func fScore(_ stats: [Int]) -> Double {
        let eps = 1e-16
        let factor = Double(beta * beta)
        var avgPrecision = 0.0, avgRecall = 0.0
        var effectiveOrder = 0
        for i in 0..<charOrder {
            let nHyp = stats[3 * i], nRef = stats[3 * i + 1], nMatch = stats[3 * i + 2]
            let precision = nHyp > 0 ? Double(nMatch) / Double(nHyp) : eps
            let recall = nRef > 0 ? Double(nMatch) / Double(nRef) : eps
            if nHyp > 0 && nRef > 0 {
                avgPrecision += precision
                avgRecall += recall
                effectiveOrder += 1
            }
        }
        if effectiveOrder == 0 {
            avgPrecision = 0
            avgRecall = 0
        } else {
            avgPrecision /= Double(effectiveOrder)
            avgRecall /= Double(effectiveOrder)
        }
        guard avgPrecision + avgRecall != 0 else { return 0 }
        var score = (1 + factor) * avgPrecision * avgRecall
        score /= factor * avgPrecision + avgRecall
        return 100 * score
    }

    /// Corpus chrF: the statistics summed over segments.
    public func corpusScore(predictions: [String], references: [[String]]) -> CHRFScore {
        precondition(predictions.count == references.count)
        let perItem = Parallel.map(predictions.indices) {
            statistics(prediction: predictions[$0], references: references[$0])
        }
        var total = [Int](repeating: 0, count: 3 * Self.charOrder)
        for s in perItem { for k in 0..<total.count { total[k] += s[k] } }
        return CHRFScore(score: Self.fScore(total), statistics: total,
                         signature: Self.signature(referenceCounts: references.map(\.count)))
    }

    /// Sentence chrF (`sacrebleu.sentence_chrf`).
    public func sentenceScore(prediction: String, references: [String]) -> CHRFScore {
        let stats = statistics(prediction: prediction, references: references)
        return CHRFScore(score: Self.fScore(stats), statistics: stats,
                         signature: Self.signature(referenceCounts: [references.count]))
    }

    /// sacrebleu's chrF signature, e.g. `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0`.
    public static func signature(referenceCounts: [Int]) -> String {
        let distinct = Set(referenceCounts)
        let nrefs = distinct.count == 1 ? String(distinct.first!) : "var"
        return "nrefs:\(nrefs)|case:mixed|eff:yes|nc:\(charOrder)|nw:0|space:no|version:\(BLEU.sacrebleuVersion)"
    }
}

/// A chrF score (`chrF2` in sacrebleu's output) with its summed statistics and signature.
public struct CHRFScore: Codable, Equatable, Sendable {
    /// chrF in percent.
    public var score: Double
    /// The summed n-gram statistics.
    public var statistics: [Int]
    /// sacrebleu's reproducibility signature.
    public var signature: String
}
