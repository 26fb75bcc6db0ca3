import Foundation

/// A set of code points given as sorted ranges (the generated tables), with an ASCII fast path.
struct ScalarSet {
    private let ranges: [ClosedRange<UInt32>]
    private var ascii = [Bool](repeating: false, count: 128)

    init(_ ranges: [ClosedRange<UInt32>]) {
        self.ranges = ranges
        for r in ranges where r.lowerBound < 128 {
            for c in r.lowerBound...min(r.upperBound, 127) { ascii[Int(c)] = true }
        }
    }

    func contains(_ c: UInt32) -> Bool {
        if c < 128 { return ascii[Int(c)] }
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < c { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].contains(c)
    }
}

/// datatrove's `simplify_text` with its default `TextNormConfig` (datatrove/utils/text.py), in its order: lower
/// case (Python's `str.lower`, per code point), every run of decimal digits (with one decimal part after
/// `.`, `,` or an Arabic separator) → `0`, `PUNCTUATION` → space, whitespace (Python's `\s`) collapsed to one
/// space and stripped, NFD with the nonspacing marks dropped, stripped again.
public enum SimplifiedText {
    static let punctuation = ScalarSet(DatatroveTables.punctuation)
    static let whitespace = ScalarSet(DatatroveTables.whitespace)
    static let decimalSeparators: Set<UInt32> = [0x2E, 0x2C, 0x60C, 0x66B, 0x2396, 0x2397, 0x2398]

    /// Python's `str.isspace()` for code point `c`.
    public static func isSpace(_ c: UInt32) -> Bool { whitespace.contains(c) }

    @inline(__always) static func isDigit(_ c: UInt32) -> Bool {
        if c < 128 { return c >= 0x30 && c <= 0x39 }
        return Unicode.Scalar(c)?.properties.numericType == .decimal
    }

    /// The simplified text of `text`, as UTF-8 bytes (words separated by single spaces).
    public static func simplify(_ text: String) -> [UInt8] {
        // Lower case.
        var lowered: [UInt32] = []
        lowered.reserveCapacity(text.utf8.count)
        var ascii = true
        let scalars = text.unicodeScalars
        for i in scalars.indices {
            let s = scalars[i]
            let v = s.value
            if v < 128 {
                lowered.append(v >= 0x41 && v <= 0x5A ? v + 32 : v)
            } else if v == 0x3A3 {
                ascii = false
                lowered.append(isFinalSigma(scalars, at: i) ? 0x3C2 : 0x3C3)
            } else {
                ascii = false
                let mapping = s.properties.lowercaseMapping
                if mapping.unicodeScalars.count == 1, mapping.unicodeScalars.first == s {
                    lowered.append(v)
                } else {
                    for m in mapping.unicodeScalars { lowered.append(m.value) }
                }
            }
        }
        // Numbers, then punctuation to spaces.
        var spaced: [UInt32] = []
        spaced.reserveCapacity(lowered.count)
        var i = 0
        while i < lowered.count {
            let c = lowered[i]
            if isDigit(c) {
                var j = i + 1
                while j < lowered.count, isDigit(lowered[j]) { j += 1 }
                if j + 1 < lowered.count, decimalSeparators.contains(lowered[j]), isDigit(lowered[j + 1]) {
                    j += 2
                    while j < lowered.count, isDigit(lowered[j]) { j += 1 }
                }
                spaced.append(0x30)
                i = j
                continue
            }
            spaced.append(punctuation.contains(c) ? 0x20 : c)
            i += 1
        }
        // Whitespace collapsed and stripped.
        var collapsed: [UInt32] = []
        collapsed.reserveCapacity(spaced.count)
        var pendingSpace = false
        for c in spaced {
            if whitespace.contains(c) {
                pendingSpace = !collapsed.isEmpty
            } else {
                if pendingSpace { collapsed.append(0x20); pendingSpace = false }
                collapsed.append(c)
            }
        }
        if !ascii { collapsed = stripMarks(collapsed) }
        var out: [UInt8] = []
        out.reserveCapacity(collapsed.count)
        for c in collapsed { appendUTF8(c, to: &out) }
        return out
    }

    /// Python's Final_Sigma rule for `str.lower`: a capital sigma after a cased letter and not before one
    /// (case-ignorable characters skipped both ways) becomes final sigma.
    static func isFinalSigma(_ s: String.UnicodeScalarView, at i: String.UnicodeScalarView.Index) -> Bool {
        var j = i
        var before = false
        while j > s.startIndex {
            j = s.index(before: j)
            if s[j].properties.isCaseIgnorable { continue }
            before = s[j].properties.isCased
            break
        }
        guard before else { return false }
        j = s.index(after: i)
        while j < s.endIndex {
            if !s[j].properties.isCaseIgnorable { return !s[j].properties.isCased }
            j = s.index(after: j)
        }
        return true
    }

