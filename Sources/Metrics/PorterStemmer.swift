/// The Porter stemmer as nltk 3.10's `PorterStemmer()` runs it (its default NLTK_EXTENSIONS mode: the irregular
/// forms, `ies`/`ied` on four-letter words, the `alli`, `fulli` and `logi` rules, and the two-letter *o rule), for
/// lowercase ASCII words — what rouge-score hands it.
public struct PorterStemmer: Sendable {
    /// The stemmer (it has no settings).
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

    /// What a rule asks before it replaces a suffix (of the stem, the word without the suffix, unless said).
    private enum Condition {
        case always
        /// m(stem) > 0
        case measure0
        /// m(stem) > 1
        case measure1
        /// m(stem) > 1 and the stem ends in s or t
        case measure1EndsST
        /// the stem is longer than one letter and ends in a consonant (nltk's y → i)
        case endsConsonant
        /// m(stem) = 1 and *o
        case measureOneCVC
        /// m(word without "ogi") > 0 (nltk's logi rule)
        case logi
        /// m(word without its last letter) > 1 (step 5b)
        case measureOfWordLessOne
    }

    private struct Rule {
        let suffix: Word
        let replacement: Word
        let condition: Condition

        init(_ suffix: String, _ replacement: String, _ condition: Condition = .always) {
            self.suffix = Array(suffix.utf8)
            self.replacement = Array(replacement.utf8)
            self.condition = condition
        }
    }

    private func holds(_ c: Condition, stem: Word, word: Word) -> Bool {
        switch c {
        case .always: return true
        case .measure0: return measure(stem) > 0
        case .measure1: return measure(stem) > 1
        case .measure1EndsST: return measure(stem) > 1 && "st".utf8.contains(stem[stem.count - 1])
        case .endsConsonant: return stem.count > 1 && isConsonant(stem, stem.count - 1)
        case .measureOneCVC: return measure(stem) == 1 && endsCVC(stem)
        case .logi: return measure(dropping(word, 3)) > 0
        case .measureOfWordLessOne: return measure(dropping(word, 1)) > 1
        }
    }

    // MARK: the letters

    /// Whether letter i is a consonant: a, e, i, o, u are vowels; y is a consonant at the start or after a vowel.
    private func isConsonant(_ w: Word, _ i: Int) -> Bool {
        var consonant = true
        for k in 0...i { consonant = Self.step(consonant, w[k], first: k == 0) }
        return consonant
    }

    @inline(__always)
    private static func step(_ previous: Bool, _ c: UInt8, first: Bool) -> Bool {
        switch c {
        case UInt8(ascii: "a"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "o"), UInt8(ascii: "u"): return false
        case UInt8(ascii: "y"): return first ? true : !previous
        default: return true
        }
    }

    /// m in [C](VC)^m[V]: the number of vowel→consonant changes.
    private func measure(_ w: Word) -> Int {
        var m = 0, previous = true
        for k in 0..<w.count {
            let c = Self.step(previous, w[k], first: k == 0)
            if k > 0 && !previous && c { m += 1 }
            previous = c
        }
        return m
    }

    private func containsVowel(_ w: Word) -> Bool {
        var previous = true
        for k in 0..<w.count {
            previous = Self.step(previous, w[k], first: k == 0)
            if !previous { return true }
        }
        return false
    }

    private func endsDoubleConsonant(_ w: Word) -> Bool {
        w.count >= 2 && w[w.count - 1] == w[w.count - 2] && isConsonant(w, w.count - 1)
    }

    /// *o: consonant-vowel-consonant at the end, the last not w, x or y; or (nltk) a two-letter vowel-consonant word.
    private func endsCVC(_ w: Word) -> Bool {
        let n = w.count
        if n >= 3 {
            let c3 = isConsonant(w, n - 3), c2 = Self.step(c3, w[n - 2], first: false)
            let c1 = Self.step(c2, w[n - 1], first: false)
            if c3 && !c2 && c1 && !"wxy".utf8.contains(w[n - 1]) { return true }
        }
        if n == 2 {
            let c0 = Self.step(true, w[0], first: true)
            return !c0 && Self.step(c0, w[1], first: false)
        }
        return false
    }

