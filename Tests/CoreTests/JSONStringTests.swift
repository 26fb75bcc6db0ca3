import XCTest
@testable import Core

/// The one JSON string writer (`PythonText.appendJSONString`): its String, UTF-8 and code-point forms give the
/// bytes Python's `json.dumps(s, ensure_ascii=False)` (and serde_json) give.
final class JSONStringTests: XCTestCase {
    func testEveryFormEscapesAsPython() {
        // Every control character, quote, backslash, slash, DEL, NEL, é, U+2028/U+2029 (raw, unlike JavaScript's
        // writers), a non-BMP emoji and CJK.
        let text = String(String.UnicodeScalarView((0..<0x20).map { Unicode.Scalar(UInt8($0)) }))
            + "\"\\/\u{7F}\u{85}é\u{2028}\u{2029}😀数 end"
        // json.dumps(text, ensure_ascii=False) of Python 3, byte for byte.
        let expected = #""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#
            + #"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"#
            + #"\"\\/"# + "\u{7F}\u{85}é\u{2028}\u{2029}😀数 end\""
        var fromString: [UInt8] = [], fromBytes: [UInt8] = [], fromBuffer: [UInt8] = [], fromCodePoints: [UInt8] = []
        PythonText.appendJSONString(text, to: &fromString)
        PythonText.appendJSONString(utf8: Array(text.utf8), to: &fromBytes)
        Array(text.utf8).withUnsafeBufferPointer { PythonText.appendJSONString(utf8: $0, to: &fromBuffer) }
        PythonText.appendJSONString(codePoints: ArraySlice(text.unicodeScalars.map(\.value)), to: &fromCodePoints)
        for out in [fromString, fromBytes, fromBuffer, fromCodePoints] {
            XCTAssertEqual(String(decoding: out, as: UTF8.self), expected)
            XCTAssertEqual(out, Array(expected.utf8))
        }
        var empty: [UInt8] = []
        PythonText.appendJSONString("", to: &empty)
        XCTAssertEqual(empty, [0x22, 0x22])
    }
}
