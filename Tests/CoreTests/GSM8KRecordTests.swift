import Foundation
import XCTest
@testable import Core

/// `GSM8KRecord` decoding: whole records, and readers that need only some fields.
final class GSM8KRecordTests: XCTestCase {
    let full = GSM8KRecord(id: "test-0", question: "q", answer: "3", answerValue: .integer(3), reasoning: "r",
                           rawAnswer: "r\n#### 3", prompt: [ChatMessage(role: "user", content: "q")],
                           promptText: "User:\nq\n\nAssistant:\n", targetText: "<s>3</s>")

    func testAWholeRecordNeedsEveryFieldButTheValue() throws {
        XCTAssertEqual(try JSONDecoder().decode(GSM8KRecord.self, from: Data(full.jsonLine())), full)
        var noValue = full
        noValue.answerValue = nil
        XCTAssertEqual(try JSONDecoder().decode(GSM8KRecord.self, from: Data(noValue.jsonLine())), noValue)
        let partial = Data(#"{"id": "a", "answer": "3", "prompt_text": "p"}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(GSM8KRecord.self, from: partial)) { error in
            XCTAssertEqual(JSONLReader.describe(error), "missing field 'question'")
        }
    }

    func testAPartialDecoderNeedsOnlyItsFields() throws {
        let decoder = GSM8KRecord.decoder(requiring: [.id, .answer], missingID: "7")
        let r = try decoder.decode(GSM8KRecord.self, from: Data(#"{"id": "a", "answer": "3", "question": 5}"#.utf8))
        XCTAssertEqual([r.id, r.answer, r.question, r.promptText, r.targetText], ["a", "3", "", "", ""])
        XCTAssertNil(r.answerValue)
        XCTAssertEqual(r.prompt, [])
        XCTAssertEqual(try decoder.decode(GSM8KRecord.self, from: Data(full.jsonLine())), full)
        XCTAssertThrowsError(try decoder.decode(GSM8KRecord.self, from: Data(#"{"id": "a"}"#.utf8))) { error in
            XCTAssertEqual(JSONLReader.describe(error), "missing field 'answer'")
        }
        XCTAssertThrowsError(try decoder.decode(GSM8KRecord.self, from: Data(#"{"id": 1, "answer": "3"}"#.utf8))) {
            XCTAssertEqual(JSONLReader.describe($0), "wrong type for 'id'")
        }
        let noID = GSM8KRecord.decoder(requiring: [.promptText], missingID: "7")
        XCTAssertEqual(try noID.decode(GSM8KRecord.self, from: Data(#"{"prompt_text": "p"}"#.utf8)).id, "7")
    }
}
