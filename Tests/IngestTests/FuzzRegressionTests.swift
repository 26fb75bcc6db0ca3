import Core
@testable import Ingest
import XCTest

/// Inputs `make fuzz` (worker-protocol) found crashing the parent's decoding of a worker's answer.
final class IngestFuzzRegressionTests: XCTestCase {
    /// A page count of 2³² − 1 in a 10-byte answer made the decoder reserve room for 4 billion pages (a failed
    /// allocation of ~64 GiB, exit 134). It is now a malformed answer, with the count in the message.
    func testHugePageCountIsAnError() {
        let body: [UInt8] = [0, 0, 0, 0, 0, 0] + [0xff, 0xff, 0xff, 0xff]
        XCTAssertThrowsError(try WorkerMessage.decodeResponse(body)) { error in
            XCTAssertEqual("\(error)",
                           "ingest worker: malformed message: 4294967295 pages announced in the 0 bytes left")
        }
        // The bound is exact: n pages need at least 4n bytes.
        let one: [UInt8] = [0, 0, 0, 0, 0, 0] + [1, 0, 0, 0] + [0, 0, 0, 0]
        XCTAssertEqual(try WorkerMessage.decodeResponse(one).document.pages, [""])
    }

    /// A length prefix above the 1 GiB limit is refused at once instead of buffering the stream without end.
    func testOversizedFrameIsAnError() {
        XCTAssertThrowsError(try WorkerMessage.frameLength([0xff, 0xff, 0xff, 0xff, 0]))
        XCTAssertNil(try WorkerMessage.frameLength([0, 0, 0, 0x40, 0]))
    }
}
