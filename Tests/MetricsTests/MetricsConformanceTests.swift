import Core
import Foundation
import XCTest
@testable import Metrics

/// The fixture made by Fixtures/make_metrics_fixtures.py with sacrebleu 2.6.0, rouge-score 0.1.2 (nltk 3.10.4) and
/// the SQuAD v1.1 rules on 400 generated prediction/reference sets, loaded once.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures"

    static let root: [String: Any] = {
        let bytes = try! ByteReader(path: directory + "/metrics_fixtures.json.zst").readAll()
        return try! JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
    }()

    static let items: [ScoreItem] = (root["items"] as! [[String: Any]]).map {
        ScoreItem(id: $0["id"] as! String, prediction: $0["prediction"] as! String,
                  references: $0["references"] as! [String])
    }

    static func hex(_ any: Any?) -> Double { Double(any as! String)! }
    static func ints(_ any: Any?) -> [Int] { (any as! [Any]).map { ($0 as! NSNumber).intValue } }
    static func doubles(_ any: Any?) -> [Double] { (any as! [Any]).map { ($0 as! NSNumber).doubleValue } }
}

/// Collects mismatches and fails once with the count and the first few.
struct Mismatches {
    var checked = 0
    var failures: [String] = []

    mutating func expect(_ ok: Bool, _ message: @autoclosure () -> String) {
        checked += 1
        if !ok { failures.append(message()) }
    }

    func report(_ what: String, file: StaticString = #filePath, line: UInt = #line) {
        print("\(what): \(checked - failures.count)/\(checked) equal")
        if !failures.isEmpty {
            XCTFail("\(what): \(failures.count) of \(checked) differ; first: "
                    + failures.prefix(8).joined(separator: " | "), file: file, line: line)
        }
    }
}

final class MetricsConformanceTests: XCTestCase {
    let tokenizers: [BLEUTokenizer] = [.thirteenA, .intl, .char, .none]

    func checkBLEU(_ got: BLEUScore, _ want: [String: Any], _ label: String, signature: Bool,
                   into m: inout Mismatches) {
        m.expect(got.score.bitPattern == Fixture.hex(want["score"]).bitPattern,
                 "\(label) score \(got.score) != \(Fixture.hex(want["score"]))")
        m.expect(got.bp.bitPattern == Fixture.hex(want["bp"]).bitPattern, "\(label) bp \(got.bp)")
        m.expect(got.counts == Fixture.ints(want["counts"]), "\(label) counts \(got.counts) != \(want["counts"]!)")
        m.expect(got.totals == Fixture.ints(want["totals"]), "\(label) totals \(got.totals) != \(want["totals"]!)")
        m.expect(got.sysLen == (want["sys_len"] as! Int) && got.refLen == (want["ref_len"] as! Int),
                 "\(label) lengths \(got.sysLen)/\(got.refLen)")
        let precisions = (want["precisions"] as! [String]).map { Double($0)! }
        m.expect(zip(got.precisions, precisions).allSatisfy { $0.bitPattern == $1.bitPattern },
                 "\(label) precisions \(got.precisions) != \(precisions)")
        if signature {
            m.expect(got.signature == want["signature"] as! String, "\(label) signature \(got.signature)")
        }
    }

    func testCorpusBLEUEqualsSacrebleu() {
        let bleu = Fixture.root["bleu"] as! [String: [String: Any]]
        var m = Mismatches()
        let items = Fixture.items
        for tok in tokenizers {
            let want = bleu[tok.rawValue]!
            let metric = BLEU(tokenizer: tok)
            checkBLEU(metric.corpusScore(predictions: items.map(\.prediction), references: items.map(\.references)),
                      want["all"] as! [String: Any], "\(tok.rawValue) all", signature: true, into: &m)
            checkBLEU(metric.corpusScore(predictions: items.map(\.prediction),
                                         references: items.map { [$0.references[0]] }),
                      want["first_reference"] as! [String: Any], "\(tok.rawValue) first", signature: true, into: &m)
            for (k, slice) in (want["slices"] as! [[String: Any]]).enumerated() {
                let part = Array(items[(k * 40)..<((k + 1) * 40)])
                checkBLEU(metric.corpusScore(predictions: part.map(\.prediction), references: part.map(\.references)),
                          slice, "\(tok.rawValue) slice \(k)", signature: true, into: &m)
            }
        }
        m.report("corpus BLEU (4 tokenizers × 12 corpora, every field)")
    }

    func testSentenceBLEUEqualsSacrebleu() {
        let bleu = Fixture.root["bleu"] as! [String: [String: Any]]
        for tok in tokenizers {
            var m = Mismatches()
            let metric = BLEU(tokenizer: tok)
            for (item, want) in zip(Fixture.items, bleu[tok.rawValue]!["sentence"] as! [[String: Any]]) {
                checkBLEU(metric.sentenceScore(prediction: item.prediction, references: item.references), want,
                          "\(tok.rawValue) \(item.id) \(item.prediction.debugDescription)", signature: false, into: &m)
            }
            m.report("sentence BLEU tok:\(tok.rawValue) (400 items × 6 fields)")
        }
    }

