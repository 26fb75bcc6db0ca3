import ArgumentParser
import Core
import Foundation
import Tokenize

struct BPETrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bpe-train",
        abstract: "Train a byte-level BPE tokenizer, identical to Hugging Face tokenizers' BpeTrainer.",
        discussion: """
        Reads text files (plain or .zst; default: <workdir>/ingest/corpus.txt.zst) line by line as \
        tokenizers' train(files) does, pre-tokenizes each line with GPT-2's ByteLevel pattern and learns merges. \
        The result equals, merge for merge and id for id, Tokenizer(BPE()) with ByteLevel pre-tokenizer and \
        decoder trained by BpeTrainer(vocab_size, min_frequency, special_tokens, \
        initial_alphabet=ByteLevel.alphabet()).

        Ids: special tokens first (in the given order), then the byte alphabet sorted by symbol, then merges. \
        Training stops at --vocab-size tokens, when no pair is left, or when the best pair occurs fewer than \
        --min-frequency times.

        Outputs in <workdir>/tokenize/: tokenizer.json.zst (byte-identical to tokenizer.save()), \
        vocab.json.zst and merges.txt.zst (as model.save()); `pipeline export tokenizer DIR` writes them plain.
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Text files (plain or zstd).", valueName: "file"))
    var files: [String] = []

    @Option(name: .long, help: "Largest vocabulary, special tokens and alphabet included.")
    var vocabSize = 50257

    @Option(name: .long, help: "Smallest pair count that still produces a merge.")
    var minFrequency: Int64 = 50

    @Option(name: .long, help: ArgumentHelp("Comma-separated special tokens, ids 0.. in this order (empty: none).", valueName: "list"))
    var specialTokens = "<pad>,<unk>,<s>"

    @Flag(name: .long, help: "Add a space before each line that does not start with one (ByteLevel add_prefix_space).")
    var addPrefixSpace = false

    @Flag(name: .long, help: "Do not force all 256 byte symbols into the vocabulary; only bytes seen.")
    var noInitialAlphabet = false

    @Option(name: .long, help: "Worker threads for counting (default: all cores).")
    var threads: Int?

    func run() throws {
        global.apply()
        let work = global.work
        var o = TrainerOptions()
        o.vocabSize = vocabSize
        o.minFrequency = minFrequency
        o.specialTokens = specialTokens.isEmpty ? [] : specialTokens.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        o.addPrefixSpace = addPrefixSpace
        o.initialAlphabet = !noInitialAlphabet
        if vocabSize <= 0 { throw ValidationError("--vocab-size must be positive") }
        if minFrequency < 0 { throw ValidationError("--min-frequency must be >= 0") }
        let inputs = files.isEmpty ? [TokenizeStages.defaultCorpus(work)] : files
        try TokenizeStages.bpeTrain(workdir: work, files: inputs, options: o, force: global.force,
                                    threads: max(1, threads ?? Machine.cores))
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a stage's results as plain files for other tools.",
        subcommands: [ExportTokenizer.self])
}

struct ExportTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Write tokenizer.json, vocab.json and merges.txt of the tokenize stage to a folder.",
        discussion: """
        Decompresses <workdir>/tokenize/{tokenizer.json,vocab.json,merges.txt}.zst into DIR. \
        tokenizer.json loads with tokenizers.Tokenizer.from_file; vocab.json + merges.txt with \
        tokenizers.models.BPE.from_file or GPT-2 style loaders.
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Destination folder (created).", valueName: "dir"))
    var dir: String

    func run() throws {
        global.apply()
        try TokenizeStages.exportTokenizer(workdir: global.work, to: dir)
    }
}
