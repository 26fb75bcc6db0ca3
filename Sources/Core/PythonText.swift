/// Python 3.11 text semantics (Unicode 14.0), reproduced exactly where the reference scripts depend on them:
/// `str.isspace()` / `re`'s `\s`, code points, and the JSON strings and float `repr` of Python's `json.dumps`.
/// The GSM8K module extends it with `str.strip()`, `str.split()`, `str.count()`, `re`'s `\d` and `float(str)`.
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

    /// The string of code points (invalid ones are dropped).
    public static func string(_ codePoints: [UInt32]) -> String { string(codePoints[...]) }

    /// Appends the UTF-8 encoding of code point `v` (invalid ones are dropped).
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
}
