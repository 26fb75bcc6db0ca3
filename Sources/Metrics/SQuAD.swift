import Core

/// Exact match and token F1 as the SQuAD v1.1 evaluation script computes them, on code points with Python 3.11's
/// character semantics: the answer is lowercased (`str.lower()`), stripped of ASCII punctuation
/// (`string.punctuation`), each whole word a/an/the (`\b(a|an|the)\b`, Unicode word characters) replaced by a
/// space, and split on whitespace. F1 is 0 when no token overlaps — also when both answers normalise to nothing
/// (the v1.1 rule; v2.0 gives 1 there). Both take the best over the references.
public enum SQuAD {
    /// The normalised tokens of an answer.
    public static func tokens(_ text: String) -> [[UInt32]] {
        let lowered = PythonUnicode.lower(text.unicodeScalars.map(\.value))
        var kept: [UInt32] = []
        kept.reserveCapacity(lowered.count)
        for v in lowered where !isASCIIPunctuation(v) { kept.append(v) }
        // Whole words (maximal runs of \w) that are articles become a space.
        var text: [UInt32] = []
        text.reserveCapacity(kept.count)
        var i = 0
        while i < kept.count {
            guard PythonUnicode.isWordCharacter(kept[i]) else { text.append(kept[i]); i += 1; continue }
            var j = i + 1
            while j < kept.count && PythonUnicode.isWordCharacter(kept[j]) { j += 1 }
            if isArticle(kept[i..<j]) { text.append(0x20) } else { text.append(contentsOf: kept[i..<j]) }
            i = j
        }
        return BLEUTokenizer.split(text).map(Array.init)
    }

    /// `string.punctuation`: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
    @inline(__always)
    static func isASCIIPunctuation(_ v: UInt32) -> Bool {
        (v >= 0x21 && v <= 0x2F) || (v >= 0x3A && v <= 0x40) || (v >= 0x5B && v <= 0x60) || (v >= 0x7B && v <= 0x7E)
    }

    private static let articles: [[UInt32]] = [[0x61], [0x61, 0x6E], [0x74, 0x68, 0x65]]

    private static func isArticle(_ word: ArraySlice<UInt32>) -> Bool {
        articles.contains { $0.elementsEqual(word) }
    }

    /// 1 if the normalised answers are equal, else 0.
    public static func exactMatch(_ prediction: [[UInt32]], _ truth: [[UInt32]]) -> Double {
        prediction == truth ? 1 : 0
    }

    /// Token F1 of the normalised answers.
    public static func f1(_ prediction: [[UInt32]], _ truth: [[UInt32]]) -> Double {
        var counts: [[UInt32]: Int] = [:]
        for t in truth { counts[t, default: 0] += 1 }
        var same = 0
        for p in prediction {
            if let c = counts[p], c > 0 { same += 1; counts[p] = c - 1 }
        }
        if same == 0 { return 0 }
        let precision = 1.0 * Double(same) / Double(prediction.count)
        let recall = 1.0 * Double(same) / Double(truth.count)
        return (2 * precision * recall) / (precision + recall)
    }

    /// (exact match, F1) of one prediction, each the maximum over the references, as fractions (0…1).
    public static func score(prediction: String, references: [String]) -> (exactMatch: Double, f1: Double) {
        let p = tokens(prediction)
        var em = 0.0, f = 0.0
        for r in references {
            let t = tokens(r)
            em = max(em, exactMatch(p, t))
            f = max(f, f1(p, t))
        }
        return (em, f)
    }
}
