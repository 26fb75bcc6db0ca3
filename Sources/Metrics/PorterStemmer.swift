/// The Porter stemmer as nltk 3.10's `PorterStemmer()` runs it (its default NLTK_EXTENSIONS mode: the irregular
/// forms, `ies`/`ied` on four-letter words, the `alli`, `fulli` and `logi` rules, and the two-letter *o rule), for
/// lowercase ASCII words — what rouge-score hands it.
public struct PorterStemmer: Sendable {
    public init() {}

    private static let irregular: [String: String] = [
        "sky": "sky", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie", "news": "news",
        "innings": "inning", "inning": "inning", "outings": "outing", "outing": "outing",
        "cannings": "canning", "canning": "canning", "howe": "howe", "proceed": "proceed", "exceed": "exceed",
        "succeed": "succeed",
    ]

    /// The stem of `word`.
    public func stem(_ word: String) -> String {
        if let s = Self.irregular[word] { return s }
        var w = Array(word.utf8)
        if w.count <= 2 { return word }
        w = step1a(w); w = step1b(w); w = step1c(w); w = step2(w); w = step3(w); w = step4(w)
        w = step5a(w); w = step5b(w)
        return String(decoding: w, as: UTF8.self)
    }

    typealias Word = [UInt8]

    private struct Rule {
        let suffix: Word
        let replacement: Word
        /// nil: always; else asked of the stem (the word without the suffix).
        let condition: ((Word) -> Bool)?
        /// The `*d` rule: the word ends in a double consonant; the stem drops both letters.
        var doubleConsonant = false

        init(_ suffix: String, _ replacement: String, _ condition: ((Word) -> Bool)? = nil) {
            self.suffix = Array(suffix.utf8)
            self.replacement = Array(replacement.utf8)
            self.condition = condition
        }
    }

    // MARK: the letters

    /// Consonant flags of every letter: a, e, i, o, u are vowels; y is a consonant at the start or after a vowel.
    private func consonants(_ w: Word) -> [Bool] {
        var flags = [Bool](repeating: true, count: w.count)
        for i in 0..<w.count {
            switch w[i] {
            case UInt8(ascii: "a"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "o"), UInt8(ascii: "u"):
                flags[i] = false
            case UInt8(ascii: "y"):
                flags[i] = i == 0 ? true : !flags[i - 1]
            default:
                flags[i] = true
            }
        }
        return flags
    }

    private func isConsonant(_ w: Word, _ i: Int) -> Bool { consonants(Array(w[0...i]))[i] }

    /// m in [C](VC)^m[V]: the number of vowel→consonant changes.
    private func measure(_ w: Word) -> Int {
        let f = consonants(w)
        var m = 0
        if f.count > 1 { for i in 1..<f.count where !f[i - 1] && f[i] { m += 1 } }
        return m
    }

    private func containsVowel(_ w: Word) -> Bool { consonants(w).contains(false) }

    private func endsDoubleConsonant(_ w: Word) -> Bool {
        w.count >= 2 && w[w.count - 1] == w[w.count - 2] && isConsonant(w, w.count - 1)
    }

    /// *o: consonant-vowel-consonant at the end, the last not w, x or y; or (nltk) a two-letter vowel-consonant word.
    private func endsCVC(_ w: Word) -> Bool {
        let n = w.count
        if n >= 3 {
            let f = consonants(w)
            if f[n - 3] && !f[n - 2] && f[n - 1] && !"wxy".utf8.contains(w[n - 1]) { return true }
        }
        if n == 2 {
            let f = consonants(w)
            return !f[0] && f[1]
        }
        return false
    }

    private func hasSuffix(_ w: Word, _ s: Word) -> Bool { w.count >= s.count && w[(w.count - s.count)...].elementsEqual(s) }
    private func dropping(_ w: Word, _ n: Int) -> Word { Array(w[0..<(w.count - n)]) }
    private func positiveMeasure(_ w: Word) -> Bool { measure(w) > 0 }

    /// The first rule whose suffix the word has decides: its replacement if the condition holds, else the word.
    private func apply(_ w: Word, _ rules: [Rule]) -> Word {
        for rule in rules {
            if rule.doubleConsonant {
                guard endsDoubleConsonant(w) else { continue }
                let stem = dropping(w, 2)
                return rule.condition.map { $0(stem) } ?? true ? stem + rule.replacement : w
            }
            if hasSuffix(w, rule.suffix) {
                let stem = dropping(w, rule.suffix.count)
                return rule.condition.map { $0(stem) } ?? true ? stem + rule.replacement : w
            }
        }
        return w
    }

