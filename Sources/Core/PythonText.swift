/// Python 3.11 text semantics (Unicode 14.0), reproduced exactly where the reference scripts depend on them:
/// `str.isspace()` / `str.strip()` / `re`'s `\s`, `re`'s `\d` / `str.isdecimal()`, and `float(str)`.
///
/// Swift's own notions differ: `Character.isWhitespace` and `String` comparison work on grapheme clusters with
/// canonical equivalence, `Double(String)` accepts hexadecimal floats and `nan(…)`, and none of them accept
/// Python's underscores or non-ASCII decimal digits. Everything here works on Unicode scalars (code points), as
/// Python's `str` does.
public enum PythonText {
    /// Python's whitespace (`str.isspace()`, the `\s` of `re` for `str` patterns, what `str.strip()` removes):
    /// \t \n \v \f \r, U+001C–U+001F, space, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F,
    /// U+205F, U+3000.
    @inlinable @inline(__always)
    public static func isSpace(_ v: UInt32) -> Bool {
        // ASCII (nearly every call): one shift of a mask with bits 9–13 and 28–32 set.
        if v < 0x80 { return v < 64 && (0x1_F000_3E00 as UInt64) >> UInt64(v) & 1 != 0 }
        switch v {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// The first code point (digit zero) of each run of ten Unicode decimal digits (category Nd) in Unicode 14.0,
    /// as Python 3.11's `unicodedata` has them. Tests/TrainTests/Fixtures/make_reward_fixtures.py records Python's
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

    /// The code points of a string (what Python's `str` indexes).
    public static func codePoints(_ s: String) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars { out.append(u.value) }
        return out
    }

    /// The string of code points (invalid ones — surrogates, beyond U+10FFFF — are dropped).
    public static func string(_ codePoints: ArraySlice<UInt32>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(codePoints.count)
        for v in codePoints { appendUTF8(v, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func string(_ codePoints: [UInt32]) -> String { string(codePoints[...]) }

    @inline(__always)
    @inlinable
    public static func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        if v < 0x80 {
            out.append(UInt8(v))
        } else if v < 0x800 {
            out.append(UInt8(0xC0 | (v >> 6))); out.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            if v >= 0xD800 && v < 0xE000 { return }
            out.append(UInt8(0xE0 | (v >> 12))); out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x110000 {
            out.append(UInt8(0xF0 | (v >> 18))); out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    /// `repr(x)` of a finite Python float: the shortest round-tripping digits, in fixed notation when the decimal
    /// exponent is in [-4, 16), else as `d.ddde±XX`; fixed notation always has a fractional part (`3.0`).
    public static func floatRepr(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        var text = "\(x.magnitude)" // Swift's shortest round-trip digits, in its own notation
        var exp = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exp = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0]), fracPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = Array(intPart + fracPart)
        var decpt = intPart.count + exp
        while let f = digits.first, f == "0" { digits.removeFirst(); decpt -= 1 }
        while let l = digits.last, l == "0" { digits.removeLast() }
        let sign = x.sign == .minus ? "-" : ""
        if digits.isEmpty { return sign + "0.0" }
        if decpt > -4 && decpt <= 16 {
            if decpt <= 0 { return sign + "0." + String(repeating: "0", count: -decpt) + String(digits) }
            if decpt >= digits.count {
                return sign + String(digits) + String(repeating: "0", count: decpt - digits.count) + ".0"
            }
            return sign + String(digits[..<decpt]) + "." + String(digits[decpt...])
        }
        let e = decpt - 1
        let mantissa = digits.count == 1 ? String(digits) : String(digits[0]) + "." + String(digits[1...])
        let expText = String(abs(e))
        return sign + mantissa + "e" + (e < 0 ? "-" : "+") + (expText.count < 2 ? "0" : "") + expText
    }

    /// Appends `s` as a JSON string the way Python's `json.dumps(..., ensure_ascii=False)` writes it: `"` and
    /// `\\` escaped, \b \f \n \r \t by name, other characters below U+0020 as `\u00xx`; everything else as UTF-8.
    /// The one JSON string writer of the project (serde_json writes strings the same way, so `tokenizer.json`
    /// uses it too).
    public static func appendJSONString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendJSONString(utf8: $0, to: &out) }
    }

    /// `appendJSONString` of text given as its UTF-8 bytes.
    public static func appendJSONString(utf8 buf: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(0x22)
        var runStart = 0
        var i = 0
        let n = buf.count
        while i < n {
            let b = buf[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C { i += 1; continue }
            if i > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<i])) }
            appendJSONEscape(b, to: &out)
            i += 1
            runStart = i
        }
        if n > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[runStart..<n])) }
        out.append(0x22)
    }

    /// `appendJSONString` of text given as its UTF-8 bytes (a tokenizer's token, say).
    public static func appendJSONString(utf8 bytes: [UInt8], to out: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { appendJSONString(utf8: $0, to: &out) }
    }

    /// `appendJSONString` of text given as Unicode code points.
    public static func appendJSONString(codePoints s: ArraySlice<UInt32>, to out: inout [UInt8]) {
        out.append(0x22)
        out.reserveCapacity(out.count + s.count + 16)
        for v in s {
            // Printable ASCII other than '"' and '\\' (most text) is copied as is.
            if v >= 0x20 && v < 0x80 && v != 0x22 && v != 0x5C { out.append(UInt8(truncatingIfNeeded: v)); continue }
            if v < 0x20 || v == 0x22 || v == 0x5C {
                appendJSONEscape(UInt8(truncatingIfNeeded: v), to: &out)
            } else {
                appendUTF8(v, to: &out)
            }
        }
        out.append(0x22)
    }

    /// The JSON escape of `"`, `\\` or a control character (< 0x20): `\\n`-style where JSON has one, else `\\u00XX`.
    @inlinable
    public static func appendJSONEscape(_ b: UInt8, to out: inout [UInt8]) {
        switch b {
        case 0x22: out.append(0x5C); out.append(0x22)
        case 0x5C: out.append(0x5C); out.append(0x5C)
        case 0x0A: out.append(0x5C); out.append(0x6E)
        case 0x0D: out.append(0x5C); out.append(0x72)
        case 0x09: out.append(0x5C); out.append(0x74)
        case 0x08: out.append(0x5C); out.append(0x62)
        case 0x0C: out.append(0x5C); out.append(0x66)
        default:
            let hex: (UInt8) -> UInt8 = { $0 < 10 ? 0x30 + $0 : 0x57 + $0 }
            out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex(b >> 4), hex(b & 15)])
        }
    }

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