    private func hasSuffix(_ w: Word, _ s: Word) -> Bool {
        w.count >= s.count && w[(w.count - s.count)...].elementsEqual(s)
    }
    private func dropping(_ w: Word, _ n: Int) -> Word { Array(w[0..<(w.count - n)]) }
    private func positiveMeasure(_ w: Word) -> Bool { measure(w) > 0 }

    /// The first rule whose suffix the word has decides: its replacement if the condition holds, else the word.
    private func apply(_ w: Word, _ rules: [Rule]) -> Word {
        for rule in rules where hasSuffix(w, rule.suffix) {
            let stem = dropping(w, rule.suffix.count)
            return holds(rule.condition, stem: stem, word: w) ? stem + rule.replacement : w
        }
        return w
    }

    // MARK: the steps

    private static let step1aRules = [Rule("sses", "ss"), Rule("ies", "i"), Rule("ss", "ss"), Rule("s", "")]

    private func step1a(_ w: Word) -> Word {
        if w.count == 4 && hasSuffix(w, Array("ies".utf8)) { return dropping(w, 3) + Array("ie".utf8) }
        return apply(w, Self.step1aRules)
    }

    private static let step1bRules = [Rule("at", "ate"), Rule("bl", "ble"), Rule("iz", "ize")]

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
        for rule in Self.step1bRules where hasSuffix(s, rule.suffix) {
            return dropping(s, rule.suffix.count) + rule.replacement
        }
        // *d and not (*L or *S or *Z): one letter of the double consonant goes.
        if endsDoubleConsonant(s) {
            let last = s[s.count - 1]
            return "lsz".utf8.contains(last) ? s : dropping(s, 2) + [last]
        }
        return holds(.measureOneCVC, stem: s, word: s) ? s + Array("e".utf8) : s
    }

    private static let step1cRules = [Rule("y", "i", .endsConsonant)]

    private func step1c(_ w: Word) -> Word { apply(w, Self.step1cRules) }

    private static let step2Rules: [Rule] = [
        Rule("ational", "ate", .measure0), Rule("tional", "tion", .measure0), Rule("enci", "ence", .measure0),
        Rule("anci", "ance", .measure0), Rule("izer", "ize", .measure0), Rule("bli", "ble", .measure0),
        Rule("alli", "al", .measure0), Rule("entli", "ent", .measure0), Rule("eli", "e", .measure0),
        Rule("ousli", "ous", .measure0), Rule("ization", "ize", .measure0), Rule("ation", "ate", .measure0),
        Rule("ator", "ate", .measure0), Rule("alism", "al", .measure0), Rule("iveness", "ive", .measure0),
        Rule("fulness", "ful", .measure0), Rule("ousness", "ous", .measure0), Rule("aliti", "al", .measure0),
        Rule("iviti", "ive", .measure0), Rule("biliti", "ble", .measure0), Rule("fulli", "ful", .measure0),
        // nltk asks the measure of the word without "ogi" (the stem keeps its "l").
        Rule("logi", "log", .logi),
    ]

    private func step2(_ w: Word) -> Word {
        if hasSuffix(w, Array("alli".utf8)) && measure(dropping(w, 4)) > 0 {
            return step2(dropping(w, 4) + Array("al".utf8))
        }
        return apply(w, Self.step2Rules)
    }

    private static let step3Rules: [Rule] = [
        Rule("icate", "ic", .measure0), Rule("ative", "", .measure0), Rule("alize", "al", .measure0),
        Rule("iciti", "ic", .measure0), Rule("ical", "ic", .measure0), Rule("ful", "", .measure0),
        Rule("ness", "", .measure0),
    ]

    private func step3(_ w: Word) -> Word { apply(w, Self.step3Rules) }

    private static let step4Rules: [Rule] = ["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment",
                                             "ent", "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize"]
        .map { Rule($0, "", $0 == "ion" ? .measure1EndsST : .measure1) }

    private func step4(_ w: Word) -> Word { apply(w, Self.step4Rules) }

    private func step5a(_ w: Word) -> Word {
        guard w.last == UInt8(ascii: "e") else { return w }
        let stem = dropping(w, 1)
        let m = measure(stem)
        if m > 1 || (m == 1 && !endsCVC(stem)) { return stem }
        return w
    }

    private static let step5bRules = [Rule("ll", "l", .measureOfWordLessOne)]

    private func step5b(_ w: Word) -> Word { apply(w, Self.step5bRules) }
}
