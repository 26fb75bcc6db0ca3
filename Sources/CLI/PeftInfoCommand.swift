import ArgumentParser
import Core
import Foundation
import Train

struct PeftInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peft-info",
        abstract: "Trainable and total parameter counts of LoRA, prefix or prompt tuning on a GPT-2 (PEFT's line).",
        discussion: """
        Pure arithmetic over a GPT-2 shape, no weights read. --config is a config.json (or a model folder holding \
        one) or a name: gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2, course (the reference course's \
        model: gpt2-medium's shape with a 46,744-token vocabulary), small (our demo shape, vocabulary 2,048); \
        --vocab overrides the vocabulary size. The method is LoRA (--lora-r, default 8, on --target, default \
        c_attn; comma-separated c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, c_proj = both projections, all), \
        or --prefix-tokens N (prefix tuning, no projection) or --prompt-tokens N (prompt tuning). Prints \
        `base params: N` and then the line PEFT's print_trainable_parameters() prints: \
        `trainable params: X || all params: Y || trainable%: Z`.
        """)

    @Option(help: ArgumentHelp("config.json, model folder, or a name (gpt2, gpt2-medium, distilgpt2, course, …).",
                               valueName: "file|name"))
    var config = "gpt2"
    @Option(help: "Vocabulary size (overrides the config's).") var vocab: Int?
    @Option(name: .customLong("lora-r"), help: "LoRA rank.") var loraR = 8
    @Option(help: "LoRA target modules (comma-separated).") var target = "c_attn"
    @Option(name: .customLong("prefix-tokens"), help: "Prefix tuning with this many virtual tokens.")
    var prefixTokens: Int?
    @Option(name: .customLong("prompt-tokens"), help: "Prompt tuning with this many virtual tokens.")
    var promptTokens: Int?

    func validate() throws {
        guard prefixTokens == nil || promptTokens == nil else {
            throw ValidationError("give at most one of --prefix-tokens and --prompt-tokens")
        }
        guard loraR >= 1, (prefixTokens ?? 1) >= 1, (promptTokens ?? 1) >= 1, (vocab ?? 1) >= 1 else {
            throw ValidationError("--lora-r, --prefix-tokens, --prompt-tokens and --vocab must be ≥ 1")
        }
    }

    func run() throws {
        var c: GPT2Config
        if let named = PeftInfo.named(config) {
            c = named
        } else if FileSystem.isDirectory(config) {
            c = try Checkpoint.readConfig(path: config + "/config.json")
        } else if FileSystem.exists(config) {
            c = try Checkpoint.readConfig(path: config)
        } else {
            throw ValidationError("--config \(config) is neither a config.json nor a known name "
                                  + "(gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2, course, small)")
        }
        if let vocab { c.vocabSize = vocab }
        let method: PeftInfo.Method
        if let n = prefixTokens { method = .prefix(tokens: n) }
        else if let n = promptTokens { method = .prompt(tokens: n) }
        else { method = .lora(r: loraR, targets: try LoRATarget.parse(target)) }
        print("base params: \(PeftInfo.grouped(PeftInfo.baseCount(c)))")
        print(PeftInfo.line(c, method))
    }
}
