import Core
import Foundation
@testable import GSM8K
import XCTest

/// The synthetic GSM8K-format task (learning issue, item 1).
final class SyntheticGSM8KTests: XCTestCase {
    /// Evaluates one calculator annotation `<<a op b=c>>`: true when c is what the expression gives.
    func annotationHolds(_ a: Substring) -> Bool {
        let parts = a.split(separator: "=")
        guard parts.count == 2, let c = Int(parts[1]) else { return false }
        for op in ["+", "-", "*", "/"] {
            let xs = parts[0].split(separator: Character(op))
            if xs.count == 2, let x = Int(xs[0]), let y = Int(xs[1]) {
                switch op {
                case "+": return x + y == c
                case "-": return x - y == c
                case "*": return x * y == c
                default: return y != 0 && x % y == 0 && x / y == c
                }
            }
        }
        return false
    }

    func testRowsAreGSM8KRowsWithCorrectArithmetic() throws {
        for steps in [1, 2] {
            let (train, test) = try SyntheticGSM8K(steps: steps, maxNumber: 20, seed: 5).splits(train: 600, test: 200)
            XCTAssertEqual(train.count, 600); XCTAssertEqual(test.count, 200)
            for (i, row) in (train + test).enumerated() {
                let rec = try XCTUnwrap(GSM8K.record(id: "synth-\(i)", question: row.question, answer: row.answer))
                guard case .integer(let value)? = rec.answerValue else { return XCTFail("\(row.answer): not an integer") }
                XCTAssertGreaterThanOrEqual(value, 0)
                // One worked line and one annotation per step, each annotation true, the last one the answer.
                let lines = row.answer.split(separator: "\n")
                XCTAssertEqual(lines.count, steps + 1, row.answer)
                XCTAssertEqual(lines.last, "#### \(value)")
                let annotations = row.answer.split(separator: "<<").dropFirst().map { $0.prefix { $0 != ">" } }
                XCTAssertEqual(annotations.count, steps, row.answer)
                for a in annotations { XCTAssertTrue(annotationHolds(a), "\(a) in \(row.answer)") }
                XCTAssertTrue(annotations.last?.hasSuffix("=\(value)") == true, row.answer)
                XCTAssertFalse(rec.reasoning.isEmpty)
                XCTAssertFalse(rec.reasoning.contains("<<"), "annotations are removed from the reasoning")
                XCTAssertTrue(row.question.hasSuffix("?"))
            }
        }
    }

    func testSplitsAreDisjointAndDeterministic() throws {
        let g = SyntheticGSM8K(steps: 2, maxNumber: 12, seed: 1)
        let a = try g.splits(train: 500, test: 500)
        XCTAssertTrue(Set(a.train.map(\.question)).isDisjoint(with: a.test.map(\.question)), "no question in both")
        XCTAssertEqual(Set(a.train.map(\.question)).count, 500)
        let b = try g.splits(train: 500, test: 500)
        XCTAssertEqual(a.train, b.train); XCTAssertEqual(a.test, b.test)
        var other = g
        other.seed = 2
        XCTAssertNotEqual(try other.splits(train: 500, test: 500).train, a.train)
        // Numbers stay in range.
        for row in a.train + a.test {
            let numbers = row.question.split { !$0.isNumber }.compactMap { Int($0) }
            XCTAssertTrue(numbers.allSatisfy { $0 <= 12 }, row.question)
        }
    }

    func testImpossibleSettingsAreErrors() {
        XCTAssertNotNil(SyntheticGSM8K(steps: 3).problem)
        XCTAssertThrowsError(try SyntheticGSM8K(steps: 1, maxNumber: 4, maxFactor: 2).splits(train: 100_000, test: 1)) {
            XCTAssertTrue("\($0)".contains("distinct problems"), "\($0)")
        }
    }

    /// `--corpus`: each train row's prompt_text then target_text (as the gsm8k stage renders them), then the
    /// separator; nothing of the test split.
    func testCorpusIsTheTrainSplitsPromptAndTargetText() throws {
        let (train, test) = try SyntheticGSM8K(steps: 2, seed: 3).splits(train: 5, test: 3)
        let text = SyntheticGSM8K.corpus(train, separator: "<|endoftext|>")
        let parts = text.components(separatedBy: "<|endoftext|>")
        XCTAssertEqual(parts.count, 6)
        XCTAssertEqual(parts.last, "\n", "the text ends with a newline")
        for (row, part) in zip(train, parts) {
            let rec = try XCTUnwrap(GSM8K.record(id: "x", question: row.question, answer: row.answer))
            XCTAssertEqual(part, rec.promptText + rec.targetText)
            XCTAssertTrue(part.hasPrefix("System:\nYou are given a problem."))
            XCTAssertTrue(part.hasSuffix("<SOLUTION>\(rec.answer)</SOLUTION>"))
        }
        for row in test { XCTAssertFalse(text.contains(row.question)) }
        XCTAssertEqual(SyntheticGSM8K.corpus(train, separator: "\n\n").components(separatedBy: "\n\nSystem:").count, 5)
    }
}