    // MARK: the steps

    private func step1a(_ w: Word) -> Word {
        if w.count == 4 && hasSuffix(w, Array("ies".utf8)) { return dropping(w, 3) + Array("ie".utf8) }
        return apply(w, [Rule("sses", "ss"), Rule("ies", "i"), Rule("ss", "ss"), Rule("s", "")])
    }

    private func step1b(_ w: Word) -> Word {
        if hasSuffix(w, Array("ied".utf8)) { return dropping(w, 3) + Array((w.count == 4 ? "ie" : "i").utf8) }
        if hasSuffix(w, Array("eed".utf8)) {
            let stem = dropping(w, 3)
            return measure(stem) > 0 ? stem + Array("ee".utf8) : w
        }
        var intermediate: Word?
        for suffix in ["ed", "ing"] where hasSuffix(w, Array(suffix.utf8)) {
            let stem = dropping(w, suffix.utf8.count)
            if containsVowel(stem) { intermediate = stem; break }
        }
        guard let s = intermediate else { return w }
        let last = s[s.count - 1]
        var double = Rule("", String(UnicodeScalar(last)), { _ in !"lsz".utf8.contains(last) })
        double.doubleConsonant = true
        return apply(s, [Rule("at", "ate"), Rule("bl", "ble"), Rule("iz", "ize"), double,
                         Rule("", "e", { self.measure($0) == 1 && self.endsCVC($0) })])
    }

    private func step1c(_ w: Word) -> Word {
        apply(w, [Rule("y", "i", { $0.count > 1 && self.isConsonant($0, $0.count - 1) })])
    }

    private func step2(_ w: Word) -> Word {
        if hasSuffix(w, Array("alli".utf8)) && positiveMeasure(dropping(w, 4)) {
            return step2(dropping(w, 4) + Array("al".utf8))
        }
        let m = positiveMeasure
        return apply(w, [
            Rule("ational", "ate", m), Rule("tional", "tion", m), Rule("enci", "ence", m), Rule("anci", "ance", m),
            Rule("izer", "ize", m), Rule("bli", "ble", m), Rule("alli", "al", m), Rule("entli", "ent", m),
            Rule("eli", "e", m), Rule("ousli", "ous", m), Rule("ization", "ize", m), Rule("ation", "ate", m),
            Rule("ator", "ate", m), Rule("alism", "al", m), Rule("iveness", "ive", m), Rule("fulness", "ful", m),
            Rule("ousness", "ous", m), Rule("aliti", "al", m), Rule("iviti", "ive", m), Rule("biliti", "ble", m),
            Rule("fulli", "ful", m),
            // nltk asks the measure of the word without "ogi" (the stem keeps its "l").
            Rule("logi", "log", { _ in self.positiveMeasure(self.dropping(w, 3)) }),
        ])
    }

    private func step3(_ w: Word) -> Word {
        let m = positiveMeasure
        return apply(w, [Rule("icate", "ic", m), Rule("ative", "", m), Rule("alize", "al", m),
                         Rule("iciti", "ic", m), Rule("ical", "ic", m), Rule("ful", "", m), Rule("ness", "", m)])
    }

    private func step4(_ w: Word) -> Word {
        let m: (Word) -> Bool = { self.measure($0) > 1 }
        let st = "st".utf8
        return apply(w, [
            Rule("al", "", m), Rule("ance", "", m), Rule("ence", "", m), Rule("er", "", m), Rule("ic", "", m),
            Rule("able", "", m), Rule("ible", "", m), Rule("ant", "", m), Rule("ement", "", m),
            Rule("ment", "", m), Rule("ent", "", m),
            Rule("ion", "", { self.measure($0) > 1 && st.contains($0[$0.count - 1]) }),
            Rule("ou", "", m), Rule("ism", "", m), Rule("ate", "", m), Rule("iti", "", m), Rule("ous", "", m),
            Rule("ive", "", m), Rule("ize", "", m),
        ])
    }

    private func step5a(_ w: Word) -> Word {
        guard w.last == UInt8(ascii: "e") else { return w }
        let stem = dropping(w, 1)
        let m = measure(stem)
        if m > 1 || (m == 1 && !endsCVC(stem)) { return stem }
        return w
    }

    private func step5b(_ w: Word) -> Word {
        apply(w, [Rule("ll", "l", { _ in self.measure(self.dropping(w, 1)) > 1 })])
    }
}
