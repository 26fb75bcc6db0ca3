import Foundation

/// Character classes of the GPT-2 pre-tokenizer pattern.
public enum CharClass: UInt8 {
    /// Anything else: `[^\s\p{L}\p{N}]`.
    case other = 0
    /// `\p{L}`: general categories Lu, Ll, Lt, Lm, Lo.
    case letter = 1
    /// `\p{N}`: Nd, Nl, No.
    case number = 2
    /// `\s`: the Unicode White_Space property.
    case space = 3
}

/// Two-level lookup table of `CharClass` for every code point, computed once from Swift's
/// `Unicode.Scalar.Properties` (256-code-point blocks, identical blocks shared).
///
/// The reference (`tokenizers`, through Oniguruma) knows Unicode 16.0; Swift's tables may be newer. Characters
/// assigned after `unicodeVersion` are unassigned (class other) for the reference, so they are here too.
public enum UnicodeClasses {
    /// The Unicode version whose assignments decide the classes.
    public static let unicodeVersion = (major: 16, minor: 0)

    static let tables: (index: [UInt16], blocks: [UInt8]) = {
        var index = [UInt16](repeating: 0, count: 0x110000 >> 8)
        var blocks: [UInt8] = []
        var seen: [[UInt8]: UInt16] = [:]
        var block = [UInt8](repeating: 0, count: 256)
        for hi in 0..<(0x110000 >> 8) {
            // Planes 4-13 hold no characters in Unicode 16.0, planes 15-16 only private use (class other):
            // their blocks are all "other" without asking each scalar.
            let plane = hi >> 8
            if (4...13).contains(plane) || plane >= 15 {
                for lo in 0..<256 { block[lo] = CharClass.other.rawValue }
            } else {
            for lo in 0..<256 {
                let cp = UInt32(hi << 8 | lo)
                var c = CharClass.other
                if let s = Unicode.Scalar(cp) {
                    let p = s.properties
                    switch p.generalCategory {
                    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
                        c = .letter
                    case .decimalNumber, .letterNumber, .otherNumber:
                        c = .number
                    case .spaceSeparator, .lineSeparator, .paragraphSeparator, .control:
                        // Every White_Space character is in one of these categories.
                        c = p.isWhitespace ? .space : .other
                    default:
                        c = .other
                    }
                    if c != .other, let age = p.age,
                       (age.major, age.minor) > (unicodeVersion.major, unicodeVersion.minor) {
                        c = .other
                    }
                }
                block[lo] = c.rawValue
            }
            }
            if let k = seen[block] {
                index[hi] = k
            } else {
                let k = UInt16(blocks.count >> 8)
                seen[block] = k
                index[hi] = k
                blocks.append(contentsOf: block)
            }
        }
        return (index, blocks)
    }()

    /// The class of a code point (values above U+10FFFF are `.other`).
    public static func classify(_ cp: UInt32) -> CharClass {
        CharClass(rawValue: rawClass(cp))!
    }

    @inline(__always)
    static func rawClass(_ cp: UInt32) -> UInt8 {
        if cp >= 0x110000 { return 0 }
        let t = tables
        return t.blocks[Int(t.index[Int(cp >> 8)]) << 8 | Int(cp & 0xFF)]
    }
}

/// A hand-written scanner equivalent to GPT-2's pre-tokenization pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// on UTF-8 bytes (the input must be valid UTF-8; invalid input is reported, not read past).
public struct PreTokenizer {
    let index: UnsafeMutablePointer<UInt16>
    let blocks: UnsafeMutablePointer<UInt8>
    let indexCount: Int
    let blocksCount: Int

    /// The ByteLevel pre-tokenizer over the bundled Unicode tables.
    public init() {
        let t = UnicodeClasses.tables
        indexCount = t.index.count
        blocksCount = t.blocks.count
        index = .allocate(capacity: indexCount)
        index.initialize(from: t.index, count: indexCount)
        blocks = .allocate(capacity: blocksCount)
        blocks.initialize(from: t.blocks, count: blocksCount)
    }

