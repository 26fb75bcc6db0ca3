import Core
import Foundation

/// Reader and writer of the safetensors format: 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw little-endian data.
/// We write F32 only; we read F32, F16 and BF16 (converted to Float). Files may be zstd-compressed.
public enum SafeTensors {
    public struct Tensor: Equatable {
        public var shape: [Int]
        public var values: [Float]
        public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
    }

    public static func read(path: String) throws -> [String: Tensor] {
        let bytes = try ByteReader(path: path).readAll()
        return try parse(bytes, path: path)
    }

    public static func parse(_ bytes: [UInt8], path: String) throws -> [String: Tensor] {
        func bad(_ r: String) -> TrainError { .badCheckpoint(path: path, reason: r) }
        guard bytes.count >= 8 else { throw bad("too short for a safetensors file") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(bytes.count - 8) else { throw bad("header length \(n) beyond the end of the file") }
        let start = 8 + Int(n)
        guard let obj = try? JSONSerialization.jsonObject(with: Data(bytes[8..<start])), let header = obj as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        var out: [String: Tensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let d = value as? [String: Any], let dtype = d["dtype"] as? String,
                  let shape = (d["shape"] as? [NSNumber])?.map({ $0.intValue }),
                  let offs = (d["data_offsets"] as? [NSNumber])?.map({ $0.intValue }), offs.count == 2 else {
                throw bad("tensor \(name): malformed header entry")
            }
            guard let count = Checked.product(shape) else { throw bad("tensor \(name): shape \(shape) is negative or overflows") }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            default: throw bad("tensor \(name): unsupported dtype \(dtype) (F32, F16 and BF16 are read)")
            }
            // Ordered so that nothing overflows: begin ≥ 0 and end ≥ begin before end − begin; no start + end.
            guard offs[0] >= 0, offs[1] >= offs[0], offs[1] - offs[0] == Checked.bytes(count, width: width),
                  offs[1] <= bytes.count - start else {
                throw bad("tensor \(name): data offsets do not match its shape or lie beyond the end of the file")
            }
            var values = [Float](repeating: 0, count: count)
            bytes.withUnsafeBufferPointer { raw in
                let base = raw.baseAddress! + start + offs[0]
                for i in 0..<count {
                    let q = base + i * width
                    switch dtype {
                    case "F32":
                        let bits = UInt32(q[0]) | UInt32(q[1]) << 8 | UInt32(q[2]) << 16 | UInt32(q[3]) << 24
                        values[i] = Float(bitPattern: bits)
                    case "BF16":
                        values[i] = Float(bitPattern: (UInt32(q[0]) | UInt32(q[1]) << 8) << 16)
                    default:
                        values[i] = halfToFloat(UInt16(q[0]) | UInt16(q[1]) << 8)
                    }
                }
            }
            out[name] = Tensor(shape: shape, values: values)
        }
        return out
    }

