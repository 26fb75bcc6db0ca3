import Foundation

/// One record of `decontaminate/overlaps.jsonl.zst`: a training document or record that shares at least one
/// n-gram (13 normalised words; the whole item when it is shorter) with an evaluation item. One record per
/// (training text, evaluation item) pair, in training order, then evaluation order.
public struct OverlapRecord: Codable, Equatable, Sendable {
    /// The training text: a document's `doc_id`, or a GSM8K record's `id` (`train-12`).
    public var trainID: String
    /// Where it came from: the document's source file, or the GSM8K split file's name (`train.jsonl.zst`).
    public var trainSource: String
    /// The evaluation item's id (`test-5`, or the id of an `--eval` file's row).
    public var evalID: String
    /// The first shared n-gram in training order, as normalised words joined by single spaces.
    public var ngram: String
    /// How many distinct n-grams of the evaluation item the training text contains.
    public var sharedNgrams: Int
    /// Whether the training text was removed from the training artifacts (false with `--report-only`).
    public var removed: Bool

    enum CodingKeys: String, CodingKey {
        case trainID = "train_id", trainSource = "train_source", evalID = "eval_id", ngram
        case sharedNgrams = "shared_ngrams", removed
    }

    /// A record of these values.
    public init(trainID: String, trainSource: String, evalID: String, ngram: String, sharedNgrams: Int,
                removed: Bool) {
        self.trainID = trainID; self.trainSource = trainSource; self.evalID = evalID; self.ngram = ngram
        self.sharedNgrams = sharedNgrams; self.removed = removed
    }
}
