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

    func validate() throws {
        if vocabSize <= 0 { throw ValidationError("--vocab-size must be positive") }
        if minFrequency < 0 { throw ValidationError("--min-frequency must be >= 0") }
        if !specialTokens.isEmpty && specialTokens.split(separator: ",", omittingEmptySubsequences: false).contains("") {
            throw ValidationError("--special-tokens: empty token in \"\(specialTokens)\"")
        }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        global.apply()
        let work = global.work
        var o = TrainerOptions()
        o.vocabSize = vocabSize
        o.minFrequency = minFrequency
        o.specialTokens = specialTokens.isEmpty ? [] : specialTokens.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        o.addPrefixSpace = addPrefixSpace
        o.initialAlphabet = !noInitialAlphabet
        // Pipes and process substitution are copied once (the stage hashes its inputs, then reads them).
        let inputs = try (files.isEmpty ? [TokenizeStages.defaultCorpus(work)] : files).map { try Spool.readable($0, in: work.path) }
        try TokenizeStages.bpeTrain(workdir: work, files: inputs, options: o, force: global.force,
                                    threads: max(1, threads ?? Machine.cores))
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a stage's results as plain files for other tools.",
        subcommands: [ExportTokenizer.self, ExportModel.self, ExportMerged.self])
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

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode text to token ids with a byte-level BPE tokenizer.",
        discussion: """
        --tokenizer is our tokenize stage folder (default <workdir>/tokenize), a Hugging Face tokenizer.json \
        (plain or .zst), or a folder with GPT-2 vocab.json + merges.txt. Prints the ids separated by spaces on \
        one line. The text is encoded as one whole (--file: the whole file, read in blocks; - is stdin). \
        Ids equal tiktoken's encode_ordinary / tokenizers' encode for GPT-2. Special tokens are plain text \
        unless --special (then added tokens such as <pad> map to their ids, as tokenizers' encode does). \
        File bytes that are not UTF-8 are replaced by U+FFFD first (as Python's errors="replace").
        """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Tokenizer folder or tokenizer.json.", valueName: "path"))
    var tokenizer: String?

    @Option(name: .long, help: ArgumentHelp("Encode this file instead of TEXT (- for stdin).", valueName: "file"))
    var file: String?

    @Flag(name: .long, help: "Map added/special tokens in the text to their ids.")
    var special = false

    @Option(name: .long, help: ArgumentHelp("Write the ids to this token file (PTOK format, zstd) instead of printing them.", valueName: "file"))
    var output: String?

    @Argument(help: "Text to encode.")
    var text: String?

    func validate() throws {
        if (file == nil) == (text == nil) { throw ValidationError("give either TEXT or --file") }
    }

    func run() throws {
        global.apply()
        let tok = try BPETokenizer(path: tokenizer ?? global.work.stageDir("tokenize"))
        var ids: [UInt32] = []
        if let t = text {
            ids = tok.encode(t, allowSpecial: special).map { UInt32($0) }
        } else if let f = file, f == "-" || special {
            let data = f == "-" ? [UInt8](FileHandle.standardInput.readDataToEndOfFile()) : try ByteReader(path: f).readAll()
            ids = tok.encode(TextInput.decode(data), allowSpecial: special).map { UInt32($0) }
        } else if let f = try file.map({ try Spool.readable($0, in: NSTemporaryDirectory()) }) {
            if let o = output {
                let w = try BackgroundTokenWriter(path: o, vocabSize: tok.vocabSize)
                try ParallelEncoder(tokenizer: tok).encodeText(file: f) { try w.append($0) }
                try w.close()
                return
            }
            try ParallelEncoder(tokenizer: tok).encodeText(file: f) { ids.append(contentsOf: $0) }
        }
        if let o = output {
            let w = try TokenFileWriter(path: o, vocabSize: tok.vocabSize)
            try w.append(ids)
            try w.close()
            return
        }
        var line = ""
        line.reserveCapacity(ids.count * 6)
        for (i, id) in ids.enumerated() {
            if i > 0 { line += " " }
            line += String(id)
        }
        print(line)
    }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode token ids back to text.",
        discussion: """
        Ids come from the arguments, or --file: a text file of ids separated by spaces, commas or newlines \
        (- for stdin), or a tokens.bin.zst token file (PTOK header). Writes the text to stdout as is \
        (no newline added). Byte sequences that are not UTF-8 are written as U+FFFD; an unknown id is an error.
        """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Tokenizer folder or tokenizer.json.", valueName: "path"))
    var tokenizer: String?

    @Option(name: .long, help: ArgumentHelp("Read ids from this file.", valueName: "file"))
    var file: String?

    @Argument(help: "Token ids.")
    var ids: [String] = []

    func run() throws {
        global.apply()
        let tok = try BPETokenizer(path: tokenizer ?? global.work.stageDir("tokenize"))
        var numbers: [Int] = []
        for w in ids where !w.isEmpty {
            guard let n = Int(w) else { throw ValidationError("not a token id: \(w)") }
            numbers.append(n)
        }
        if let f = file {
            if f != "-", let r = try? TokenFileReader(path: f) {
                while true {
                    let chunk = try r.read(max: 1 << 20)
                    if chunk.isEmpty { break }
                    numbers.append(contentsOf: chunk.map { Int($0) })
                }
            } else {
                let data = f == "-" ? [UInt8](FileHandle.standardInput.readDataToEndOfFile()) : try ByteReader(path: f).readAll()
                let name = f == "-" ? "<stdin>" : f
                for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    for w in line.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" || $0 == "\r" }) {
                        guard let n = Int(w) else {
                            throw CoreError.badRecord(path: name, line: i + 1, reason: "not a token id: \(w.prefix(40))")
                        }
                        numbers.append(n)
                    }
                }
            }
        }
        try tok.check(numbers)
        let bytes = tok.decodeBytes(numbers)
        let text = String(decoding: bytes, as: UTF8.self)
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

struct TokenizeCorpus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode the ingested corpus with the trained tokenizer into tokens.bin.zst.",
        discussion: """
        Reads <workdir>/ingest/corpus.txt.zst (or --corpus) and encodes it line by line, each line (with its \
        \\n) on its own, exactly as bpe-train pre-tokenizes it; documents stay separated by their blank line \
        ("\\n\\n"), which becomes newline tokens. Uses the tokenize stage (or --tokenizer).

        Output <workdir>/tokens/tokens.bin.zst: a 16-byte header (ASCII "PTOK", UInt32 LE version 1, UInt32 \
        LE bytes per token: 2 when the vocabulary has at most 65,536 ids else 4, UInt32 LE vocabulary size), \
        then the ids little-endian; zstd-compressed. Lines with invalid UTF-8 are encoded after U+FFFD \
        replacement and counted in the manifest (lines_with_invalid_utf8).
        """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Corpus file (plain or zstd).", valueName: "file"))
    var corpus: String?

    @Option(name: .long, help: ArgumentHelp("Tokenizer folder or tokenizer.json.", valueName: "path"))
    var tokenizer: String?

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int?

    func run() throws {
        global.apply()
        let corpus = try corpus.map { try Spool.readable($0, in: global.work.path) }
        try TokenizeStages.tokenize(workdir: global.work, corpus: corpus, tokenizer: tokenizer, force: global.force,
                                    threads: max(1, threads ?? Machine.cores))
    }
}