    /// Reads tensors one at a time straight into the buffers `destination` returns for them (nil: skip),
    /// without holding the file in memory. `destination` gets the name and shape and must return a buffer of
    /// exactly that many elements. Returns the names found.
    @discardableResult
    public static func stream(path: String, destination: (String, [Int]) throws -> UnsafeMutablePointer<Float>?) throws -> [String] {
        func bad(_ r: String) -> TrainError { .badCheckpoint(path: path, reason: r) }
        let reader = try ByteReader(path: path)
        func readExactly(_ n: Int, into p: UnsafeMutableRawPointer) throws {
            var got = 0
            while got < n {
                let k = try reader.read(into: UnsafeMutableRawBufferPointer(start: p + got, count: n - got))
                if k == 0 { throw bad("ends early (truncated safetensors file)") }
                got += k
            }
        }
        var lenBytes = [UInt8](repeating: 0, count: 8)
        try lenBytes.withUnsafeMutableBytes { try readExactly(8, into: $0.baseAddress!) }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(lenBytes[i]) << (8 * UInt64(i)) }
        guard n < 100_000_000 else { throw bad("header length \(n) is implausible") }
        var headerBytes = [UInt8](repeating: 0, count: Int(n))
        try headerBytes.withUnsafeMutableBytes { if n > 0 { try readExactly(Int(n), into: $0.baseAddress!) } }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(headerBytes)), let header = obj as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        struct Entry { let name: String; let dtype: String; let shape: [Int]; let begin: Int; let end: Int }
        var entries: [Entry] = []
        for (name, value) in header where name != "__metadata__" {
            guard let d = value as? [String: Any], let dtype = d["dtype"] as? String,
                  let shape = (d["shape"] as? [NSNumber])?.map({ $0.intValue }),
                  let offs = (d["data_offsets"] as? [NSNumber])?.map({ $0.intValue }), offs.count == 2 else {
                throw bad("tensor \(name): malformed header entry")
            }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            default: throw bad("tensor \(name): unsupported dtype \(dtype) (F32, F16 and BF16 are read)")
            }
            guard let count = Checked.product(shape) else { throw bad("tensor \(name): shape \(shape) is negative or overflows") }
            guard offs[0] >= 0, offs[1] >= offs[0], offs[1] - offs[0] == Checked.bytes(count, width: width) else {
                throw bad("tensor \(name): data offsets do not match its shape")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: offs[0], end: offs[1]))
        }
        entries.sort { $0.begin < $1.begin }
        var position = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for e in entries {
            guard e.begin >= position else { throw bad("tensor \(e.name): overlaps another tensor") }
            // skip a gap
            while position < e.begin {
                let k = min(chunk.count, e.begin - position)
                try chunk.withUnsafeMutableBytes { try readExactly(k, into: $0.baseAddress!) }
                position += k
            }
            let dest = try destination(e.name, e.shape)
            let width = e.dtype == "F32" ? 4 : 2
            var done = 0
            let count = e.end - e.begin
            while done < count {
                let k = min(chunk.count, count - done)
                try chunk.withUnsafeMutableBytes { try readExactly(k, into: $0.baseAddress!) }
                if let dest {
                    let first = done / width
                    chunk.withUnsafeBytes { raw in
                        for i in 0..<(k / width) {
                            switch e.dtype {
                            case "F32": dest[first + i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                            case "BF16": dest[first + i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                            default: dest[first + i] = halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                            }
                        }
                    }
                }
                done += k
            }
            position = e.end
        }
        return entries.map(\.name)
    }

    static func halfToFloat(_ h: UInt16) -> Float {
        let sign: Float = h & 0x8000 != 0 ? -1 : 1
        let exp = Int((h >> 10) & 0x1F), frac = Float(h & 0x3FF)
        if exp == 0 { return sign * frac * Float(Foundation.pow(2.0, -24.0)) }
        if exp == 31 { return frac == 0 ? sign * .infinity : .nan }
        return sign * (1 + frac / 1024) * Float(Foundation.pow(2.0, Double(exp - 15)))
    }

    /// The header (8-byte length + JSON padded with spaces to a multiple of 8) for F32 tensors, names sorted.
    static func header(_ sorted: [(String, [Int], UnsafeBufferPointer<Float>)], metadata: [String: String]) throws -> [UInt8] {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for (name, shape, data) in sorted {
            precondition(shape.reduce(1, *) == data.count)
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + data.count * 4]] as [String: Any]
            offset += data.count * 4
        }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        let n = UInt64(json.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
        return out + json
    }

    /// The bytes of a safetensors file holding `tensors` as F32 (little-endian), names sorted.
    public static func serialize(_ tensors: [(String, [Int], UnsafeBufferPointer<Float>)], metadata: [String: String] = ["format": "pt"]) throws -> [UInt8] {
        let sorted = tensors.sorted { $0.0 < $1.0 }
        var out = try header(sorted, metadata: metadata)
        for (_, _, data) in sorted {
            for x in data {
                let b = x.bitPattern.littleEndian
                out.append(UInt8(b & 0xFF)); out.append(UInt8((b >> 8) & 0xFF)); out.append(UInt8((b >> 16) & 0xFF)); out.append(UInt8(b >> 24))
            }
        }
        return out
    }

    /// Streams a safetensors file to `path` (zstd when `compressed`) without building it in memory: a temporary
    /// file beside it, fsync, rename (atomic).
    public static func write(_ tensors: [(String, [Int], UnsafeBufferPointer<Float>)], to path: String, compressed: Bool,
                             metadata: [String: String] = ["format": "pt"]) throws {
        let sorted = tensors.sorted { $0.0 < $1.0 }
        let head = try header(sorted, metadata: metadata)
        try FileSystem.atomicReplace(path) { tmp in
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            func emit(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
                try head.withUnsafeBytes { try sink($0) }
                for (_, _, data) in sorted {
                    var i = 0
                    while i < data.count {
                        let n = min(data.count - i, chunk.count / 4)
                        chunk.withUnsafeMutableBytes { raw in
                            for k in 0..<n { raw.storeBytes(of: data[i + k].bitPattern.littleEndian, toByteOffset: 4 * k, as: UInt32.self) }
                        }
                        try chunk.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<(4 * n)])) }
                        i += n
                    }
                }
            }
            if compressed {
                let w = try ZstdWriter(path: tmp)
                try emit { try w.write($0) }
                try w.close()
            } else {
                let w = try FileOutput(path: tmp)
                try emit { try w.write($0) }
                try w.close()
            }
        }
    }
}
