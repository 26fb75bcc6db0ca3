import Core

/// The Python 3.11 text semantics only the GSM8K answer parsing and the reward functions depend on:
/// `re`'s `\d` / `str.isdecimal()`, `str.strip()`, `str.split(sep)`, `str.count(sub)` and `float(str)`, on code
/// points (Core's `PythonText` has whitespace, code points and the JSON writer).
extension PythonText {
    /// The first code point (digit zero) of each run of ten Unicode decimal digits (category Nd) in Unicode 14.0,
    /// as Python 3.11's `unicodedata` has them. Tests/GSM8KTests/Fixtures/make_reward_fixtures.py records Python's
    /// tables in the fixture, and RewardTests checks this one (and `isSpace`) against them for every code point.
    public static let decimalZeros: [UInt32] = [
        0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6, 0xE50,
        0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40,
        0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066,
        0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950,
        0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6,
        0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
    ]

    /// The decimal value of a decimal digit (Python's `unicodedata.decimal`), or -1.
    @inline(__always)
    public static func decimalValue(_ v: UInt32) -> Int {
        if v < 0x80 { return v >= 0x30 && v <= 0x39 ? Int(v - 0x30) : -1 }
        // Binary search for the last run starting at or before v.
        var lo = 0, hi = decimalZeros.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if decimalZeros[mid] <= v { lo = mid + 1 } else { hi = mid }
        }
        if lo == 0 { return -1 }
        let d = v - decimalZeros[lo - 1]
        return d < 10 ? Int(d) : -1
    }

    /// `re`'s `\d` for `str` patterns (= `str.isdecimal()` for one character).
    @inline(__always)
    public static func isDecimal(_ v: UInt32) -> Bool { decimalValue(v) >= 0 }

    /// `str.strip()` without arguments, on code points.
    public static func strip(_ s: ArraySlice<UInt32>) -> ArraySlice<UInt32> {
        var lo = s.startIndex, hi = s.endIndex
        while lo < hi && isSpace(s[lo]) { lo += 1 }
        while hi > lo && isSpace(s[hi - 1]) { hi -= 1 }
        return s[lo..<hi]
    }

    /// `str.strip()` without arguments.
    public static func strip(_ s: String) -> String {
        let cps = codePoints(s)
        let r = strip(cps[...])
        if r.count == cps.count { return s }
        return string(r)
    }

    /// `s.split(sep)` as Python does it (non-overlapping, left to right), on code points. `sep` must be non-empty.
    public static func split(_ s: [UInt32], separator sep: [UInt32]) -> [ArraySlice<UInt32>] {
        precondition(!sep.isEmpty)
        var parts: [ArraySlice<UInt32>] = []
        var start = 0, i = 0
        while i + sep.count <= s.count {
            if s[i] == sep[0] && s[i..<(i + sep.count)].elementsEqual(sep) {
                parts.append(s[start..<i])
                i += sep.count
                start = i
            } else {
                i += 1
            }
        }
        parts.append(s[start..<s.count])
        return parts
    }

    /// `s.count(sub)` (non-overlapping occurrences, left to right; an empty `sub` counts `len(s) + 1`).
    public static func count(_ s: [UInt32], _ sub: [UInt32]) -> Int {
        if sub.isEmpty { return s.count + 1 } // Python: "abc".count("") == 4
        let m = sub.count
        guard s.count >= m else { return 0 }
        return s.withUnsafeBufferPointer { sb in
            sub.withUnsafeBufferPointer { pb in
                let first = pb[0]
                var n = 0, i = 0
                let last = sb.count - m
                while i <= last {
                    if sb[i] == first {
                        var j = 1
                        while j < m && sb[i + j] == pb[j] { j += 1 }
                        if j == m { n += 1; i += m; continue }
                    }
                    i += 1
                }
                return n
            }
        }
    }

    /// Python's `float(s)` for a `str`: the value, or nil where Python raises ValueError.
    ///
    /// CPython 3.11 (`PyFloat_FromString`): every non-ASCII whitespace character becomes a space and every
    /// non-ASCII decimal digit its ASCII digit (any other non-ASCII character makes the string invalid);
    /// underscores are allowed only between two digits; ASCII whitespace (space, \t \n \v \f \r — not
    /// U+001C–U+001F) is stripped from both ends; what remains must be entirely `[+-]?` followed by `inf`,
    /// `infinity` or `nan` (any case), or by a decimal number `digits[.digits]` / `.digits` with an optional
    /// exponent `[eE][+-]?digits`. The value is correctly rounded; overflow gives ±inf, underflow ±0.
    public static func float(_ s: String) -> Double? {
        float(codePoints(s)[...])
    }

    /// `float(s)` of a string given as code points.
    public static func float(_ s: ArraySlice<UInt32>) -> Double? {
        // 1. To ASCII.
        var ascii: [UInt8] = []
        ascii.reserveCapacity(s.count)
        var hasUnderscore = false
        for v in s {
            if v < 127 {
                if v == 0 { return nil } // no embedded NULs
                if v == 0x5F { hasUnderscore = true }
                ascii.append(UInt8(v))
            } else if isSpace(v) {
                ascii.append(0x20)
            } else {
                let d = decimalValue(v)
                if d < 0 { return nil }
                ascii.append(UInt8(0x30 + d))
            }
        }
        // 2. Underscores only between digits.
        if hasUnderscore {
            var out: [UInt8] = []
            out.reserveCapacity(ascii.count)
            var prev: UInt8 = 0
            for c in ascii {
                if c == 0x5F {
                    if !(prev >= 0x30 && prev <= 0x39) { return nil }
                } else {
                    out.append(c)
                    if prev == 0x5F && !(c >= 0x30 && c <= 0x39) { return nil }
                }
                prev = c
            }
            if prev == 0x5F { return nil }
            ascii = out
        }
        // 3. Strip ASCII whitespace.
        func isASCIISpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
        var lo = 0, hi = ascii.count
        while lo < hi && isASCIISpace(ascii[lo]) { lo += 1 }
        while hi > lo && isASCIISpace(ascii[hi - 1]) { hi -= 1 }
        if lo == hi { return nil }
        // 4. Grammar.
        var i = lo
        var negative = false
        if ascii[i] == 0x2B || ascii[i] == 0x2D { negative = ascii[i] == 0x2D; i += 1 }
        let rest = ascii[i..<hi].map { $0 | 0x20 } // lower-cased letters (digits and signs are not letters)
        if rest.elementsEqual("inf".utf8) || rest.elementsEqual("infinity".utf8) {
            return negative ? -.infinity : .infinity
        }
        if rest.elementsEqual("nan".utf8) {
            return negative ? -Double.nan : Double.nan
        }
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        var digits = 0
        while i < hi && isDigit(ascii[i]) { i += 1; digits += 1 }
        if i < hi && ascii[i] == 0x2E {
            i += 1
            while i < hi && isDigit(ascii[i]) { i += 1; digits += 1 }
        }
        if digits == 0 { return nil }
        if i < hi && (ascii[i] == 0x65 || ascii[i] == 0x45) {
            i += 1
            if i < hi && (ascii[i] == 0x2B || ascii[i] == 0x2D) { i += 1 }
            var expDigits = 0
            while i < hi && isDigit(ascii[i]) { i += 1; expDigits += 1 }
            if expDigits == 0 { return nil }
        }
        if i != hi { return nil }
        // 5. Value: the syntax is now plain decimal, which Swift's parser rounds correctly as Python's does.
        return Double(String(decoding: ascii[lo..<hi], as: UTF8.self))
    }
}
