import Foundation

/// Parameter counts of PEFT methods on a GPT-2, as PEFT's `print_trainable_parameters()` reports them
/// (`get_nb_trainable_parameters`: every parameter of the PEFT model counted once; GPT-2's LM head is tied
/// to `wte`, so it is not counted again).
public enum PeftInfo {
    /// A PEFT method and its size options.
    public enum Method: Equatable, Sendable {
        case lora(r: Int, targets: [LoRATarget])
        /// Prefix tuning without the reparametrisation MLP (PEFT's default `prefix_projection=False`): an
        /// embedding of num_virtual_tokens × (n_layer · 2 · n_embd).
        case prefix(tokens: Int)
        /// Prompt tuning: an embedding of num_virtual_tokens × n_embd.
        case prompt(tokens: Int)
    }

    /// Named configurations: the hub's GPT-2 family and the reference course's model (gpt2-medium's shape
    /// with a 46,744-token vocabulary).
    public static func named(_ name: String) -> GPT2Config? {
        switch name {
        case "gpt2": return GPT2Config(vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12)
        case "gpt2-medium": return GPT2Config(vocabSize: 50257, nPositions: 1024, nEmbd: 1024, nLayer: 24, nHead: 16)
        case "gpt2-large": return GPT2Config(vocabSize: 50257, nPositions: 1024, nEmbd: 1280, nLayer: 36, nHead: 20)
        case "gpt2-xl": return GPT2Config(vocabSize: 50257, nPositions: 1024, nEmbd: 1600, nLayer: 48, nHead: 25)
        case "distilgpt2": return GPT2Config(vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 6, nHead: 12)
        case "course": return GPT2Config(vocabSize: 46744, nPositions: 1024, nEmbd: 1024, nLayer: 24, nHead: 16)
        case "small": return GPT2Config.small(vocabSize: 2048)
        default: return nil
        }
    }

    /// Parameters of GPT2LMHeadModel (tied head): embeddings, blocks, final LayerNorm.
    public static func baseCount(_ c: GPT2Config) -> Int {
        c.parameterCount ?? Int.max
    }

    /// Parameters the method trains on a model of shape `c`.
    public static func trainableCount(_ c: GPT2Config, _ m: Method) -> Int {
        switch m {
        case let .lora(r, targets):
            return c.nLayer * targets.reduce(0) { s, t in let (i, o) = t.dims(c); return s + r * (i + o) }
        case let .prefix(tokens): return tokens * c.nLayer * 2 * c.nEmbd
        case let .prompt(tokens): return tokens * c.nEmbd
        }
    }

    /// PEFT's line: `trainable params: X || all params: Y || trainable%: Z` (`{:,d}` and `{:.4f}`).
    public static func line(_ c: GPT2Config, _ m: Method) -> String {
        let t = trainableCount(c, m), all = baseCount(c) + t
        let share = String(format: "%.4f", 100 * Double(t) / Double(all))
        return "trainable params: \(grouped(t)) || all params: \(grouped(all)) || trainable%: \(share)"
    }

    /// Python's `{:,d}`.
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }
}
