import Core

/// The Unicode character semantics the reference scorers get from Python 3.11 (Unicode 14.0) and from the `regex`
/// module (2026.11.19, Unicode 17.0), on code points — beyond what Core's `PythonText` has.
///
/// Swift's stdlib carries newer Unicode data than Python 3.11, so code points assigned after Unicode 14.0 are
/// treated here as Python treats them: unassigned (no case mapping, not alphanumeric). For the `regex` module,
/// which is newer than Swift's data, the few Unicode 17.0 numbers, punctuation and symbols are listed below.
/// MetricsConformanceTests checks every code point against the tables the fixture script records from Python.
public enum PythonUnicode {
    /// Whether Python 3.11's `unicodedata` (Unicode 14.0) knows the scalar.
    @inline(__always)
    static func knownToPython(_ s: Unicode.Scalar) -> Bool {
        guard let age = s.properties.age else { return false }
        return age.major < 14 || (age.major == 14 && age.minor == 0)
    }

    /// `str.isalnum()` of one character: a letter (Lu Ll Lt Lm Lo) or a character with a numeric type.
    public static func isAlphanumeric(_ v: UInt32) -> Bool {
        if v < 0x80 {
            return (v >= 0x30 && v <= 0x39) || (v | 0x20 >= 0x61 && v | 0x20 <= 0x7A)
        }
        guard let s = Unicode.Scalar(v), knownToPython(s) else { return false }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return s.properties.numericType != nil
        }
    }

    /// `re`'s `\w` for `str` patterns: alphanumeric or `_`.
    @inline(__always)
    public static func isWordCharacter(_ v: UInt32) -> Bool { v == 0x5F || isAlphanumeric(v) }

    /// The full lowercase mapping of one code point as Python 3.11 applies it outside the final-sigma context.
    public static func lowercaseMapping(_ v: UInt32, into out: inout [UInt32]) {
        if v < 0x80 {
            out.append(v >= 0x41 && v <= 0x5A ? v + 0x20 : v)
            return
        }
        guard let s = Unicode.Scalar(v), knownToPython(s), s.properties.changesWhenLowercased else {
            out.append(v)
            return
        }
        for u in s.properties.lowercaseMapping.unicodeScalars { out.append(u.value) }
    }

    /// `str.lower()`: the full lowercase mapping of each code point, with capital sigma becoming final sigma
    /// (U+03C2) after a cased letter and not before one (case-ignorable characters skipped), as CPython does.
    public static func lower(_ cps: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(cps.count)
        for (i, v) in cps.enumerated() {
            if v == 0x3A3 {
                out.append(isFinalSigma(cps, at: i) ? 0x3C2 : 0x3C3)
            } else {
                lowercaseMapping(v, into: &out)
            }
        }
        return out
    }

    private static func isCased(_ v: UInt32) -> Bool {
        guard let s = Unicode.Scalar(v), knownToPython(s) else { return false }
        return s.properties.isCased
    }

    private static func isCaseIgnorable(_ v: UInt32) -> Bool {
        guard let s = Unicode.Scalar(v), knownToPython(s) else { return false }
        return s.properties.isCaseIgnorable
    }

    private static func isFinalSigma(_ cps: [UInt32], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && isCaseIgnorable(cps[j]) { j -= 1 }
        guard j >= 0, isCased(cps[j]) else { return false }
        j = i + 1
        while j < cps.count && isCaseIgnorable(cps[j]) { j += 1 }
        return j == cps.count || !isCased(cps[j])
    }

    /// The classes sacrebleu's intl tokenizer asks the `regex` module about: `\p{N}`, `\p{P}`, `\p{S}`.
    public enum IntlClass: UInt8, Sendable {
        case number, punctuation, symbol, other
    }

    /// Code points that the `regex` module (Unicode 17.0) classes as N, P or S and Swift's Unicode data does
    /// not know yet (all of them are unassigned there).
    static let unicode17Additions: [(ClosedRange<UInt32>, IntlClass)] = [
        (0x1246F...0x1246F, .number), (0x12475...0x1247F, .number), (0x12550...0x12686, .number),
        (0x2E60...0x2E63, .punctuation),
        (0x20C2...0x20C4, .symbol), (0x10EC9...0x10ECA, .symbol), (0x1CED2...0x1CED4, .symbol),
        (0x1CEDD...0x1CEDF, .symbol), (0x1CEF1...0x1CEFD, .symbol), (0x1D1EB...0x1D1FF, .symbol),
        (0x1D253...0x1D25A, .symbol), (0x1D25D...0x1D25E, .symbol), (0x1D260...0x1D27F, .symbol),
        (0x1DB00...0x1DB1C, .symbol), (0x1F1AE...0x1F1AE, .symbol), (0x1F6D9...0x1F6D9, .symbol),
        (0x1F7DA...0x1F7DB, .symbol), (0x1F7F1...0x1F7FF, .symbol), (0x1FA8B...0x1FA8D, .symbol),
        (0x1FACC...0x1FACC, .symbol), (0x1FADD...0x1FADD, .symbol), (0x1FAEB...0x1FAEB, .symbol),
        (0x1FAF9...0x1FAFA, .symbol),
    ]

    private static let asciiIntl: [IntlClass] = (0..<128).map { intlClassSlow(UInt32($0)) }

    /// The `regex` module's general-category class of a code point.
    @inline(__always)
    public static func intlClass(_ v: UInt32) -> IntlClass {
        v < 0x80 ? asciiIntl[Int(v)] : intlClassSlow(v)
    }

    private static func intlClassSlow(_ v: UInt32) -> IntlClass {
        guard let s = Unicode.Scalar(v) else { return .other }
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return .punctuation
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: return .symbol
        case .unassigned:
            for (range, cls) in unicode17Additions where range.contains(v) { return cls }
            return .other
        default: return .other
        }
    }
}
