import Core
import Foundation

/// A metric `pipeline score` computes.
public enum MetricName: String, CaseIterable, Sendable {
    case bleu, chrf, rouge, qa, semsim

    /// What `--metrics` means without a list: every metric that needs no model.
    public static let standard: [MetricName] = [.bleu, .chrf, .rouge, .qa]

    /// The metrics named in a comma-separated list (`bleu,chrf`), in the order given, without repeats.
    public static func parse(_ list: String) throws -> [MetricName] {
        var out: [MetricName] = []
        for part in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            guard let m = MetricName(rawValue: part) else {
                let known = allCases.map(\.rawValue).joined(separator: ", ")
                throw MetricsError.usage("unknown metric '\(part)' (known: \(known))")
            }
            if !out.contains(m) { out.append(m) }
        }
        guard !out.isEmpty else { throw MetricsError.usage("--metrics is empty") }
        return out
    }
}

/// What `pipeline score` computes.
public struct ScoreOptions: Sendable {
    /// The metrics computed.
    public var metrics: [MetricName]
    /// BLEU's tokenizer.
    public var tokenizer: BLEUTokenizer
    /// Whether ROUGE stems tokens.
    public var stem: Bool
    /// Whether each item's scores are reported too.
    public var perItem: Bool
    /// The sentence-embedding model, needed for `semsim`.
    public var embedding: SentenceEmbedding?

    /// Every metric, 13a, no stemmer, corpus scores only, unless given.
    public init(metrics: [MetricName] = MetricName.standard, tokenizer: BLEUTokenizer = .thirteenA,
                stem: Bool = false, perItem: Bool = false, embedding: SentenceEmbedding? = nil) {
        self.embedding = embedding
        self.metrics = metrics
        self.tokenizer = tokenizer
        self.stem = stem
        self.perItem = perItem
    }
}

/// SQuAD v1.1 exact match and F1 in percent (means over the items).
public struct QAScore: Codable, Equatable, Sendable {
    /// Exact match in percent.
    public var exactMatch: Double
    /// Token F1 in percent.
    public var f1: Double

    enum CodingKeys: String, CodingKey { case exactMatch = "exact_match", f1 }
}

/// The mean semantic similarity and the model that gave it.
public struct SemsimScore: Codable, Equatable, Sendable {
    /// Mean cosine similarity of prediction and reference embeddings.
    public var mean: Double
    /// The embedding model's name.
    public var model: String
}

/// The scores of one item (`--per-item`): sentence BLEU, sentence chrF, ROUGE, QA in percent, and semsim.
public struct ItemScore: Codable, Equatable, Sendable {
    /// The item's id.
    public var id: String
    /// Sentence BLEU.
    public var bleu: Double?
    /// Sentence chrF.
    public var chrf: Double?
    /// F1 per ROUGE type.
    public var rouge: [String: RougeScore]?
    /// Exact match in percent.
    public var exactMatch: Double?
    /// Token F1 in percent.
    public var f1: Double?
    /// Semantic similarity.
    public var semsim: Double?

    enum CodingKeys: String, CodingKey { case id, bleu, chrf, rouge, exactMatch = "exact_match", f1, semsim }
}

/// The result of `pipeline score`: the corpus scores of each metric asked for and, with `--per-item`, each item's.
public struct ScoreReport: Codable, Equatable, Sendable {
    /// Items scored.
    public var items: Int
    /// Corpus BLEU.
    public var bleu: BLEUScore?
    /// Corpus chrF.
    public var chrf: CHRFScore?
    /// Mean precision, recall and F1 per ROUGE type over the items.
    public var rouge: [String: RougeScore]?
    /// Whether ROUGE stemmed tokens.
    public var rougeStemmer: Bool?
    /// SQuAD exact match and F1.
    public var qa: QAScore?
    /// Mean semantic similarity.
    public var semsim: SemsimScore?
    /// Each item's scores (`--per-item`).
    public var perItem: [ItemScore]?

    enum CodingKeys: String, CodingKey {
        case items, bleu, chrf, rouge, qa, semsim
        case rougeStemmer = "rouge_stemmer", perItem = "per_item"
    }
}

