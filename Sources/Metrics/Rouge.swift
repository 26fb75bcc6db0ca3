import Foundation

/// The Porter stems of the words seen so far (a corpus has far fewer distinct words than tokens), shared by the
/// threads of one scorer.
final class StemCache: @unchecked Sendable {
    private let stemmer = PorterStemmer()
    private var stems: [String: String] = [:]
    private let lock = NSLock()

    func stem(_ word: String) -> String {
        lock.lock()
        let known = stems[word]
        lock.unlock()
        if let known { return known }
        let s = stemmer.stem(word)
        lock.lock()
        stems[word] = s
        lock.unlock()
        return s
    }
}

/// Precision, recall and F1 of one ROUGE type.
public struct RougeScore: Codable, Equatable, Sendable {
    /// Precision.
    public var precision: Double
    /// Recall.
    public var recall: Double
    /// F1.
    public var fmeasure: Double

    /// All three 0.
    public static let zero = RougeScore(precision: 0, recall: 0, fmeasure: 0)

    /// rouge-score's `scoring.fmeasure`: 2PR / (P + R), 0 when both are 0.
    init(precision: Double, recall: Double) {
        self.precision = precision
        self.recall = recall
        fmeasure = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }

    init(precision: Double, recall: Double, fmeasure: Double) {
        self.precision = precision
        self.recall = recall
        self.fmeasure = fmeasure
    }
}

/// The ROUGE types rouge-score computes here.
public enum RougeType: String, CaseIterable, Codable, Sendable {
    case rouge1, rouge2, rougeL, rougeLsum
}

/// Google's rouge-score 0.1.2 `RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer:)` with its
/// default tokenizer: Python-lowercased text, every run of characters other than [a-z0-9] a separator, and with
/// the stemmer nltk's Porter stemmer on tokens longer than 3 characters. rougeLsum splits the texts on "\n" and
/// scores the union LCS of each reference sentence against all prediction sentences, as rouge-score does.
public struct RougeScorer: Sendable {
    /// Whether tokens are Porter-stemmed.
    public let useStemmer: Bool
    private let stems = StemCache()

    /// A scorer for the four types, with or without the Porter stemmer.
    public init(useStemmer: Bool = false) { self.useStemmer = useStemmer }

