import Core
@testable import Decontaminate
import Foundation
import XCTest

/// Normalisation and n-grams against lm-evaluation-harness's decontamination code (Fixtures/janitor.json, made
/// by Fixtures/make_fixtures.py with `Janitor().normalize_string` and `word_ngrams`).
final class DecontaminationNGramTests: XCTestCase {
    struct Case: Decodable {
        let text: String
        let words: [String]
        let ngrams: [String: [String]]
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures"

    func testWordsAndNGramsEqualTheJanitors() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/janitor.json"))
        let cases = try JSONDecoder().decode([Case].self, from: data)
        XCTAssertEqual(cases.count, 10)
        for c in cases {
            let words = NormalizedWords(c.text)
            XCTAssertEqual(words.ngrams(1), c.words, c.text)
            for (n, expected) in c.ngrams {
                XCTAssertEqual(words.ngrams(Int(n)!), expected, "\(n)-grams of \(c.text.debugDescription)")
            }
        }
    }

    func testNormalisationRules() {
        // Punctuation is deleted before splitting; only ASCII letters are lower-cased; Python's whitespace splits
        // (U+00A0 does, U+200B does not).
        XCTAssertEqual(NormalizedWords("Don't STOP: 3-4, e.g.").ngrams(1), ["dont", "stop", "34", "eg"])
        XCTAssertEqual(NormalizedWords("ÄB\u{00A0}c\u{200B}d").ngrams(1), ["Äb", "c\u{200B}d"])
        XCTAssertEqual(NormalizedWords(" ... -- ").count, 0)
        var w = NormalizedWords("one two")
        w.append("three")
        XCTAssertEqual(w.ngrams(3), ["one two three"], "appended text starts a new word")
    }

    func testRolledHashesEqualDirectOnes() {
        let words = NormalizedWords((0..<40).map { "w\($0 % 7)" }.joined(separator: " "))
        for n in [1, 5, 13, 40] {
            var rolled: [UInt64] = []
            words.forEachGramHash(n) { i, h in
                XCTAssertEqual(i, rolled.count)
                rolled.append(h)
            }
            XCTAssertEqual(rolled.count, 40 - n + 1)
            XCTAssertEqual(rolled, (0...(40 - n)).map { words.gramHash($0, n) })
        }
        var none = 0
        words.forEachGramHash(41) { _, _ in none += 1 }
        XCTAssertEqual(none, 0, "fewer words than n: no n-gram")
    }

    func testLookupFindsSharedGramsAndShortItemsWhole() {
        var index = EvalNGrams(n: 13)
        let long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
        index.add(id: "long", words: NormalizedWords(long))
        index.add(id: "short", words: NormalizedWords("How many apples?"))
        index.add(id: "empty", words: NormalizedWords("?!"))
        XCTAssertEqual(index.count, 3) // two 13-grams of the long item, the short item whole
        XCTAssertEqual(index.emptyItems, 1)
        XCTAssertEqual(index.lengths, [3, 13])

        let train = NormalizedWords("So: ONE two three four five six seven eight nine ten eleven twelve thirteen! "
                                    + "And how many apples are there?")
        let found = index.overlaps(in: train)
        XCTAssertEqual(found.map(\.item), [0, 1])
        XCTAssertEqual(found[0].ngram, "one two three four five six seven eight nine ten eleven twelve thirteen")
        XCTAssertEqual(found[0].shared, 1)
        XCTAssertEqual(found[1].ngram, "how many apples")

        // Twelve shared words are not a 13-gram; the short item's words apart are not the item.
        let near = NormalizedWords("one two three four five six seven eight nine ten eleven twelve; how many pears "
                                   + "apples")
        XCTAssertTrue(index.overlaps(in: near).isEmpty)
    }
}
