import ArgumentParser
import Core
import Foundation
import GSM8K

/// `pipeline synth-gsm8k`: a GSM8K-format task a small CPU model can learn.
struct SynthGSM8KCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-gsm8k",
        abstract: "Write a synthetic GSM8K-format task (train.jsonl, test.jsonl) sized for a small CPU model.",
        discussion: """
        Grade-school word problems with small integers, written exactly like GSM8K rows: {"answer", "question"} \
        per line, the answer one worked line per step with calculator annotations (<<a+b=c>>) and a final \
        "#### N" line, so `pipeline gsm8k` reads them unchanged. --steps 1: a sum, a difference, a product by a \
        small number (2…--max-factor), "half as many", or a total over two days; --steps 2: two of the first \
        four on the same quantity. Numbers come from 1…--max-number; every answer is a non-negative integer.

        Deterministic: the same --seed and options give the same files, byte for byte. Questions are distinct \
        across both files (no test question is in train). Written atomically to DIR/train.jsonl and \
        DIR/test.jsonl.

        --corpus FILE also writes the reasoning text of the train split as a pretraining corpus: per problem \
        the gsm8k stage's prompt_text followed by its target_text (the worked steps between the standard \
        markers, then the answer between <SOLUTION> and </SOLUTION>), then <|endoftext|> with --eos, else a \
        blank line. Give bpe-train the markers and <|endoftext|> as --special-tokens and tokenize it with \
        --special so each is one token.
        """)

    @Argument(help: ArgumentHelp("Output folder (created).", valueName: "dir"))
    var output: String

    @Option(help: "Training problems.") var train = 2000
    @Option(help: "Test problems.") var test = 500
    @Option(help: "Steps per problem: 1 or 2.") var steps = 1
    @Option(name: .customLong("max-number"), help: "Largest number a problem states.") var maxNumber = 20
    @Option(name: .customLong("max-factor"), help: "Largest factor of a product step.") var maxFactor = 5
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: ArgumentHelp("Also write the train split's prompt and target texts as a pretraining corpus.",
                               valueName: "file"))
    var corpus: String?
    @Flag(help: "End each corpus problem with <|endoftext|> (else a blank line).") var eos = false

    var generator: SyntheticGSM8K {
        SyntheticGSM8K(steps: steps, maxNumber: maxNumber, maxFactor: maxFactor, seed: seed)
    }

    func validate() throws {
        guard train >= 1, test >= 0 else { throw ValidationError("--train must be ≥ 1 and --test ≥ 0") }
        if let problem = generator.problem { throw ValidationError(problem) }
    }

    func run() throws {
        let (trainRows, testRows) = try generator.splits(train: train, test: test)
        try FileSystem.makeDirectory(output)
        for (name, rows) in [("train", trainRows), ("test", testRows)] {
            var bytes: [UInt8] = []
            for r in rows { bytes += try JSON.encode(r) + [0x0A] }
            try FileSystem.atomicWrite(bytes, to: output + "/\(name).jsonl")
        }
        print("synth-gsm8k: \(trainRows.count) train and \(testRows.count) test problems (\(steps) step"
              + "\(steps == 1 ? "" : "s"), numbers ≤ \(maxNumber)) -> \(output)")
        if let corpus {
            let text = SyntheticGSM8K.corpus(trainRows, separator: eos ? "<|endoftext|>" : "\n\n")
            try FileSystem.atomicWrite(Array(text.utf8), to: corpus)
            print("synth-gsm8k: reasoning corpus of \(trainRows.count) problems (\(text.utf8.count) bytes) "
                  + "-> \(corpus)")
        }
    }
}
