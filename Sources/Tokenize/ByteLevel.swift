import Foundation

/// GPT-2's byte-level alphabet: every byte is shown as one printable Unicode scalar.
/// Printable Latin-1 bytes (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for themselves; the other 68 bytes are mapped,
/// in increasing byte order, to U+0100, U+0101, ...
public enum ByteLevel {
    /// Scalar value shown for each byte.
    public static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// The UTF-8 bytes of each byte's symbol (1 or 2 bytes).
    public static let byteToUTF8: [[UInt8]] = byteToScalar.map { Array(String(Unicode.Scalar($0)!).utf8) }

    /// Inverse map: scalar value (< 324) to byte, or -1.
    public static let scalarToByte: [Int16] = {
        var t = [Int16](repeating: -1, count: 324)
        for (b, s) in byteToScalar.enumerated() { t[Int(s)] = Int16(b) }
        return t
    }()

    /// The symbol string of raw bytes (each byte becomes its symbol).
    public static func encode<S: Sequence>(_ bytes: S) -> [UInt8] where S.Element == UInt8 {
        var out: [UInt8] = []
        for b in bytes { out.append(contentsOf: byteToUTF8[Int(b)]) }
        return out
    }

    /// The raw bytes of a symbol string, or nil when it holds a scalar outside the byte alphabet.
    public static func decode(_ symbols: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(symbols.count)
        var i = 0
        while i < symbols.count {
            let b0 = symbols[i]
            if b0 < 0x80 {
                let v = scalarToByte[Int(b0)]
                if v < 0 { return nil }
                out.append(UInt8(v)); i += 1
            } else if b0 & 0xE0 == 0xC0, i + 1 < symbols.count {
                let s = (Int(b0 & 0x1F) << 6) | Int(symbols[i + 1] & 0x3F)
                guard s < scalarToByte.count, scalarToByte[s] >= 0 else { return nil }
                out.append(UInt8(scalarToByte[s])); i += 2
            } else {
                return nil
            }
        }
        return out
    }
}