    /// NFD, nonspacing marks dropped, whitespace stripped (a decomposition never makes whitespace).
    /// ASCII passes through (its own NFD, no marks); each run of non-ASCII code points is decomposed on its own
    /// — exact, because canonical reordering never moves a mark across a starter and every ASCII character is
    /// one — and the results of short runs (a quote, a dash, a ligature between ASCII words) are remembered
    /// (`NormalizationCache`).
    static func stripMarks(_ scalars: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(scalars.count)
        var i = 0
        let n = scalars.count
        while i < n {
            if scalars[i] < 0x80 { out.append(scalars[i]); i += 1; continue }
            var j = i + 1
            while j < n && scalars[j] >= 0x80 { j += 1 }
            out.append(contentsOf: NormalizationCache.nfdWithoutMarks.get(scalars[i..<j]) { run in
                String(NormalizationCache.string(run)).decomposedStringWithCanonicalMapping.unicodeScalars
                    .filter { $0.properties.generalCategory != .nonspacingMark }.map(\.value)
            })
            i = j
        }
        while let last = out.last, whitespace.contains(last) { out.removeLast() }
        let start = out.firstIndex { !whitespace.contains($0) } ?? out.count
        return start == 0 ? out : Array(out[start...])
    }

    static func appendUTF8(_ c: UInt32, to out: inout [UInt8]) {
        switch c {
        case 0..<0x80: out.append(UInt8(c))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (c >> 6))); out.append(UInt8(0x80 | (c & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (c >> 12))); out.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (c & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (c >> 18))); out.append(UInt8(0x80 | ((c >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((c >> 6) & 0x3F))); out.append(UInt8(0x80 | (c & 0x3F)))
        }
    }
}

/// spaCy's English tokenizer (`spacy.blank("en")`, datatrove's word tokenizer for English) on simplified text:
/// words split at spaces, then spaCy's special cases (`dont` → `do`, `nt`), prefixes, suffixes (units and
/// currencies after a digit: `0km` → `0`, `km`) and infixes, from the tables generated out of spaCy itself.
public enum SpaCyWords {
    static let prefixes = ScalarSet(SpaCyTables.prefixes)
    static let suffixes = ScalarSet(SpaCyTables.suffixes)
    static let infixes = ScalarSet(SpaCyTables.infixes)
    /// Special cases by UTF-8 key: the byte lengths of their tokens.
    static let specials: [[UInt8]: [Int]] = {
        var d: [[UInt8]: [Int]] = [:]
        for (k, parts) in SpaCyTables.specials { d[Array(k.utf8)] = parts.map { $0.utf8.count } }
        return d
    }()
    static let longestSpecial = specials.keys.map(\.count).max() ?? 0
    static let afterDigit: [[UInt8]] = SpaCyTables.afterDigit.map { Array($0.utf8) }

    /// The tokens of simplified UTF-8 text `text`, as byte ranges.
    public static func tokens(_ text: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(text.count / 5)
        text.withUnsafeBufferPointer { buf in
            var start = 0
            for i in 0...buf.count where i == buf.count || buf[i] == 0x20 {
                if i > start { split(buf, start..<i, into: &out) }
                start = i + 1
            }
        }
        return out
    }

