import ArgumentParser
import Core
import Foundation
import Index
import Metrics

extension BLEUTokenizer: ExpressibleByArgument {}

/// `pipeline score`: text metrics (the default subcommand, so `score --predictions …` works as before) and
/// `score perplexity`. A group without options of its own, so its subcommands' `--model`, `--json` are theirs.
struct ScoreGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score predictions against references (text metrics), or a model's perplexity.",
        discussion: """
        `pipeline score --predictions P --references R …` (= `pipeline score text …`): BLEU, chrF, ROUGE, SQuAD \
        EM/F1, semantic similarity. `pipeline score perplexity --model DIR …`: sliding-window perplexity.
        """,
        subcommands: [ScoreCommand.self, ScorePerplexityCommand.self],
        defaultSubcommand: ScoreCommand.self)
}

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "Score predictions against references with BLEU, chrF, ROUGE and SQuAD exact match / F1.",
        discussion: """
        --predictions holds {"id", "prediction"} records and --references {"id", "reference"} or \
        {"id", "references": [...]} records: JSON Lines (files named .jsonl, .ndjson or .json, plain or .zst), \
        joined by id (an id on one side only is an error). Any other file is plain text, one item per line, and \
        the two files are then paired line by line. Empty predictions are valid.

        bleu: corpus BLEU identical to sacrebleu 2.6.0 corpus_bleu (mixed case, exp smoothing, 4-grams, \
        --tokenize 13a|intl|char|none, several references, brevity penalty against the closest reference \
        length), with sacrebleu's signature; per item, sentence BLEU as sacrebleu.sentence_bleu. \
        chrf: sacrebleu's default CHRF() (character 6-grams, β = 2, whitespace removed). \
        rouge: rouge1, rouge2, rougeL, rougeLsum precision / recall / F1 of Google's rouge-score 0.1.2 \
        (its tokenizer; --stem = use_stemmer=True, nltk's Porter stemmer; rougeLsum splits on newlines; the best \
        reference per type as score_multi), averaged over items. \
        qa: SQuAD v1.1 exact match and token F1 in percent (best reference). \
        semsim (only when asked for): the cosine of the prediction's and the reference's all-MiniLM-L6-v2 \
        sentence embeddings (--model; the index's native embedder, sentence-transformers' vectors within 1e-5), \
        the best reference, averaged over items.

        Prints a table, or one JSON object with --json; --per-item adds every item's scores. With --name, the \
        JSON object is also written to <workdir>/score/<name>.json.
        """)

    @Option(help: ArgumentHelp("Predictions: JSON Lines of {id, prediction}, or text, one per line.",
                               valueName: "file"))
    var predictions: String

    @Option(help: ArgumentHelp("References: JSON Lines of {id, reference | references}, or text.", valueName: "file"))
    var references: String

    @Option(help: ArgumentHelp("Comma-separated metrics: bleu, chrf, rouge, qa, semsim.", valueName: "list"))
    var metrics = "bleu,chrf,rouge,qa"

    @Option(help: ArgumentHelp("BLEU tokenizer: 13a, intl, char or none.", valueName: "name"))
    var tokenize: BLEUTokenizer = .thirteenA

    @Flag(help: "ROUGE with the Porter stemmer (rouge-score's use_stemmer=True).")
    var stem = false

    @Flag(name: .customLong("per-item"), help: "Also report each item's scores.")
    var perItem = false

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: ArgumentHelp("Also write the JSON to <workdir>/score/<name>.json.", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("Sentence-embedding model folder for semsim.", valueName: "dir"))
    var model = "models/all-MiniLM-L6-v2"

    @Option(help: ArgumentHelp("Work directory (default: $PIPELINE_WORKDIR or ./artifacts).", valueName: "dir"))
    var workdir: String?

    func validate() throws {
        do { _ = try MetricName.parse(metrics) } catch let e as MetricsError { throw ValidationError(e.message) }
        if let name, name.isEmpty || name.contains("/") || name.hasPrefix(".") {
            throw ValidationError("--name must be a plain file name (no '/', not starting with '.')")
        }
    }

    func run() throws {
        let items = try ScoreInput.load(predictions: predictions, references: references)
        guard !items.isEmpty else { throw MetricsError.join("\(predictions): no items to score") }
        let names = try MetricName.parse(metrics)
        var embedding: SentenceEmbedding?
        if names.contains(.semsim) {
            let embedder = try SentenceEmbedder(folder: model)
            embedding = SentenceEmbedding(name: embedder.modelName, dimension: embedder.dimension,
                                          embed: { embedder.embed($0) })
        }
        let options = ScoreOptions(metrics: names, tokenizer: tokenize, stem: stem,
                                   perItem: perItem, embedding: embedding)
        let report = Scorer.score(items, options: options)
        let bytes = try JSON.encode(report)
        if let name {
            let dir = Workdir(explicit: workdir).stageDir("score")
            try FileSystem.makeDirectory(dir)
            try FileSystem.atomicWrite(bytes + [0x0A], to: dir + "/\(name).json")
        }
        print(json ? String(decoding: bytes, as: UTF8.self) : report.table())
    }
}
