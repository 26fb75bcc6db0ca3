import Foundation

/// A safetensors file that cannot be used: malformed, truncated, or without the tensor asked for.
public struct SafeTensorsError: PipelineError {
    /// The file at fault.
    public let path: String
    /// What is wrong with it.
    public let reason: String
    /// An error about `path`.
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    /// The one-line message.
    public var message: String { "\(path): not a usable safetensors file: \(reason)" }
}

/// The safetensors format: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw little-endian data.
///
/// Three ways to read: `init(path:)` holds a plain file and converts tensors on demand (any dtype in the header,
/// F32, F16 and BF16 readable); `read`/`parse` convert every tensor at once; `stream` reads tensor by tensor into
/// caller-owned buffers. `read` and `stream` take zstd-compressed files too. Sizes read from the file are checked
/// (`Checked`); half and bfloat16 values convert to Float bit-exactly. `write`/`serialize` produce F32 files.
public struct SafeTensors {
    /// Where one tensor lies in the data section, and what it holds.
    public struct Entry: Equatable, Sendable {
        /// The element type (F32, F16, BF16, …).
        public var dtype: String
        /// The tensor's shape.
        public var shape: [Int]
        /// Byte offsets into the data section (after the header), end exclusive.
        public var begin: Int
        /// End offset, exclusive.
        public var end: Int
    }

    /// A tensor converted to Float (row-major).
    public struct Tensor: Equatable {
        /// The tensor's shape.
        public var shape: [Int]
        /// The values, row-major.
        public var values: [Float]
        /// A tensor of `shape` holding `values`.
        public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
    }

    /// The file read.
    public let path: String
    /// Every tensor's entry, by name.
    public let entries: [String: Entry]
    private let data: Data
    private let base: Int