    func testCHRFEqualsSacrebleu() {
        let chrf = Fixture.root["chrf"] as! [String: Any]
        let items = Fixture.items
        var m = Mismatches()
        func check(_ got: CHRFScore, _ want: [String: Any], _ label: String, signature: Bool) {
            m.expect(got.score.bitPattern == Fixture.hex(want["score"]).bitPattern,
                     "\(label) score \(got.score) != \(Fixture.hex(want["score"]))")
            m.expect(got.statistics == Fixture.ints(want["stats"]), "\(label) statistics")
            if signature { m.expect(got.signature == want["signature"] as! String, "\(label) \(got.signature)") }
        }
        let metric = CHRF()
        check(metric.corpusScore(predictions: items.map(\.prediction), references: items.map(\.references)),
              chrf["all"] as! [String: Any], "all", signature: true)
        check(metric.corpusScore(predictions: items.map(\.prediction), references: items.map { [$0.references[0]] }),
              chrf["first_reference"] as! [String: Any], "first", signature: true)
        for (k, slice) in (chrf["slices"] as! [[String: Any]]).enumerated() {
            let part = Array(items[(k * 40)..<((k + 1) * 40)])
            check(metric.corpusScore(predictions: part.map(\.prediction), references: part.map(\.references)),
                  slice, "slice \(k)", signature: true)
        }
        for (item, want) in zip(items, chrf["sentence"] as! [[String: Any]]) {
            check(metric.sentenceScore(prediction: item.prediction, references: item.references), want,
                  "\(item.id)", signature: false)
        }
        m.report("chrF (12 corpora + 400 sentences, score bits and 18 statistics)")
    }

    func testRougeEqualsRougeScore() {
        let rouge = Fixture.root["rouge"] as! [String: [String: Any]]
        for (key, stem) in [("plain", false), ("stem", true)] {
            var m = Mismatches()
            var worst = 0.0
            let scorer = RougeScorer(useStemmer: stem)
            var all: [[RougeType: RougeScore]] = []
            for (item, want) in zip(Fixture.items, rouge[key]!["items"] as! [[String: Any]]) {
                let got = scorer.score(prediction: item.prediction, references: item.references)
                all.append(got)
                for t in RougeType.allCases {
                    let w = Fixture.doubles(want[t.rawValue]), g = got[t]!
                    let err = max(abs(g.precision - w[0]), abs(g.recall - w[1]), abs(g.fmeasure - w[2]))
                    worst = max(worst, err)
                    m.expect(err <= 1e-9, "\(item.id) \(t.rawValue) \([g.precision, g.recall, g.fmeasure]) != \(w)")
                }
            }
            let mean = Scorer.meanRouge(all), wantMean = rouge[key]!["mean"] as! [String: Any]
            for t in RougeType.allCases {
                let w = Fixture.doubles(wantMean[t.rawValue]), g = mean[t.rawValue]!
                m.expect(max(abs(g.precision - w[0]), abs(g.recall - w[1]), abs(g.fmeasure - w[2])) <= 1e-9,
                         "mean \(t.rawValue)")
            }
            print("ROUGE \(key): largest difference \(worst)")
            m.report("ROUGE \(key) (400 items × 4 types + means, within 1e-9)")
        }
    }

    func testPorterStemmerEqualsNLTK() {
        var m = Mismatches()
        let stemmer = PorterStemmer()
        for pair in Fixture.root["stems"] as! [[String]] {
            let got = stemmer.stem(pair[0])
            m.expect(got == pair[1], "\(pair[0]) → \(got), nltk \(pair[1])")
        }
        m.report("Porter stems")
    }

    func testSQuADEqualsV11Rules() {
        let squad = Fixture.root["squad"] as! [String: Any]
        var m = Mismatches()
        var em = 0.0, f1 = 0.0
        for (item, want) in zip(Fixture.items, squad["items"] as! [[Any]]) {
            let got = SQuAD.score(prediction: item.prediction, references: item.references)
            em += got.exactMatch
            f1 += got.f1
            let wantEM = (want[0] as! NSNumber).doubleValue, wantF1 = (want[1] as! NSNumber).doubleValue
            m.expect(got.exactMatch == wantEM && abs(got.f1 - wantF1) <= 1e-9,
                     "\(item.id) \(item.prediction.debugDescription): \(got) != \(want)")
        }
        let n = Double(Fixture.items.count)
        m.expect(abs(100 * em / n - (squad["exact_match"] as! NSNumber).doubleValue) <= 1e-9, "mean EM")
        m.expect(abs(100 * f1 / n - (squad["f1"] as! NSNumber).doubleValue) <= 1e-9, "mean F1")
        m.report("SQuAD v1.1 EM/F1 (400 items + means, within 1e-9)")
    }

