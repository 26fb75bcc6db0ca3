import Core

/// sacrebleu's BLEU tokenizers, on code points: each turns a segment into its tokens (the words of the tokenized
/// line that sacrebleu splits on whitespace). The input is the segment after `str.rstrip()`, as sacrebleu passes it.
public enum BLEUTokenizer: String, CaseIterable, Sendable {
    /// mteval-v13a: sacrebleu's default.
    case thirteenA = "13a"
    /// mteval-v14 international: splits punctuation (`\p{P}`) and symbols (`\p{S}`) off, except punctuation
    /// between digits.
    case intl
    /// Every character is a token.
    case char
    /// Whitespace only.
    case none

    /// The tokens of `segment` as code-point arrays.
    public func tokens(_ segment: [UInt32]) -> [ArraySlice<UInt32>] {
        let line = PythonText.strip(trailingOnly: segment)
        switch self {
        case .none: return Self.split(Array(line))
        case .char: return line.indices.filter { !PythonText.isSpace(line[$0]) }.map { line[$0...$0] }
        case .thirteenA: return Self.split(Self.tokenize13a(Array(line)))
        case .intl: return Self.split(Self.tokenizeIntl(Array(line)))
        }
    }

    /// `str.split()`: maximal runs of non-whitespace.
    static func split(_ s: [UInt32]) -> [ArraySlice<UInt32>] {
        var out: [ArraySlice<UInt32>] = []
        var i = 0
        while i < s.count {
            while i < s.count && PythonText.isSpace(s[i]) { i += 1 }
            let start = i
            while i < s.count && !PythonText.isSpace(s[i]) { i += 1 }
            if i > start { out.append(s[start..<i]) }
        }
        return out
    }

    // MARK: 13a

    private static let skipped: [UInt32] = Array("<skipped>".unicodeScalars.map(\.value))
    private static let entities: [([UInt32], UInt32)] = [("&quot;", 0x22), ("&amp;", 0x26), ("&lt;", 0x3C),
                                                         ("&gt;", 0x3E)]
        .map { (Array($0.0.unicodeScalars.map(\.value)), $0.1) }

    /// 13a: drop `<skipped>`, join `-\n` line breaks, newlines to spaces, unescape four entities (in turn, as
    /// Python's successive `str.replace` calls do), then the regexp post-tokenizer on ` line `.
    static func tokenize13a(_ input: [UInt32]) -> [UInt32] {
        var line = replace(input, skipped, with: [])
        line = replace(line, [0x2D, 0x0A], with: [])
        for i in line.indices where line[i] == 0x0A { line[i] = 0x20 }
        if line.contains(0x26) {
            for (entity, char) in entities { line = replace(line, entity, with: [char]) }
        }
        var padded: [UInt32] = [0x20]
        padded.append(contentsOf: line)
        padded.append(0x20)
        return postTokenize13a(padded)
    }

