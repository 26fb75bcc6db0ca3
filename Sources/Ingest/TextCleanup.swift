import Foundation

/// How page text is normalised.
public enum Normalization: String, Sendable, CaseIterable {
    /// Form feeds to newlines, then Unicode NFKC (ligatures such as ﬁ ﬂ ﬀ and other compatibility forms expand).
    case nfkc
    /// Form feeds to newlines only.
    case none
}

/// The text options of `pipeline ingest`.
public struct TextOptions: Sendable, Equatable {
    /// The Unicode normalisation of the page text.
    public var normalization: Normalization
    /// Join words hyphenated across line ends.
    public var dehyphenate: Bool
    /// Remove lines repeated at the top or bottom of most pages.
    public var stripHeaders: Bool

    /// Options; by default NFKC only.
    public init(normalization: Normalization = .nfkc, dehyphenate: Bool = false, stripHeaders: Bool = false) {
        self.normalization = normalization; self.dehyphenate = dehyphenate; self.stripHeaders = stripHeaders
    }
}

/// The text clean-ups, each a pure function of the text.
public enum TextCleanup {
    /// Applies `options` to the pages of one document, in this order: normalisation of each page, then
    /// dehyphenation of each page, then removal of running heads and page numbers across the document's pages.
    public static func apply(_ options: TextOptions, to pages: [String]) -> [String] {
        var out = pages.map { normalize($0, options.normalization) }
        if options.dehyphenate { out = out.map(dehyphenate) }
        if options.stripHeaders { out = stripHeaders(out) }
        return out
    }

    /// Form feed (U+000C) → newline; with `.nfkc`, Unicode NFKC. No other change.
    public static func normalize(_ text: String, _ mode: Normalization) -> String {
        var s = text
        if s.utf8.contains(0x0C) {
            s = String(decoding: s.utf8.map { $0 == 0x0C ? 0x0A : $0 }, as: UTF8.self)
        }
        guard mode == .nfkc else { return s }
        // ASCII is invariant under NFKC: skip the (costly) normalisation for pages that are all ASCII.
        if s.utf8.allSatisfy({ $0 < 0x80 }) { return s }
        return s.precomposedStringWithCompatibilityMapping
    }

    /// Joins a word split by a hyphen at a line end: where a line ends with `-` (U+002D) that follows a letter
    /// and the next line starts with a lowercase letter, the hyphen and the line break are removed, so the
    /// rest of the next line continues the first one (`exam-\nple text` → `example text`). Anything else stays.
    public static func dehyphenate(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count > 2 else { return text }
        var out = String.UnicodeScalarView()
        out.reserveCapacity(scalars.count)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if c == "-", i > 0, i + 2 < scalars.count, scalars[i + 1] == "\n",
               scalars[i - 1].properties.isAlphabetic,
               scalars[i + 2].properties.isLowercase {
                i += 2
                continue
            }
            out.append(c)
            i += 1
        }
        return String(out)
    }

    /// How many non-blank lines at the top and at the bottom of a page are candidates for running heads.
    public static let headerLines = 2

    /// Drops running heads, running feet and page numbers. For documents of at least 3 pages, the first and the
    /// last `headerLines` non-blank lines of each page are compared, position by position (1st line, 2nd line,
    /// last line, second-to-last line; on a short page one line can hold a top and a bottom position), after
    /// trimming blanks and replacing every run of digits by `#` (so
    /// "Page 3" and "Page 4" match, and so do bare page numbers). A line is dropped when its form appears at the
    /// same position on more than half of the pages, or on more than half of the odd or of the even pages
    /// (books alternate their running heads) and at least 3 times. Other lines, and blank lines, stay.
    public static func stripHeaders(_ pages: [String]) -> [String] {
        guard pages.count >= 3 else { return pages }
        let k = headerLines
        // For each page: its lines and, per slot, the index of the candidate line.
        var pageLines: [[Substring]] = []
        var slotsPerPage: [[(slot: Int, line: Int, key: String)]] = []
        for page in pages {
            let lines = page.split(separator: "\n", omittingEmptySubsequences: false)
            let nonBlank = lines.indices.filter { !lines[$0].allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" } }
            // A line of a short page can be both a top and a bottom candidate.
            var slots: [(Int, Int, String)] = []
            for (s, idx) in nonBlank.prefix(k).enumerated() { slots.append((s, idx, key(lines[idx]))) }
            for (s, idx) in nonBlank.suffix(k).reversed().enumerated() { slots.append((k + s, idx, key(lines[idx]))) }
            pageLines.append(lines)
            slotsPerPage.append(slots)
        }
        struct SlotKey: Hashable { let slot: Int; let key: String }
        var all: [SlotKey: Int] = [:], odd: [SlotKey: Int] = [:], even: [SlotKey: Int] = [:]
        for (p, slots) in slotsPerPage.enumerated() {
            for s in slots {
                let sk = SlotKey(slot: s.slot, key: s.key)
                all[sk, default: 0] += 1
                if p % 2 == 0 { even[sk, default: 0] += 1 } else { odd[sk, default: 0] += 1 }
            }
        }
        let n = pages.count
        let nEven = (n + 1) / 2, nOdd = n / 2
        func repeated(_ sk: SlotKey) -> Bool {
            if 2 * (all[sk] ?? 0) > n { return true }
            let e = even[sk] ?? 0, o = odd[sk] ?? 0
            return (e >= 3 && 2 * e > nEven) || (o >= 3 && 2 * o > nOdd)
        }
        var out: [String] = []
        out.reserveCapacity(n)
        for p in 0..<n {
            let drop = Set(slotsPerPage[p].filter { repeated(SlotKey(slot: $0.slot, key: $0.key)) }.map(\.line))
            if drop.isEmpty { out.append(pages[p]); continue }
            var kept: [Substring] = []
            for (i, line) in pageLines[p].enumerated() where !drop.contains(i) { kept.append(line) }
            out.append(kept.joined(separator: "\n"))
        }
        return out
    }

    /// The comparison form of a candidate line: trimmed, each run of digits replaced by `#`.
    static func key(_ line: Substring) -> String {
        var s = ""
        var inDigits = false
        for ch in line.trimmingCharacters(in: .whitespaces) {
            if ch.isASCII && ch.isNumber {
                if !inDigits { s.append("#") }
                inDigits = true
            } else {
                s.append(ch)
                inDigits = false
            }
        }
        return s
    }
}