    /// rouge-score's tokens of `text`.
    public func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var current: [UInt8] = []
        var lowered: [UInt32] = []
        func flush() {
            guard !current.isEmpty else { return }
            let token = String(decoding: current, as: UTF8.self)
            tokens.append(useStemmer && current.count > 3 ? stems.stem(token) : token)
            current.removeAll(keepingCapacity: true)
        }
        for u in text.unicodeScalars {
            let v = u.value
            if v < 0x80 {
                if (v >= 0x61 && v <= 0x7A) || (v >= 0x30 && v <= 0x39) { current.append(UInt8(v)) }
                else if v >= 0x41 && v <= 0x5A { current.append(UInt8(v + 0x20)) }
                else { flush() }
                continue
            }
            // Only what lowercases into [a-z0-9] survives (U+0130 → "i̇", U+212A KELVIN SIGN → "k"). Capital
            // sigma's context-dependent lowercase is never ASCII, so the context is not needed here.
            lowered.removeAll(keepingCapacity: true)
            PythonUnicode.lowercaseMapping(v, into: &lowered)
            for w in lowered {
                if (w >= 0x61 && w <= 0x7A) || (w >= 0x30 && w <= 0x39) { current.append(UInt8(w)) } else { flush() }
            }
        }
        flush()
        return tokens
    }

    /// `RougeScorer.score_multi(targets, prediction)`: per type, the score against the reference with the best F1
    /// (the first of equals).
    public func score(prediction: String, references: [String]) -> [RougeType: RougeScore] {
        precondition(!references.isEmpty)
        var vocabulary: [String: Int32] = [:]
        func ids(_ tokens: [String]) -> [Int32] {
            tokens.map { t in
                if let id = vocabulary[t] { return id }
                let id = Int32(vocabulary.count)
                vocabulary[t] = id
                return id
            }
        }
        let pred = ids(tokenize(prediction))
        let predSentences = Self.sentences(prediction).map { ids(tokenize($0)) }
        var best: [RougeType: RougeScore] = [:]
        for ref in references {
            let target = ids(tokenize(ref))
            let targetSentences = Self.sentences(ref).map { ids(tokenize($0)) }
            let scores: [RougeType: RougeScore] = [
                .rouge1: Self.ngramScore(target, pred, n: 1),
                .rouge2: Self.ngramScore(target, pred, n: 2),
                .rougeL: Self.lcsScore(target, pred),
                .rougeLsum: Self.summaryLCSScore(targetSentences, predSentences),
            ]
            for (type, s) in scores where best[type] == nil || s.fmeasure > best[type]!.fmeasure { best[type] = s }
        }
        return best
    }

    /// `text.split("\n")` without the empty strings (on code points: "\r\n" is one Character in Swift).
    static func sentences(_ text: String) -> [String] {
        text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: true)
            .map { String(String.UnicodeScalarView($0)) }
    }

    /// ROUGE-N: clipped n-gram overlap over the prediction's (precision) and the target's (recall) n-gram counts.
    static func ngramScore(_ target: [Int32], _ prediction: [Int32], n: Int) -> RougeScore {
        func counts(_ t: [Int32]) -> [UInt64: Int] {
            var c: [UInt64: Int] = [:]
            if t.count >= n {
                for i in 0...(t.count - n) {
                    var key: UInt64 = 0
                    for k in 0..<n { key = key << 32 | UInt64(UInt32(bitPattern: t[i + k])) }
                    c[key, default: 0] += 1
                }
            }
            return c
        }
        let tc = counts(target), pc = counts(prediction)
        var overlap = 0
        for (g, c) in tc { overlap += min(c, pc[g] ?? 0) }
        let targetCount = max(0, target.count - n + 1), predCount = max(0, prediction.count - n + 1)
        return RougeScore(precision: Double(overlap) / Double(max(predCount, 1)),
                          recall: Double(overlap) / Double(max(targetCount, 1)))
    }

    /// ROUGE-L: the longest common subsequence over the prediction's and the target's lengths.
    static func lcsScore(_ target: [Int32], _ prediction: [Int32]) -> RougeScore {
        guard !target.isEmpty, !prediction.isEmpty else { return .zero }
        var previous = [Int32](repeating: 0, count: prediction.count + 1)
        var row = previous
        for t in target {
            for j in 1...prediction.count {
                row[j] = t == prediction[j - 1] ? previous[j - 1] + 1 : max(previous[j], row[j - 1])
            }
            swap(&previous, &row)
        }
        let lcs = Double(previous[prediction.count])
        return RougeScore(precision: lcs / Double(prediction.count), recall: lcs / Double(target.count))
    }

    /// The full LCS table of `a` (rows) and `b` (columns), (a.count + 1) × (b.count + 1), row-major.
    static func lcsTable(_ a: [Int32], _ b: [Int32]) -> [Int32] {
        let cols = b.count + 1
        var t = [Int32](repeating: 0, count: (a.count + 1) * cols)
        for i in stride(from: 1, through: a.count, by: 1) {
            for j in stride(from: 1, through: b.count, by: 1) {
                t[i * cols + j] = a[i - 1] == b[j - 1] ? t[(i - 1) * cols + j - 1] + 1
                                                       : max(t[(i - 1) * cols + j], t[i * cols + j - 1])
            }
        }
        return t
    }

    /// The indices into `a` of one LCS of `a` and `b`, read back from the table as rouge-score does (on a tie,
    /// step up a row).
    static func lcsIndices(_ a: [Int32], _ b: [Int32]) -> [Int] {
        let t = lcsTable(a, b)
        let cols = b.count + 1
        var i = a.count, j = b.count
        var out: [Int] = []
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                out.append(i - 1)
                i -= 1
                j -= 1
            } else if t[i * cols + j - 1] > t[(i - 1) * cols + j] {
                j -= 1
            } else {
                i -= 1
            }
        }
        return out.reversed()
    }

    /// ROUGE-Lsum: for each reference sentence, the union of its LCS with every prediction sentence; each token
    /// counted at most as often as it occurs in both texts.
    static func summaryLCSScore(_ refSentences: [[Int32]], _ predSentences: [[Int32]]) -> RougeScore {
        guard !refSentences.isEmpty, !predSentences.isEmpty else { return .zero }
        let m = refSentences.reduce(0) { $0 + $1.count }, n = predSentences.reduce(0) { $0 + $1.count }
        guard m > 0, n > 0 else { return .zero }
        var refCounts: [Int32: Int] = [:], predCounts: [Int32: Int] = [:]
        for s in refSentences { for t in s { refCounts[t, default: 0] += 1 } }
        for s in predSentences { for t in s { predCounts[t, default: 0] += 1 } }
        var hits = 0
        for r in refSentences {
            var union = Set<Int>()
            for c in predSentences { union.formUnion(lcsIndices(r, c)) }
            for i in union.sorted() {
                let t = r[i]
                if let pc = predCounts[t], pc > 0, let rc = refCounts[t], rc > 0 {
                    hits += 1
                    predCounts[t] = pc - 1
                    refCounts[t] = rc - 1
                }
            }
        }
        return RougeScore(precision: Double(hits) / Double(n), recall: Double(hits) / Double(m))
    }
}