    static func special(_ buf: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> [Int]? {
        guard r.count <= longestSpecial else { return nil }
        return specials[Array(buf[r])]
    }

    /// The code point starting at byte `i` and its length.
    @inline(__always) static func scalar(_ buf: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int) {
        let b = UInt32(buf[i])
        if b < 0x80 { return (b, 1) }
        if b < 0xE0 { return ((b & 0x1F) << 6 | UInt32(buf[i + 1] & 0x3F), 2) }
        if b < 0xF0 {
            return ((b & 0x0F) << 12 | UInt32(buf[i + 1] & 0x3F) << 6 | UInt32(buf[i + 2] & 0x3F), 3)
        }
        return ((b & 0x07) << 18 | UInt32(buf[i + 1] & 0x3F) << 12 | UInt32(buf[i + 2] & 0x3F) << 6
                | UInt32(buf[i + 3] & 0x3F), 4)
    }

    /// The byte length of the last code point of `r`.
    @inline(__always) static func lastLength(_ buf: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int {
        var j = r.upperBound - 1
        while j > r.lowerBound, buf[j] & 0xC0 == 0x80 { j -= 1 }
        return r.upperBound - j
    }

    static func prefixLength(_ buf: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int {
        let (c, n) = scalar(buf, at: r.lowerBound)
        return prefixes.contains(c) ? n : 0
    }

    static func suffixLength(_ buf: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int {
        guard !r.isEmpty else { return 0 }
        for unit in afterDigit where unit.count < r.count {
            let at = r.upperBound - unit.count
            let d = buf[at - 1]
            if d >= 0x30, d <= 0x39, buf[at..<r.upperBound].elementsEqual(unit) { return unit.count }
        }
        let n = lastLength(buf, r)
        return suffixes.contains(scalar(buf, at: r.upperBound - n).0) ? n : 0
    }

    /// One whitespace-delimited word → tokens, as spaCy's `_split_affixes` and `_attach_tokens` do.
    static func split(_ buf: UnsafeBufferPointer<UInt8>, _ word: Range<Int>, into out: inout [Range<Int>]) {
        var s = word
        var prefixTokens: [Range<Int>] = [], suffixTokens: [Range<Int>] = []
        var lastSize = -1
        while !s.isEmpty, s.count != lastSize {
            if special(buf, s) != nil { break }
            lastSize = s.count
            let pre = prefixLength(buf, s)
            if pre != 0 {
                let minusPre = s.lowerBound + pre..<s.upperBound
                if !minusPre.isEmpty, special(buf, minusPre) != nil {
                    prefixTokens.append(s.lowerBound..<s.lowerBound + pre)
                    s = minusPre
                    break
                }
            }
            let suf = suffixLength(buf, s.lowerBound + pre..<s.upperBound)
            if suf != 0 {
                let minusSuf = s.lowerBound..<s.upperBound - suf
                if !minusSuf.isEmpty, special(buf, minusSuf) != nil {
                    suffixTokens.append(s.upperBound - suf..<s.upperBound)
                    s = minusSuf
                    break
                }
            }
            if pre != 0, suf != 0, pre + suf <= s.count {
                prefixTokens.append(s.lowerBound..<s.lowerBound + pre)
                suffixTokens.append(s.upperBound - suf..<s.upperBound)
                s = s.lowerBound + pre..<s.upperBound - suf
            } else if pre != 0 {
                prefixTokens.append(s.lowerBound..<s.lowerBound + pre)
                s = s.lowerBound + pre..<s.upperBound
            } else if suf != 0 {
                suffixTokens.append(s.upperBound - suf..<s.upperBound)
                s = s.lowerBound..<s.upperBound - suf
            }
            if !s.isEmpty, special(buf, s) != nil { break }
        }
        out += prefixTokens
        if !s.isEmpty {
            if let parts = special(buf, s) {
                var at = s.lowerBound
                for n in parts { out.append(at..<at + n); at += n }
            } else {
                var start = s.lowerBound, i = s.lowerBound
                while i < s.upperBound {
                    let (c, n) = scalar(buf, at: i)
                    if c >= 128, infixes.contains(c) {
                        if i > start { out.append(start..<i) }
                        out.append(i..<i + n)
                        start = i + n
                    }
                    i += n
                }
                if start < s.upperBound { out.append(start..<s.upperBound) }
            }
        }
        out += suffixTokens.reversed()
    }
}

/// Normalisations of short runs of code points, remembered across texts (thread-safe; runs of at most 8 code points,
/// at most 1 << 16 of them): real text repeats the same few non-ASCII characters, and Foundation's normalisation
/// of a string costs far more than a lookup.
final class NormalizationCache: @unchecked Sendable {
    private var table: [[UInt32]: [UInt32]] = [:]
    private let lock = NSLock()

    /// NFD with the nonspacing marks dropped (simplify_text's last step).
    static let nfdWithoutMarks = NormalizationCache()
    /// NFKC (the exact-duplicate key).
    static let nfkc = NormalizationCache()

    /// `compute(run)`, remembered when the run is short.
    func get(_ run: ArraySlice<UInt32>, _ compute: (ArraySlice<UInt32>) -> [UInt32]) -> [UInt32] {
        guard run.count <= 8 else { return compute(run) }
        let key = Array(run)
        lock.lock()
        let hit = table[key]
        lock.unlock()
        if let hit { return hit }
        let value = compute(run)
        lock.lock()
        if table.count < 1 << 16 { table[key] = value }
        lock.unlock()
        return value
    }

    /// The code points as a string's scalars.
    static func string(_ run: ArraySlice<UInt32>) -> String.UnicodeScalarView {
        var s = String.UnicodeScalarView()
        for c in run { if let u = Unicode.Scalar(c) { s.append(u) } }
        return s
    }
}