    /// Frees the tables (call once when done).
    public func deallocate() {
        index.deallocate()
        blocks.deallocate()
    }

    @inline(__always)
    func cls(_ cp: UInt32) -> UInt8 {
        blocks[Int(index[Int(cp >> 8)]) << 8 | Int(cp & 0xFF)]
    }

    /// Decodes one scalar at `i`: (code point, length); length 0 means invalid UTF-8 at `i`.
    @inline(__always)
    static func decode(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (UInt32, Int) {
        let b0 = p[i]
        if b0 < 0x80 { return (UInt32(b0), 1) }
        if b0 < 0xC2 { return (0, 0) }
        if b0 < 0xE0 {
            guard i + 1 < n, p[i + 1] & 0xC0 == 0x80 else { return (0, 0) }
            return (UInt32(b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2)
        }
        if b0 < 0xF0 {
            guard i + 2 < n, p[i + 1] & 0xC0 == 0x80, p[i + 2] & 0xC0 == 0x80 else { return (0, 0) }
            let cp = UInt32(b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F)
            if cp < 0x800 || (cp >= 0xD800 && cp < 0xE000) { return (0, 0) }
            return (cp, 3)
        }
        if b0 < 0xF5 {
            guard i + 3 < n, p[i + 1] & 0xC0 == 0x80, p[i + 2] & 0xC0 == 0x80, p[i + 3] & 0xC0 == 0x80 else {
                return (0, 0)
            }
            let cp = UInt32(b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
                | UInt32(p[i + 3] & 0x3F)
            if cp < 0x10000 || cp > 0x10FFFF { return (0, 0) }
            return (cp, 4)
        }
        return (0, 0)
    }

    /// Calls `body(start, end)` for each piece of `p[0..<n]`, in order. Returns nil, or the byte offset of the
    /// first invalid UTF-8 sequence (pieces before it have been reported).
    @inline(__always)
    public func split(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void) -> Int? {
        var i = 0
        while i < n {
            let b0 = p[i]
            // Contractions: 's 't 'm 'd 're 've 'll
            if b0 == 0x27, i + 1 < n {
                let b1 = p[i + 1]
                if b1 == 0x73 || b1 == 0x74 || b1 == 0x6D || b1 == 0x64 {
                    body(i, i + 2); i += 2; continue
                }
                if i + 2 < n {
                    let b2 = p[i + 2]
                    if (b1 == 0x72 && b2 == 0x65) || (b1 == 0x76 && b2 == 0x65) || (b1 == 0x6C && b2 == 0x6C) {
                        body(i, i + 3); i += 3; continue
                    }
                }
            }
            let (c0, l0) = PreTokenizer.decode(p, i, n)
            if l0 == 0 { return i }
            var k = i + l0
            var c = cls(c0)
            if b0 == 0x20 && k < n {
                let (c1, l1) = PreTokenizer.decode(p, k, n)
                if l1 == 0 { return k }
                let k1 = cls(c1)
                if k1 != CharClass.space.rawValue {
                    c = k1
                    k += l1
                }
            }
            if c != CharClass.space.rawValue {
                // A run of the same class (letters, numbers or other).
                while k < n {
                    let b = p[k]
                    if b < 0x80 {
                        if cls(UInt32(b)) != c { break }
                        k += 1
                    } else {
                        let (cp, l) = PreTokenizer.decode(p, k, n)
                        if l == 0 { body(i, k); return k }
                        if cls(cp) != c { break }
                        k += l
                    }
                }
                body(i, k)
                i = k
                continue
            }
            // Whitespace: the whole run if it ends the text; else all but its last character (which then
            // prefixes the next piece or stands alone), unless the run is a single character.
            var last = i
            while k < n {
                let (cp, l) = PreTokenizer.decode(p, k, n)
                if l == 0 {
                    // Report the pieces as the pattern would see them up to the invalid byte.
                    body(i, k); return k
                }
                if cls(cp) != CharClass.space.rawValue { break }
                last = k
                k += l
            }
            if k == n || last == i {
                body(i, k); i = k
            } else {
                body(i, last); i = last
            }
        }
        return nil
    }
}