    /// The scorer behind `pipeline score` gives the same numbers as the metric types.
    func testScorerReport() {
        let items = Fixture.items
        let report = Scorer.score(items, options: ScoreOptions(stem: true, perItem: true))
        let bleu = (Fixture.root["bleu"] as! [String: [String: Any]])["13a"]!["all"] as! [String: Any]
        XCTAssertEqual(report.bleu!.score.bitPattern, Fixture.hex(bleu["score"]).bitPattern)
        XCTAssertEqual(report.bleu!.signature, bleu["signature"] as! String)
        let chrf = (Fixture.root["chrf"] as! [String: Any])["all"] as! [String: Any]
        XCTAssertEqual(report.chrf!.score.bitPattern, Fixture.hex(chrf["score"]).bitPattern)
        let rougeMean = ((Fixture.root["rouge"] as! [String: [String: Any]])["stem"]!["mean"] as! [String: Any])
        XCTAssertEqual(report.rouge!["rougeLsum"]!.fmeasure, Fixture.doubles(rougeMean["rougeLsum"])[2], accuracy: 1e-9)
        let squad = Fixture.root["squad"] as! [String: Any]
        XCTAssertEqual(report.qa!.f1, (squad["f1"] as! NSNumber).doubleValue, accuracy: 1e-9)
        XCTAssertEqual(report.qa!.exactMatch, (squad["exact_match"] as! NSNumber).doubleValue, accuracy: 1e-9)
        let sentence = (Fixture.root["bleu"] as! [String: [String: Any]])["13a"]!["sentence"] as! [[String: Any]]
        for (got, want) in zip(report.perItem!, sentence) {
            XCTAssertEqual(got.bleu!.bitPattern, Fixture.hex(want["score"]).bitPattern, got.id)
        }
    }
}

/// Every code point: the character classes the Swift side uses against the tables recorded from Python.
final class UnicodeTableTests: XCTestCase {
    let tables = Fixture.root["unicode"] as! [String: Any]

    func membership(_ key: String) -> (UInt32) -> Bool {
        let ranges = (tables[key] as! [[Int]]).map { UInt32($0[0])...UInt32($0[1]) }
        return { v in
            var lo = 0, hi = ranges.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if ranges[mid].upperBound < v { lo = mid + 1 } else { hi = mid }
            }
            return lo < ranges.count && ranges[lo].contains(v)
        }
    }

    func testIntlClassesEqualRegexModule() {
        let n = membership("regex_N"), p = membership("regex_P"), s = membership("regex_S")
        var m = Mismatches()
        for v in UInt32(0)..<0x110000 where !(0xD800..<0xE000).contains(v) {
            let want: PythonUnicode.IntlClass = n(v) ? .number : p(v) ? .punctuation : s(v) ? .symbol : .other
            let got = PythonUnicode.intlClass(v)
            m.expect(got == want, "U+\(String(v, radix: 16, uppercase: true)): \(got) != \(want)")
        }
        m.report("regex \\p{N}/\\p{P}/\\p{S} per code point")
    }

    func testAlphanumericEqualsPython() {
        let alnum = membership("isalnum")
        var m = Mismatches()
        for v in UInt32(0)..<0x110000 where !(0xD800..<0xE000).contains(v) {
            m.expect(PythonUnicode.isAlphanumeric(v) == alnum(v), "U+\(String(v, radix: 16, uppercase: true))")
        }
        m.report("str.isalnum per code point")
    }

    func testLowerEqualsPython() {
        var changes: [UInt32: [UInt32]] = [:]
        for (k, v) in tables["lower"] as! [String: Any] { changes[UInt32(k)!] = Fixture.ints(v).map { UInt32($0) } }
        var m = Mismatches()
        for v in UInt32(0)..<0x110000 where !(0xD800..<0xE000).contains(v) {
            // U+03A3 is context-dependent; alone (no cased letter before it) Python gives σ.
            let got = PythonUnicode.lower([v])
            m.expect(got == (changes[v] ?? [v]), "U+\(String(v, radix: 16, uppercase: true))")
        }
        m.report("str.lower per code point")
        // Final sigma: after a cased letter and not before one.
        let lower = { (s: String) in PythonText.string(PythonUnicode.lower(s.unicodeScalars.map(\.value))) }
        XCTAssertEqual(lower("ΣΟΦΟΣ"), "\u{3C3}\u{3BF}\u{3C6}\u{3BF}\u{3C2}")
        XCTAssertEqual(lower("ΟΔΥΣΣΕΎΣ."), "\u{3BF}\u{3B4}\u{3C5}\u{3C3}\u{3C3}\u{3B5}\u{3CD}\u{3C2}.")
        XCTAssertEqual(lower("Σ"), "\u{3C3}")
        XCTAssertEqual(lower("ΑΣ\u{301}Α"), "\u{3B1}\u{3C3}\u{301}\u{3B1}")
    }
}
