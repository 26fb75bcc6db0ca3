import Core
import Foundation
import XCTest
@testable import GSM8K

/// The reward functions against scores computed by the notebook's own functions under CPython
/// (Fixtures/make_reward_fixtures.py writes Fixtures/reward_fixtures.json).
final class RewardTests: XCTestCase {
    struct Case: Decodable { let c: String; let a: String; let s: [Double]; let g: String?; let n: String? }
    struct FloatCase: Decodable { let s: String; let v: String? }
    struct FirstStep: Decodable {
        let answer: String; let completions: [String]; let scores: [[Double]]; let means: [Double]; let reward: Double
    }
    struct Fixture: Decodable {
        let functions: [String]
        let cases: [Case]
        let floats: [FloatCase]
        let first_step: FirstStep
        let whitespace: [UInt32]
        let decimal_zeros: [UInt32]
        let regex_digits_equal_decimal: Bool
        let regex_space_equal_isspace: Bool
    }

    static let fixture: Fixture = {
        let path = SharedData.packageRoot(filePath: #filePath) + "/Tests/GSM8KTests/Fixtures/reward_fixtures.json"
        let data = FileManager.default.contents(atPath: path)!
        return try! JSONDecoder().decode(Fixture.self, from: data)
    }()

    func testFunctionNamesAndOrder() {
        XCTAssertEqual(RewardFunction.allCases.map(\.name), Self.fixture.functions)
        XCTAssertEqual(RewardFunction.checkNumbers.logKey, "rewards/check_numbers/mean")
    }

    func testEveryFixtureScoreMatchesPython() {
        let rewards = Rewards()
        XCTAssertGreaterThanOrEqual(Self.fixture.cases.count, 500)
        var failures = 0
        for (i, c) in Self.fixture.cases.enumerated() {
            let got = rewards.scores(completion: c.c, answer: c.a)
            let single = RewardFunction.allCases.map { rewards.score($0, completion: c.c, answer: c.a) }
            if got != c.s || single != c.s || rewards.formatGroup(c.c) != c.g || rewards.numbersGroup(c.c) != c.n {
                failures += 1
                if failures <= 20 {
                    XCTFail("case \(i): completion \(c.c.debugDescription) answer \(c.a.debugDescription): "
                        + "got \(got) / \(single), groups \(String(describing: rewards.formatGroup(c.c))) "
                        + "\(String(describing: rewards.numbersGroup(c.c))); python \(c.s), groups "
                        + "\(String(describing: c.g)) \(String(describing: c.n))")
                }
            }
        }
        XCTAssertEqual(failures, 0)
    }

    func testPythonFloatParsing() {
        for f in Self.fixture.floats {
            let got = PythonText.float(f.s)
            switch f.v {
            case nil:
                XCTAssertNil(got, "float(\(f.s.debugDescription)) must raise ValueError")
            case "nan"?:
                XCTAssertTrue(got?.isNaN == true, "float(\(f.s.debugDescription)) must be nan")
            case let bits?:
                guard let v = got else { XCTFail("float(\(f.s.debugDescription)) must parse"); continue }
                let hex = String(v.bitPattern, radix: 16)
                XCTAssertEqual(String(repeating: "0", count: 16 - hex.count) + hex, bits, "float(\(f.s.debugDescription))")
            }
        }
    }

    func testUnicodeTablesMatchPython() {
        XCTAssertTrue(Self.fixture.regex_digits_equal_decimal)
        XCTAssertTrue(Self.fixture.regex_space_equal_isspace)
        XCTAssertEqual(PythonText.decimalZeros, Self.fixture.decimal_zeros)
        let spaces = Set(Self.fixture.whitespace)
        var zeros = Set(Self.fixture.decimal_zeros)
        zeros.formUnion([]) // runs of ten from each zero
        var digitValue: [UInt32: Int] = [:]
        for z in Self.fixture.decimal_zeros { for k in 0..<10 { digitValue[z + UInt32(k)] = k } }
        var v: UInt32 = 0
        while v < 0x110000 {
            XCTAssertEqual(PythonText.isSpace(v), spaces.contains(v), "isspace U+\(String(v, radix: 16))")
            XCTAssertEqual(PythonText.decimalValue(v), digitValue[v] ?? -1, "decimal U+\(String(v, radix: 16))")
            v += 1
        }
    }

    /// The reference run's first logged step: 8 completions whose scores give the logged means.
    func testFirstLoggedStep() {
        let rewards = Rewards()
        let step = Self.fixture.first_step
        let expected: [[Double]] = [[3, 2, 3, 1.5], [3, 2, -1.5, -0.5], [0, 0.5, 0, 1.5], [0, 0.5, 0, 0],
                                    [0, 0.5, 0, 0], [0, 0.5, 0, 0], [0, -1, 0, 0], [0, -2.5, 0, 0]]
        XCTAssertEqual(step.scores, expected)
        var summary = RewardSummary()
        for (c, e) in zip(step.completions, expected) {
            let s = rewards.scores(completion: c, answer: step.answer)
            XCTAssertEqual(s, e, c)
            summary.add(s)
        }
        XCTAssertEqual(summary.count, 8)
        XCTAssertEqual(summary.mean(.matchFormatExactly), 0.75)
        XCTAssertEqual(summary.mean(.matchFormatApproximately), 0.3125)
        XCTAssertEqual(summary.mean(.checkAnswer), 0.1875)
        XCTAssertEqual(summary.mean(.checkNumbers), 0.3125)
        XCTAssertEqual(summary.reward, 1.5625)
        XCTAssertEqual(summary.accuracy, 1.0 / 8)
    }

    /// Cases spelled out, where Swift's own string and number handling would differ from Python's.
    func testPythonSemanticsSpelledOut() {
        let r = Rewards()
        func wf(_ g: String) -> String { "<start_working_out>r<end_working_out><SOLUTION>\(g)</SOLUTION>" }
        XCTAssertEqual(r.checkAnswer(wf("1.2.3"), answer: "72"), -1.5)  // float("1.2.3") raises
        XCTAssertEqual(r.checkNumbers(wf("1.2.3"), answer: "72"), 0)
        XCTAssertEqual(r.checkAnswer(wf("7.2e1"), answer: "72"), 1.0)   // exponent accepted
        XCTAssertEqual(r.checkAnswer(wf("inf"), answer: "72"), -1.5)
        XCTAssertEqual(r.checkAnswer(wf("nan"), answer: "72"), -1.5)
        XCTAssertEqual(r.checkAnswer(wf("\u{0667}\u{0662}"), answer: "72"), 1.0) // Arabic-Indic digits parse
        XCTAssertEqual(r.checkNumbers(wf("\u{0667}\u{0662}"), answer: "72"), 1.5)
        XCTAssertEqual(r.checkAnswer(wf("7_2"), answer: "72"), 1.0)      // underscore between digits
        XCTAssertEqual(r.checkAnswer(wf("\u{3000}72"), answer: "72"), 1.5) // ideographic space stripped
        XCTAssertEqual(r.checkAnswer(wf("\u{1C}72"), answer: "72"), 1.5)   // str.strip() strips U+001C…
        XCTAssertEqual(r.checkAnswer(wf("\u{1C}72"), answer: "80"), -1.5)  // …but float() does not accept it
        XCTAssertEqual(r.checkAnswer(wf("72"), answer: "0"), -1.5)          // ZeroDivisionError
        XCTAssertEqual(r.checkAnswer(wf("e\u{301}"), answer: "\u{e9}"), -1.5) // no canonical equivalence
        XCTAssertEqual(r.matchFormatExactly(wf("72") + "\r\n"), 3.0)
        XCTAssertEqual(r.matchFormatExactly(wf("72") + "\r"), 3.0)         // \r is whitespace, end reached
        XCTAssertEqual(r.matchFormatExactly(wf("72") + " x"), 0)
        XCTAssertEqual(r.matchFormatExactly("x " + wf("72")), 0)
        XCTAssertEqual(r.matchFormatExactly("x\n  " + wf("72") + "  \nmore"), 3.0)
        XCTAssertEqual(r.formatGroup(wf("1") + "x\n<SOLUTION>2</SOLUTION>\n"), "1</SOLUTION>x\n<SOLUTION>2")
        XCTAssertEqual(r.numbersGroup("<SOLUTION> about 1,234.5.6 x"), "1,234.5.6")
        XCTAssertEqual(r.matchFormatApproximately(""), -4)
        XCTAssertEqual(r.scores(completion: "", answer: ""), [0, -4, 0, 0])
    }

    /// Long and repetitive completions are scored in linear time (a backtracking search would not finish).
    func testLongRepetitiveCompletions() {
        let r = Rewards()
        let wf = "<start_working_out>r<end_working_out><SOLUTION>72</SOLUTION>"
        XCTAssertEqual(r.scores(completion: String(repeating: "\n", count: 200_000) + wf, answer: "72"), [3, 2, 3, 1.5])
        XCTAssertEqual(r.matchFormatExactly(String(repeating: " \n", count: 100_000) + "x"), 0)
        let many = String(repeating: "<start_working_out>a<end_working_out><SOLUTION>1</SOLUTION>x\n", count: 20_000)
        XCTAssertEqual(r.matchFormatExactly(many), 0) // every </SOLUTION> is followed by `x`
        let group = r.formatGroup(many + wf)
        XCTAssertEqual(group?.hasPrefix("1</SOLUTION>x\n<start_working_out>a"), true)
        XCTAssertEqual(group?.hasSuffix("<end_working_out><SOLUTION>72"), true)
        XCTAssertEqual(group?.utf8.count, many.utf8.count + wf.utf8.count - "<start_working_out>a<end_working_out><SOLUTION>".utf8.count - "</SOLUTION>".utf8.count)
        XCTAssertEqual(r.matchFormatExactly(String(repeating: "<SOLUTION>1</SOLUTION>x", count: 20_000)), 0)
    }

    func testCustomMarkersAreUsedLiterally() {
        let m = ReasoningMarkers(reasoningStart: "<think>", reasoningEnd: "</think>", solutionStart: "<answer>",
                                 solutionEnd: "</answer>")
        let r = Rewards(markers: m)
        XCTAssertEqual(r.scores(completion: "<think>a</think><answer>42</answer>", answer: "42"), [3, 2, 3, 1.5])
        XCTAssertEqual(Rewards().scores(completion: "<think>a</think><answer>42</answer>", answer: "42"), [0, -4, 0, 0])
    }
}
