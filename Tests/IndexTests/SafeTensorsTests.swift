import Core
import Foundation
@testable import Index
import XCTest

final class SafeTensorsTests: XCTestCase {
    func write(_ header: String, _ payload: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "st-\(UUID().uuidString).safetensors"
        var bytes: [UInt8] = []
        let h = Array(header.utf8)
        var n = UInt64(h.count)
        for _ in 0..<8 { bytes.append(UInt8(n & 0xff)); n >>= 8 }
        bytes += h + payload
        try FileSystem.atomicWrite(bytes, to: path)
        return path
    }

    func testDtypes() throws {
        // F32 [2]: 1.5, -2; F16 [3]: 1.0, -0.5, 2^-24 (smallest subnormal); BF16 [1]: 3.0; I64 [1] ignored.
        var payload: [UInt8] = []
        for f: Float in [1.5, -2] { let b = f.bitPattern; payload += [UInt8(b & 0xff), UInt8(b >> 8 & 0xff), UInt8(b >> 16 & 0xff), UInt8(b >> 24)] }
        payload += [0x00, 0x3c, 0x00, 0xb8, 0x01, 0x00]
        payload += [0x40, 0x40]
        payload += [UInt8](repeating: 7, count: 8)
        let header = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"# +
            #""h":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[14,16]},"# +
            #""i":{"dtype":"I64","shape":[1],"data_offsets":[16,24]}}"#
        let st = try SafeTensors(path: try write(header, payload))
        XCTAssertEqual(try st.floats("a", shape: [2]), [1.5, -2])
        XCTAssertEqual(try st.floats("h"), [1.0, -0.5, Float(pow(2.0, -24.0))])
        XCTAssertEqual(try st.floats("b"), [3.0])
        XCTAssertThrowsError(try st.floats("i"))
        XCTAssertThrowsError(try st.floats("a", shape: [1, 2]))
        XCTAssertThrowsError(try st.floats("missing"))
    }

    /// Robustness issue, item 6: a shape whose element count overflows is an error, not a trap.
    func testOverflowingShapesAreErrors() throws {
        for shape in ["[1099511627776,1099511627776]", "[-2,-4]", "[4611686018427387904,4]"] {
            let header = #"{"a":{"dtype":"F32","shape":"# + shape + #","data_offsets":[0,8]}}"#
            XCTAssertThrowsError(try SafeTensors(path: try write(header, [UInt8](repeating: 0, count: 8))), shape) {
                XCTAssertTrue("\($0)".contains("tensor a"), "\($0)")
            }
        }
    }

    func testMalformedFilesAreErrors() throws {
        XCTAssertThrowsError(try SafeTensors(path: try write("{not json", [])))
        XCTAssertThrowsError(try SafeTensors(path: try write(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8))))
        XCTAssertThrowsError(try SafeTensors(path: try write(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 4))))
        let path = NSTemporaryDirectory() + "st-short"
        try FileSystem.atomicWrite([1, 2, 3], to: path)
        XCTAssertThrowsError(try SafeTensors(path: path))
    }
}