    /// Reads the plain (uncompressed) file at `path` and checks its header; tensors convert in `floats`.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SafeTensorsError(path: path, reason: "cannot read the file")
        }
        let (headerLength, entries) = try data.withUnsafeBytes { raw in
            let n = try Self.headerLength(raw, path: path, fileSize: raw.count)
            let list = try Self.entries(UnsafeRawBufferPointer(rebasing: raw[8..<(8 + n)]), path: path,
                                        dataSize: raw.count - 8 - n, floatsOnly: false)
            return (n, list)
        }
        self.path = path
        self.entries = Dictionary(entries.map { ($0.name, $0.entry) }, uniquingKeysWith: { a, _ in a })
        self.data = data
        self.base = 8 + headerLength
    }

    /// The tensor `name` as Floats (row-major), checking its shape when `shape` is given.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        guard let e = entries[name] else { throw SafeTensorsError(path: path, reason: "no tensor \(name)") }
        if let expected = expected, expected != e.shape {
            throw SafeTensorsError(path: path, reason: "tensor \(name) has shape \(e.shape), expected \(expected)")
        }
        guard let width = SafeTensors.floatWidth(e.dtype) else {
            throw SafeTensorsError(path: path, reason: "tensor \(name): dtype \(e.dtype) is not F32, F16 or BF16")
        }
        let count = (e.end - e.begin) / width
        var out = [Float](repeating: 0, count: count)
        data.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { dst in
                SafeTensors.convert(e.dtype, from: raw.baseAddress! + base + e.begin, count: count,
                                    to: dst.baseAddress!)
            }
        }
        return out
    }

    // MARK: reading everything

    /// Every tensor of the (plain or zstd-compressed) file at `path`, converted to Float.
    public static func read(path: String) throws -> [String: Tensor] {
        let bytes = try ByteReader(path: path).readAll()
        return try parse(bytes, path: path)
    }

    /// Every tensor of the safetensors `bytes`, converted to Float; `path` names them in errors. Tensors of
    /// other dtypes than F32, F16 and BF16 are an error.
    public static func parse(_ bytes: [UInt8], path: String) throws -> [String: Tensor] {
        try bytes.withUnsafeBytes { raw in
            let n = try headerLength(raw, path: path, fileSize: raw.count)
            let start = 8 + n
            let list = try entries(UnsafeRawBufferPointer(rebasing: raw[8..<start]), path: path,
                                   dataSize: raw.count - start, floatsOnly: true)
            var out: [String: Tensor] = [:]
            for (name, e) in list {
                let count = (e.end - e.begin) / floatWidth(e.dtype)!
                var values = [Float](repeating: 0, count: count)
                values.withUnsafeMutableBufferPointer { dst in
                    convert(e.dtype, from: raw.baseAddress! + start + e.begin, count: count, to: dst.baseAddress!)
                }
                out[name] = Tensor(shape: e.shape, values: values)
            }
            return out
        }
    }

    /// Reads tensors one at a time straight into the buffers `destination` returns for them (nil: skip),
    /// without holding the file in memory. `destination` gets the name and shape and must return a buffer of
    /// exactly that many elements. Returns the names found, in file order.
    @discardableResult
    public static func stream(path: String,
                              destination: (String, [Int]) throws -> UnsafeMutablePointer<Float>?) throws -> [String] {
        func bad(_ r: String) -> SafeTensorsError { SafeTensorsError(path: path, reason: r) }
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
        let n = try lenBytes.withUnsafeBytes { try headerLength($0, path: path, fileSize: nil) }
        var headerBytes = [UInt8](repeating: 0, count: n)
        try headerBytes.withUnsafeMutableBytes { if n > 0 { try readExactly(n, into: $0.baseAddress!) } }
        var list = try headerBytes.withUnsafeBytes { try entries($0, path: path, dataSize: nil, floatsOnly: true) }
        list.sort { $0.entry.begin < $1.entry.begin }
        var position = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for (name, e) in list {
            guard e.begin >= position else { throw bad("tensor \(name): overlaps another tensor") }
            while position < e.begin {   // skip a gap
                let k = min(chunk.count, e.begin - position)
                try chunk.withUnsafeMutableBytes { try readExactly(k, into: $0.baseAddress!) }
                position += k
            }
            let dest = try destination(name, e.shape)
            let width = floatWidth(e.dtype)!
            var done = 0
            let count = e.end - e.begin
            while done < count {
                let k = min(chunk.count, count - done)   // a whole number of elements: chunk.count is a multiple of 4
                try chunk.withUnsafeMutableBytes { try readExactly(k, into: $0.baseAddress!) }
                if let dest {
                    chunk.withUnsafeBytes {
                        convert(e.dtype, from: $0.baseAddress!, count: k / width, to: dest + done / width)
                    }
                }
                done += k
            }
            position = e.end
        }
        return list.map(\.name)
    }

    // MARK: the header

    /// The JSON header's length from the first 8 bytes of `raw`; when the file's size is known, the header must
    /// fit in it.
    static func headerLength(_ raw: UnsafeRawBufferPointer, path: String, fileSize size: Int?) throws -> Int {
        guard raw.count >= 8 else { throw SafeTensorsError(path: path, reason: "shorter than 8 bytes") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(raw[i]) << (8 * UInt64(i)) }
        guard n < 100_000_000, size.map({ n <= UInt64($0 - 8) }) ?? true else {
            throw SafeTensorsError(path: path, reason: "header length \(n) exceeds the file or is implausible")
        }
        return Int(n)
    }

    /// The tensors the JSON `header` lists (`__metadata__` aside), each checked: a shape whose element count does
    /// not overflow, offsets that hold exactly that many elements of a known dtype and, when `dataSize` is known,
    /// lie within the data. With `floatsOnly`, a dtype other than F32, F16 or BF16 is an error; otherwise it is
    /// kept (and its size checked when its width is known).
    static func entries(_ header: UnsafeRawBufferPointer, path: String, dataSize: Int?,
                        floatsOnly: Bool) throws -> [(name: String, entry: Entry)] {
        func bad(_ r: String) -> SafeTensorsError { SafeTensorsError(path: path, reason: r) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(header)), let json = object as? [String: Any]
        else { throw bad("header is not a JSON object") }
        var out: [(name: String, entry: Entry)] = []
        for (name, value) in json where name != "__metadata__" {
            // `as? [Int]` takes a JSON number only when it is exactly an Int (not 8.5, not 1e300).
            guard let d = value as? [String: Any], let dtype = d["dtype"] as? String, let shape = d["shape"] as? [Int],
                  let offsets = d["data_offsets"] as? [Int], offsets.count == 2
            else { throw bad("tensor \(name): malformed header entry") }
            guard let count = Checked.product(shape) else {
                throw bad("tensor \(name): shape \(shape) is negative or overflows")
            }
            if floatsOnly, floatWidth(dtype) == nil {
                throw bad("tensor \(name): unsupported dtype \(dtype) (F32, F16 and BF16 are read)")
            }
            // Ordered so that nothing overflows: begin ≥ 0 and end ≥ begin before end − begin; no start + end.
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin,
                  storageWidth(dtype).map({ end - begin == Checked.bytes(count, width: $0) }) ?? true,
                  dataSize.map({ end <= $0 }) ?? true
            else { throw bad("tensor \(name): data offsets do not match its shape or lie beyond the end of the file") }
            out.append((name, Entry(dtype: dtype, shape: shape, begin: begin, end: end)))
        }
        return out
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

    /// Bytes per element of the dtypes read as Float (nil: not one of them).
    static func floatWidth(_ dtype: String) -> Int? {
        switch dtype {
        case "F32": return 4
        case "F16", "BF16": return 2
        default: return nil
        }
    }

    // MARK: conversions

    /// `count` little-endian elements of `dtype` (F32, F16 or BF16) at `src` to Floats at `dst`.
    static func convert(_ dtype: String, from src: UnsafeRawPointer, count: Int, to dst: UnsafeMutablePointer<Float>) {
        switch dtype {
        case "F32":
            #if _endian(little)
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: 4 * count)
            #else
            for i in 0..<count {
                dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i,
                                                                                   as: UInt32.self)))
            }
            #endif
        case "F16":
            for i in 0..<count { dst[i] = halfToFloat(loadUInt16(src, i)) }
        default:   // BF16
            for i in 0..<count { dst[i] = bfloat16ToFloat(loadUInt16(src, i)) }
        }
    }

    /// Element `i` of little-endian UInt16s at `src`.
    private static func loadUInt16(_ src: UnsafeRawPointer, _ i: Int) -> UInt16 {
        UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
    }

    /// IEEE 754 binary16 (its bit pattern) to binary32 exactly as Swift's `Float(Float16(bitPattern:))` converts:
    /// subnormals, infinities, signs and NaN payloads kept; a signalling NaN comes out quiet (IEEE 754's rule).
    public static func halfToFloat(_ h: UInt16) -> Float {
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
        if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mant == 0 ? 0 : 0x0040_0000) | mant << 13) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | mant << 13)
    }

    /// bfloat16 (its bit pattern) to binary32, exactly: the top half of a Float.
    public static func bfloat16ToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    // MARK: writing

    /// The header (8-byte length + JSON padded with spaces to a multiple of 8) for F32 tensors, names sorted.
    static func header(_ sorted: [(String, [Int], UnsafeBufferPointer<Float>)],
                       metadata: [String: String]) throws -> [UInt8] {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for (name, shape, data) in sorted {
            precondition(shape.reduce(1, *) == data.count)
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + data.count * 4]]
                as [String: Any]
            offset += data.count * 4
        }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        let n = UInt64(json.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
        return out + json
    }

    /// The bytes of a safetensors file holding `tensors` (name, shape, values) as F32 (little-endian), names sorted.
    public static func serialize(_ tensors: [(String, [Int], UnsafeBufferPointer<Float>)],
                                 metadata: [String: String] = ["format": "pt"]) throws -> [UInt8] {
        let sorted = tensors.sorted { $0.0 < $1.0 }
        var out = try header(sorted, metadata: metadata)
        for (_, _, data) in sorted {
            for x in data {
                let b = x.bitPattern.littleEndian
                out.append(UInt8(b & 0xFF)); out.append(UInt8((b >> 8) & 0xFF))
                out.append(UInt8((b >> 16) & 0xFF)); out.append(UInt8(b >> 24))
            }
        }
        return out
    }

    /// Streams a safetensors file of `tensors` (as `serialize`) to `path`, zstd-compressed when `compressed`,
    /// without building it in memory; replaced atomically (`FileSystem.atomicReplace`).
    public static func write(_ tensors: [(String, [Int], UnsafeBufferPointer<Float>)], to path: String,
                             compressed: Bool, metadata: [String: String] = ["format": "pt"]) throws {
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
                            for k in 0..<n {
                                raw.storeBytes(of: data[i + k].bitPattern.littleEndian, toByteOffset: 4 * k,
                                               as: UInt32.self)
                            }
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
