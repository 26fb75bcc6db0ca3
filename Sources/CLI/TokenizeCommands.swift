import ArgumentParser
import Core
import Foundation
import Tokenize

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

    @Option(name: .long, help: ArgumentHelp("Write the ids to this token file (PTOK format, zstd) instead of "
                                                + "printing them.", valueName: "file"))
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
            let data = f == "-" ? [UInt8](FileHandle.standardInput.readDataToEndOfFile())
                : try ByteReader(path: f).readAll()
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
                let data = f == "-" ? [UInt8](FileHandle.standardInput.readDataToEndOfFile())
                    : try ByteReader(path: f).readAll()
                let name = f == "-" ? "<stdin>" : f
                let lines = String(decoding: data, as: UTF8.self)
                    .split(separator: "\n", omittingEmptySubsequences: false)
                for (i, line) in lines.enumerated() {
                    for w in line.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" || $0 == "\r" }) {
                        guard let n = Int(w) else {
                            throw CoreError.badRecord(path: name, line: i + 1,
                                                      reason: "not a token id: \(w.prefix(40))")
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