/// Computes the metrics of `pipeline score` over paired items.
public enum Scorer {
    /// The report for `items` (at least one).
    public static func score(_ items: [ScoreItem], options: ScoreOptions) -> ScoreReport {
        var report = ScoreReport(items: items.count)
        var perItem = options.perItem ? items.map { ItemScore(id: $0.id) } : []
        let refCounts = items.map(\.references.count)
        if options.metrics.contains(.bleu) {
            let bleu = BLEU(tokenizer: options.tokenizer)
            let stats = Parallel.map(items.indices) {
                bleu.statistics(prediction: items[$0].prediction, references: items[$0].references)
            }
            var total = BLEUStatistics()
            for s in stats { total.add(s) }
            report.bleu = BLEU.score(total, effectiveOrder: false,
                                     signature: bleu.signature(referenceCounts: refCounts, effectiveOrder: false))
            for i in perItem.indices {
                perItem[i].bleu = BLEU.score(stats[i], effectiveOrder: true, signature: "").score
            }
        }
        if options.metrics.contains(.chrf) {
            let chrf = CHRF()
            let stats = Parallel.map(items.indices) {
                chrf.statistics(prediction: items[$0].prediction, references: items[$0].references)
            }
            var total = [Int](repeating: 0, count: 3 * CHRF.charOrder)
            for s in stats { for k in total.indices { total[k] += s[k] } }
            report.chrf = CHRFScore(score: CHRF.fScore(total), statistics: total,
                                    signature: CHRF.signature(referenceCounts: refCounts))
            for i in perItem.indices { perItem[i].chrf = CHRF.fScore(stats[i]) }
        }
        if options.metrics.contains(.rouge) {
            let scorer = RougeScorer(useStemmer: options.stem)
            let scores = Parallel.map(items.indices) {
                scorer.score(prediction: items[$0].prediction, references: items[$0].references)
            }
            report.rouge = meanRouge(scores)
            report.rougeStemmer = options.stem
            for i in perItem.indices {
                perItem[i].rouge = Dictionary(uniqueKeysWithValues: scores[i].map { ($0.key.rawValue, $0.value) })
            }
        }
        if options.metrics.contains(.qa) {
            let scores = Parallel.map(items.indices) {
                SQuAD.score(prediction: items[$0].prediction, references: items[$0].references)
            }
            var em = 0.0, f1 = 0.0
            for s in scores { em += s.exactMatch; f1 += s.f1 }
            report.qa = QAScore(exactMatch: 100.0 * em / Double(items.count), f1: 100.0 * f1 / Double(items.count))
            for i in perItem.indices {
                perItem[i].exactMatch = 100.0 * scores[i].exactMatch
                perItem[i].f1 = 100.0 * scores[i].f1
            }
        }
        if options.metrics.contains(.semsim) {
            guard let model = options.embedding else { preconditionFailure("semsim needs ScoreOptions.embedding") }
            let scores = SemanticSimilarity.scores(items, with: model)
            report.semsim = SemsimScore(mean: scores.reduce(0, +) / Double(items.count), model: model.name)
            for i in perItem.indices { perItem[i].semsim = scores[i] }
        }
        if options.perItem { report.perItem = perItem }
        return report
    }

    /// The mean of each ROUGE type's precision, recall and F1 over the items (summed in item order).
    public static func meanRouge(_ scores: [[RougeType: RougeScore]]) -> [String: RougeScore] {
        var out: [String: RougeScore] = [:]
        for type in RougeType.allCases {
            var p = 0.0, r = 0.0, f = 0.0
            for s in scores { let x = s[type]!; p += x.precision; r += x.recall; f += x.fmeasure }
            let n = Double(max(scores.count, 1))
            out[type.rawValue] = RougeScore(precision: p / n, recall: r / n, fmeasure: f / n)
        }
        return out
    }
}

extension ItemScore {
    init(id: String) { self.id = id }
}

extension ScoreReport {
    init(items: Int) { self.items = items }

    /// The report as readable lines: sacrebleu's one-line BLEU and chrF summaries with their signatures, a ROUGE
    /// table, the QA means, then (with per-item scores) one tab-separated line per item.
    public func table() -> String {
        var lines = ["items: \(items)"]
        if let b = bleu {
            let prec = b.precisions.map { String(format: "%.1f", $0) }.joined(separator: "/")
            let ratio = b.refLen > 0 ? Double(b.sysLen) / Double(b.refLen) : 0
            lines.append(String(format: "BLEU = %.2f ", b.score) + prec
                         + String(format: " (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
                                  b.bp, ratio, b.sysLen, b.refLen))
            lines.append("  signature: \(b.signature)")
        }
        if let c = chrf {
            lines.append(String(format: "chrF2 = %.2f", c.score))
            lines.append("  signature: \(c.signature)")
        }
        if let r = rouge {
            lines.append("ROUGE (rouge-score, stemmer \(rougeStemmer == true ? "on" : "off")), mean over items:")
            lines.append("  type        precision  recall     f1")
            for t in RougeType.allCases {
                guard let s = r[t.rawValue] else { continue }
                let name = t.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                lines.append("  " + name + String(format: "  %-9.4f  %-9.4f  %.4f", s.precision, s.recall, s.fmeasure))
            }
        }
        if let q = qa {
            lines.append(String(format: "QA (SQuAD v1.1): exact_match = %.2f  f1 = %.2f", q.exactMatch, q.f1))
        }
        if let s = semsim {
            lines.append(String(format: "semsim (cosine of sentence embeddings) = %.4f  model: ", s.mean) + s.model)
        }
        if let items = perItem {
            var header = ["id"]
            if bleu != nil { header.append("bleu") }
            if chrf != nil { header.append("chrf") }
            if rouge != nil { header += RougeType.allCases.map { $0.rawValue + "_f1" } }
            if qa != nil { header += ["exact_match", "f1"] }
            if semsim != nil { header.append("semsim") }
            lines.append(header.joined(separator: "\t"))
            for it in items {
                var row = [it.id]
                if let b = it.bleu { row.append(String(format: "%.4f", b)) }
                if let c = it.chrf { row.append(String(format: "%.4f", c)) }
                if let r = it.rouge {
                    row += RougeType.allCases.map { String(format: "%.4f", r[$0.rawValue]!.fmeasure) }
                }
                if let em = it.exactMatch, let f = it.f1 {
                    row += [String(format: "%.0f", em), String(format: "%.4f", f)]
                }
                if let s = it.semsim { row.append(String(format: "%.4f", s)) }
                lines.append(row.joined(separator: "\t"))
            }
        }
        return lines.joined(separator: "\n")
    }
}
