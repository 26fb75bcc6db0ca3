import Core
import Foundation
@testable import Train
import XCTest

/// Inputs `make fuzz` (safetensors-train) found crashing Train's safetensors readers.
final class TrainFuzzRegressionTests: XCTestCase {
    func file(_ header: String, data: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: header.utf8.count >> (8 * i))) }
        return bytes + Array(header.utf8) + [UInt8](repeating: 0, count: data)
    }

    func tensor(_ offsets: String, dtype: String = "F32", shape: String = "[2]") -> String {
        #"{"t":{"dtype":""# + dtype + #"","shape":"# + shape + #","data_offsets":"# + offsets + "}}"
    }

    /// An end offset of −2⁶³ overflowed `end − begin` (a trap, exit 132) in both readers; an end beyond 2⁶³ − 1
    /// minus the header overflowed `start + end` in `parse`. Both are now "data offsets do not match".
    func testOffsetsAtTheEdgesOfIntAreErrors() throws {
        let path = NSTemporaryDirectory() + "st-fuzz-\(getpid()).safetensors"
        defer { FileSystem.remove(path) }
        let cases = [tensor("[1,-9223372036854775808]"), tensor("[9223372036854775799,9223372036854775807]")]
        for header in cases {
            let bytes = file(header, data: 8)
            XCTAssertThrowsError(try SafeTensors.parse(bytes, path: "x"), header) {
                XCTAssertTrue("\($0)".contains("data offsets do not match"), "\($0)")
            }
            try FileSystem.atomicWrite(bytes, to: path)
            XCTAssertThrowsError(try SafeTensors.stream(path: path) { _, _ in nil }, header)
        }
        // A fractional or out-of-range number is not an offset either (JSON numbers are doubles too).
        XCTAssertThrowsError(try SafeTensors.parse(file(tensor("[0,1e300]"), data: 8), path: "x"))
        XCTAssertThrowsError(try SafeTensors.parse(file(tensor("[0,8]", shape: "[1e300]"), data: 8), path: "x"))
        XCTAssertEqual(try SafeTensors.parse(file(tensor("[0,8]"), data: 8), path: "x")["t"]?.values, [0, 0])
    }
}