    /// Python's `str.replace(old, new)`: non-overlapping, left to right.
    static func replace(_ s: [UInt32], _ old: [UInt32], with new: [UInt32]) -> [UInt32] {
        guard !old.isEmpty, s.count >= old.count else { return s }
        var out: [UInt32] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == old[0] && i + old.count <= s.count && s[i..<(i + old.count)].elementsEqual(old) {
                out.append(contentsOf: new)
                i += old.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// `[\{-\~\[-\` -\&\(-\+\:-\@\/]`: ASCII punctuation and symbols other than `'` `,` `-` `.`, and the space.
    @inline(__always)
    private static func is13aSymbol(_ v: UInt32) -> Bool {
        (v >= 0x7B && v <= 0x7E) || (v >= 0x5B && v <= 0x60) || (v >= 0x20 && v <= 0x26)
            || (v >= 0x28 && v <= 0x2B) || (v >= 0x3A && v <= 0x40) || v == 0x2F
    }

    @inline(__always) private static func isDigit(_ v: UInt32) -> Bool { v >= 0x30 && v <= 0x39 }
    @inline(__always) private static func isPeriodOrComma(_ v: UInt32) -> Bool { v == 0x2E || v == 0x2C }

    /// The four substitutions of sacrebleu's `TokenizerRegexp`, each a left-to-right scan as `re.sub` does it.
    static func postTokenize13a(_ line: [UInt32]) -> [UInt32] {
        // 1. ([\{-\~\[-\` -\&\(-\+\:-\@\/]) → " \1 "
        var a: [UInt32] = []
        a.reserveCapacity(line.count * 2)
        for v in line {
            if is13aSymbol(v) { a.append(0x20); a.append(v); a.append(0x20) } else { a.append(v) }
        }
        // Steps 2–4 only ever fire next to a period, a comma or a dash: skip the scans without one.
        var hasPeriodOrComma = false, hasDash = false
        for v in a { if isPeriodOrComma(v) { hasPeriodOrComma = true } else if v == 0x2D { hasDash = true } }
        if hasPeriodOrComma {
            // 2. ([^0-9])([\.,]) → "\1 \2 "
            a = substitutePairs(a, { !isDigit($0) }, isPeriodOrComma, spaceBefore: false, spaceBetween: true,
                                spaceAfter: true)
            // 3. ([\.,])([^0-9]) → " \1 \2"
            a = substitutePairs(a, isPeriodOrComma, { !isDigit($0) }, spaceBefore: true, spaceBetween: true,
                                spaceAfter: false)
        }
        if hasDash {
            // 4. ([0-9])(-) → "\1 \2 "
            a = substitutePairs(a, isDigit, { $0 == 0x2D }, spaceBefore: false, spaceBetween: true, spaceAfter: true)
        }
        return a
    }

    /// `re.sub(r"(X)(Y)", repl, s)` for single-character classes X and Y, where repl puts spaces around and
    /// between the two characters as flagged: scanning left to right, a match consumes both characters.
    @inline(__always)
    static func substitutePairs(_ s: [UInt32], _ first: (UInt32) -> Bool, _ second: (UInt32) -> Bool,
                                spaceBefore: Bool, spaceBetween: Bool, spaceAfter: Bool) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(s.count + s.count / 2)
        var i = 0
        while i < s.count {
            if i + 1 < s.count && first(s[i]) && second(s[i + 1]) {
                if spaceBefore { out.append(0x20) }
                out.append(s[i])
                if spaceBetween { out.append(0x20) }
                out.append(s[i + 1])
                if spaceAfter { out.append(0x20) }
                i += 2
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    // MARK: intl

    /// intl: `(\P{N})(\p{P})` → `\1 \2 `, `(\p{P})(\P{N})` → ` \1 \2`, `(\p{S})` → ` \1 `.
    static func tokenizeIntl(_ line: [UInt32]) -> [UInt32] {
        typealias U = PythonUnicode
        var a = substitutePairs(line, { U.intlClass($0) != .number }, { U.intlClass($0) == .punctuation },
                                spaceBefore: false, spaceBetween: true, spaceAfter: true)
        a = substitutePairs(a, { U.intlClass($0) == .punctuation }, { U.intlClass($0) != .number },
                            spaceBefore: true, spaceBetween: true, spaceAfter: false)
        var out: [UInt32] = []
        out.reserveCapacity(a.count + 8)
        for v in a {
            if U.intlClass(v) == .symbol { out.append(0x20); out.append(v); out.append(0x20) } else { out.append(v) }
        }
        return out
    }
}

extension PythonText {
    /// `str.rstrip()` without arguments, on code points.
    static func strip(trailingOnly s: [UInt32]) -> ArraySlice<UInt32> {
        var hi = s.count
        while hi > 0 && isSpace(s[hi - 1]) { hi -= 1 }
        return s[0..<hi]
    }
}
