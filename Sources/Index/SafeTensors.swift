import Core
import Foundation

/// A reader for the safetensors format: 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw tensor bytes.
/// Tensors of dtype F32, F16 and BF16 are returned as Float arrays.
public struct SafeTensors {
    public struct Entry {
        public var dtype: String
        public var shape: [Int]
        public var begin: Int
        public var end: Int
    }

    public let path: String
    public let entries: [String: Entry]
    private let data: Data
    private let base: Int

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IndexError.safetensors(path: path, reason: "cannot read the file")
        }
        guard data.count >= 8 else { throw IndexError.safetensors(path: path, reason: "shorter than 8 bytes") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else {
            throw IndexError.safetensors(path: path, reason: "header length \(headerLength) exceeds the file")
        }
        let headerData = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + Int(headerLength)))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw IndexError.safetensors(path: path, reason: "header is not a JSON object")
        }
        let dataSize = data.count - 8 - Int(headerLength)
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let obj = value as? [String: Any], let dtype = obj["dtype"] as? String,
                  let shape = obj["shape"] as? [Int], let offsets = obj["data_offsets"] as? [Int], offsets.count == 2
            else { throw IndexError.safetensors(path: path, reason: "tensor \(name): malformed header entry") }
            guard let count = Checked.product(shape) else {
                throw IndexError.safetensors(path: path, reason: "tensor \(name): shape \(shape) is negative or overflows")
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataSize,
                  SafeTensors.storageWidth(dtype).map({ offsets[1] - offsets[0] == Checked.bytes(count, width: $0) }) ?? true
            else { throw IndexError.safetensors(path: path, reason: "tensor \(name): data offsets do not fit its shape") }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
        }
        self.path = path
        self.entries = entries
        self.data = data
        self.base = 8 + Int(headerLength)
    }

    /// Bytes per element of every safetensors dtype (nil: unknown, not checked).
    static func storageWidth(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64", "U64": return 8
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": return 1
        default: return nil
        }
    }

    /// Bytes per element of the dtypes `floats` reads.
    static func width(_ dtype: String) -> Int? {
        switch dtype {
        case "F32": return 4
        case "F16", "BF16": return 2
        default: return nil
        }
    }

    /// The tensor `name` as Floats (row-major), checking its shape when `shape` is given.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        guard let e = entries[name] else { throw IndexError.safetensors(path: path, reason: "no tensor \(name)") }
        if let expected = expected, expected != e.shape {
            throw IndexError.safetensors(path: path, reason: "tensor \(name) has shape \(e.shape), expected \(expected)")
        }
        guard SafeTensors.width(e.dtype) != nil else {
            throw IndexError.safetensors(path: path, reason: "tensor \(name): dtype \(e.dtype) is not F32, F16 or BF16")
        }
        let count = e.shape.reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let src = raw.baseAddress!.advanced(by: base + e.begin)
            out.withUnsafeMutableBufferPointer { dst in
                switch e.dtype {
                case "F32":
                    for i in 0..<count {
                        dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    }
                case "F16":
                    for i in 0..<count {
                        let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                        dst[i] = SafeTensors.halfToFloat(bits)
                    }
                default: // BF16
                    for i in 0..<count {
                        let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                        dst[i] = Float(bitPattern: UInt32(bits) << 16)
                    }
                }
            }
        }
        return out
    }

    /// IEEE 754 binary16 to binary32 (exact, including subnormals, infinities and NaN).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1f)
        var mant = UInt32(h & 0x3ff)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            var e = -1
            repeat { e += 1; mant <<= 1 } while mant & 0x400 == 0
            mant &= 0x3ff
            return Float(bitPattern: sign | UInt32(127 - 15 - e) << 23 | mant << 13)
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | mant << 13) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | mant << 13)
    }
}
