import Foundation
import XCTest
@testable import Core

/// The one safetensors reader/writer: exact half and bfloat16 conversions, its three readers agreeing bit for bit,
/// and the writer's bytes.
final class SafeTensorsCoreTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "core-st-\(UUID().uuidString)"
        try FileSystem.makeDirectory(dir)
    }

    override func tearDown() { FileSystem.remove(dir) }

    /// Every one of the 65,536 binary16 bit patterns converts as Swift's own Float16 → Float does (the
    /// hardware's or compiler-rt's conversion), NaN payloads and signs included.
    func testHalfToFloatIsExactForEveryBitPattern() throws {
        #if os(macOS) && arch(x86_64)
        throw XCTSkip("Float16 is not available on macOS x86_64")
        #else
        var wrong: [String] = []
        for h in 0...UInt16.max {
            let ours = SafeTensors.halfToFloat(h).bitPattern
            let swift = Float(Float16(bitPattern: h)).bitPattern
            if ours != swift { wrong.append(String(format: "%04x: %08x, Swift %08x", h, ours, swift)) }
        }
        XCTAssertEqual(wrong.count, 0, "first differences: \(wrong.prefix(8))")
        #endif
    }

    /// bfloat16 is the top half of a binary32: every pattern converts by a shift (NaNs included).
    func testBFloat16ToFloatIsTheTopHalfForEveryBitPattern() {
        var wrong = 0
        for b in 0...UInt16.max where SafeTensors.bfloat16ToFloat(b).bitPattern != UInt32(b) << 16 { wrong += 1 }
        XCTAssertEqual(wrong, 0)
        XCTAssertEqual(SafeTensors.bfloat16ToFloat(0x3F80), 1)
        XCTAssertEqual(SafeTensors.bfloat16ToFloat(0xC040), -3)
    }

    /// A file with every F16 and every BF16 bit pattern and some F32 NaN payloads: the on-demand, whole-file and
    /// streaming readers (plain and zstd) all give the converted bits unchanged (no NaN made canonical).
    func testTheReadersAgreeBitForBitOnEveryPattern() throws {
        let all = (0...UInt16.max).map { $0 }
        var data: [UInt8] = []
        for h in all { data += [UInt8(h & 0xFF), UInt8(h >> 8)] }                 // F16
        for b in all { data += [UInt8(b & 0xFF), UInt8(b >> 8)] }                 // BF16
        let f32: [UInt32] = [0x7FC0_0001, 0xFFA0_0000, 0x7F80_0001, 0x3F80_0000, 0x0000_0001, 0x8000_0000]
        for w in f32 { data += (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
        let n = all.count
        let header = #"{"__metadata__":{"format":"pt"},"h":{"dtype":"F16","shape":[256,256],"data_offsets":[0,"#
            + "\(2 * n)]}," + #""b":{"dtype":"BF16","shape":["# + "\(n)" + #"],"data_offsets":["#
            + "\(2 * n),\(4 * n)]},"
            + #""f":{"dtype":"F32","shape":[6],"data_offsets":["# + "\(4 * n),\(4 * n + 24)]}}"
        var bytes: [UInt8] = []
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: header.utf8.count >> (8 * i))) }
        bytes += Array(header.utf8) + data
        let plain = dir + "/all.safetensors", packed = dir + "/all.safetensors.zst"
        try FileSystem.atomicWrite(bytes, to: plain)
        let w = try ZstdWriter(path: packed)
        try bytes.withUnsafeBytes { try w.write($0) }
        try w.close()

        let expected: [String: [UInt32]] = [
            "h": all.map { SafeTensors.halfToFloat($0).bitPattern },
            "b": all.map { UInt32($0) << 16 },
            "f": f32,
        ]
        let onDemand = try SafeTensors(path: plain)
        for (name, bits) in expected {
            XCTAssertEqual(try onDemand.floats(name).map(\.bitPattern), bits, name)
        }
        for path in [plain, packed] {
            let whole = try SafeTensors.read(path: path)
            XCTAssertEqual(whole["h"]?.shape, [256, 256])
            var buffers: [String: UnsafeMutablePointer<Float>] = [:]
            defer { buffers.values.forEach { $0.deallocate() } }
            let names = try SafeTensors.stream(path: path) { name, shape in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: shape.reduce(1, *))
                buffers[name] = p
                return p
            }
            XCTAssertEqual(names, ["h", "b", "f"])
            for (name, bits) in expected {
                XCTAssertEqual(whole[name]?.values.map(\.bitPattern), bits, "\(path) \(name)")
                let streamed = UnsafeBufferPointer(start: buffers[name]!, count: bits.count)
                XCTAssertEqual(streamed.map(\.bitPattern), bits, "\(path) \(name) streamed")
            }
        }
    }

    /// The writer's bytes: the header as before (sorted compact JSON, padded with spaces to a multiple of 8, F32
    /// little-endian data in name order); `write` plain and compressed hold exactly `serialize`'s bytes.
    func testWriterBytes() throws {
        let a: [Float] = [0.5], b: [Float] = [1, -2]
        let bytes = try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                let tensors = [("b", [2], pb), ("a", [1], pa)]
                try SafeTensors.write(tensors, to: dir + "/t.safetensors", compressed: false)
                try SafeTensors.write(tensors, to: dir + "/t.safetensors.zst", compressed: true)
                return try SafeTensors.serialize(tensors)
            }
        }
        var json = #"{"__metadata__":{"format":"pt"},"a":{"data_offsets":[0,4],"dtype":"F32","shape":[1]},"#
            + #""b":{"data_offsets":[4,12],"dtype":"F32","shape":[2]}}"#
        while json.utf8.count % 8 != 0 { json += " " }
        var expected: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: json.utf8.count >> (8 * $0)) }
        expected += Array(json.utf8)
        expected += [0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]
        XCTAssertEqual(bytes, expected)
        XCTAssertEqual(try ByteReader(path: dir + "/t.safetensors").readAll(), expected)
        XCTAssertEqual(try ByteReader(path: dir + "/t.safetensors.zst").readAll(), expected)
        XCTAssertTrue(try ByteReader(path: dir + "/t.safetensors.zst").isCompressed)
        XCTAssertEqual(try SafeTensors.read(path: dir + "/t.safetensors.zst")["b"]?.values, b)
        // no temporary file is left beside the outputs
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(),
                       ["t.safetensors", "t.safetensors.zst"])
    }

    /// Malformed files are one `SafeTensorsError` naming the file; a dtype the whole-file readers cannot convert
    /// is an error there, but the on-demand reader keeps it (a BERT checkpoint's I64 `position_ids`).
    func testErrors() throws {
        func file(_ header: String, data: Int) -> [UInt8] {
            (0..<8).map { UInt8(truncatingIfNeeded: header.utf8.count >> (8 * $0)) } + Array(header.utf8)
                + [UInt8](repeating: 0, count: data)
        }
        let i64 = file(#"{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: 8)
        XCTAssertThrowsError(try SafeTensors.parse(i64, path: "x.safetensors")) {
            XCTAssertEqual("\($0)", "x.safetensors: not a usable safetensors file: tensor i: unsupported dtype I64 "
                           + "(F32, F16 and BF16 are read)")
        }
        try FileSystem.atomicWrite(i64, to: dir + "/i.safetensors")
        XCTAssertEqual(try SafeTensors(path: dir + "/i.safetensors").entries["i"]?.dtype, "I64")
        let fractional = file(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}}"#, data: 8)
        XCTAssertThrowsError(try SafeTensors.parse(fractional, path: "x")) {
            XCTAssertTrue("\($0)".contains("malformed header entry"), "\($0)")
        }
        XCTAssertThrowsError(try SafeTensors.parse(file(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                                                        data: 4), path: "x")) {
            XCTAssertTrue("\($0)".contains("beyond the end of the file"), "\($0)")
        }
        XCTAssertThrowsError(try SafeTensors.parse([1, 2, 3], path: "x")) { XCTAssertTrue($0 is SafeTensorsError) }
    }
}
