import Core
import Foundation

/// A value in the run configuration.
public enum ConfigValue: Equatable, Sendable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case strings([String])

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .string(let v): return "\"\(v)\""
        case .bool(let v): return v ? "true" : "false"
        case .strings(let v): return "[" + v.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        }
    }
}

/// One option of a stage command, as it appears in `pipeline.toml` and on the stage's command line.
public struct StageParameter: Sendable {
    public enum Kind: String, Sendable {
        case int = "integer", double = "floating-point number", string, bool = "boolean", strings = "array of strings"
    }
    /// How the value becomes arguments.
    public enum Passing: Sendable {
        /// `--flag value` (an int/double/string; an empty string is omitted, so the command's own default applies).
        case option(String)
        /// `--flag` when true, nothing when false.
        case flag(String)
        /// Positional arguments (an array of strings).
        case positional
    }
    public let key: String
    public let kind: Kind
    /// The command's own default; nil: optional, omitted unless set.
    public let defaultValue: ConfigValue?
    public let passing: Passing
    public let help: String

    public init(_ key: String, _ kind: Kind, _ defaultValue: ConfigValue?, _ passing: Passing, _ help: String) {
        self.key = key; self.kind = kind; self.defaultValue = defaultValue; self.passing = passing; self.help = help
    }
}

/// One row of the pipeline: the command that runs it, the folder it writes, its options, and any arguments it takes
/// from the `[inputs]` section. Adding a stage to `pipeline run` is adding one entry to `RunStages.all`.
public struct StageSpec: Sendable {
    /// The subcommand name (`pipeline <name>`), also the section name in `pipeline.toml`.
    public let name: String
    /// The folder under the work directory holding its outputs and manifest.
    public let folder: String
    public let summary: String
    public let parameters: [StageParameter]
    /// Arguments taken from `[inputs]` (placed before the stage's own options).
    /// Arguments taken from `[inputs]` and the work directory's state (placed before the stage's own options).
    public let inputArguments: @Sendable (RunInputs, Workdir) -> [String]
    /// Non-nil when the inputs make the stage unnecessary (no PDFs for ingest, a base model for pretrain): why.
    public let replacedBy: @Sendable (RunInputs) -> String?

    public init(name: String, folder: String, summary: String, parameters: [StageParameter] = [],
                inputArguments: @escaping @Sendable (RunInputs, Workdir) -> [String] = { _, _ in [] },
                replacedBy: @escaping @Sendable (RunInputs) -> String? = { _ in nil }) {
        self.name = name; self.folder = folder; self.summary = summary; self.parameters = parameters
        self.inputArguments = inputArguments; self.replacedBy = replacedBy
    }

    /// The command line for this stage (without the executable), from the configured values.
    public func arguments(values: [String: ConfigValue], inputs: RunInputs, workdir: String, force: Bool) -> [String] {
        var args = [name] + inputArguments(inputs, Workdir(path: workdir))
        for p in parameters {
            guard let v = values[p.key] ?? p.defaultValue else { continue }
            switch (p.passing, v) {
            case (.positional, .strings(let list)): args += list
            case (.flag(let f), .bool(let on)): if on { args.append(f) }
            case (.option(let f), .string(let s)): if !s.isEmpty { args += [f, s] }
            case (.option(let f), _): args += [f, v.description]
            default: break
            }
        }
        args += ["--workdir", workdir]
        if force { args.append("--force") }
        return args
    }
}

/// The `[inputs]` section: raw material the first stages read.
public struct RunInputs: Equatable, Sendable {
    public var pdfs: [String] = []
    public var gsm8k: [String] = []
    public var baseModel: String = ""
    public init() {}
}

public enum RunStages {
    /// Every stage in pipeline order. Those whose command is not in the build are reported as "not built".
    public static let all: [StageSpec] = [
        StageSpec(name: "ingest", folder: "ingest", summary: "PDF folders → pages, documents, corpus", parameters: [
            StageParameter("jobs", .int, nil, .option("--jobs"), "worker processes (default: all cores)"),
            StageParameter("password", .string, .string(""), .option("--password"), "password for encrypted PDFs"),
            StageParameter("normalize", .string, .string("nfkc"), .option("--normalize"), "nfkc or none"),
            StageParameter("dehyphenate", .bool, .bool(false), .flag("--dehyphenate"), "join words hyphenated at line ends"),
            StageParameter("strip_headers", .bool, .bool(false), .flag("--strip-headers"), "drop running heads and page numbers"),
            StageParameter("doc_timeout", .int, .int(120), .option("--doc-timeout"), "seconds per document"),
        ], inputArguments: { i, _ in i.pdfs }, replacedBy: { $0.pdfs.isEmpty ? "no PDF folders in [inputs] pdfs" : nil }),
        StageSpec(name: "bpe-train", folder: "tokenize", summary: "byte-level BPE tokenizer", parameters: [
            StageParameter("files", .strings, .strings([]), .positional,
                           "text files to train on; empty: the ingest stage's corpus.txt.zst"),
            StageParameter("vocab_size", .int, .int(50257), .option("--vocab-size"), "largest vocabulary"),
            StageParameter("min_frequency", .int, .int(50), .option("--min-frequency"), "smallest pair count that merges"),
            StageParameter("special_tokens", .string, .string("<pad>,<unk>,<s>"), .option("--special-tokens"),
                           "comma-separated special tokens"),
            StageParameter("add_prefix_space", .bool, .bool(false), .flag("--add-prefix-space"), "ByteLevel add_prefix_space"),
            StageParameter("no_initial_alphabet", .bool, .bool(false), .flag("--no-initial-alphabet"), "only bytes seen"),
            StageParameter("threads", .int, nil, .option("--threads"), "worker threads (default: all cores)"),
        ]),
        StageSpec(name: "tokenize", folder: "tokens", summary: "corpus → tokens.bin.zst", parameters: [
            StageParameter("corpus", .string, .string(""), .option("--corpus"),
                           "corpus file; empty: the ingest stage's corpus.txt.zst"),
            StageParameter("tokenizer", .string, .string(""), .option("--tokenizer"),
                           "tokenizer folder or tokenizer.json; empty: the bpe-train output"),
            StageParameter("threads", .int, nil, .option("--threads"), "worker threads (default: all cores)"),
        ]),
        StageSpec(name: "gsm8k", folder: "gsm8k", summary: "GSM8K question/answer records", parameters: [
            StageParameter("reasoning_start", .string, .string("<start_working_out>"), .option("--reasoning-start"), "marker"),
            StageParameter("reasoning_end", .string, .string("<end_working_out>"), .option("--reasoning-end"), "marker"),
            StageParameter("solution_start", .string, .string("<SOLUTION>"), .option("--solution-start"), "marker"),
            StageParameter("solution_end", .string, .string("</SOLUTION>"), .option("--solution-end"), "marker"),
        ], inputArguments: { i, _ in i.gsm8k }, replacedBy: { $0.gsm8k.isEmpty ? "no GSM8K files in [inputs] gsm8k" : nil }),
        StageSpec(name: "chunk", folder: "chunk", summary: "pages → chunks (LangChain's recursive splitter)", parameters: [
            StageParameter("size", .int, .int(1024), .option("--size"), "largest chunk in code points"),
            StageParameter("overlap", .int, .int(128), .option("--overlap"), "overlap in code points"),
            StageParameter("unit", .string, .string("page"), .option("--unit"), "page or document"),
        ]),
        StageSpec(name: "index", folder: "index", summary: "chunks → SQLite: embeddings + FTS5", parameters: [
            StageParameter("model", .string, .string("models/all-MiniLM-L6-v2"), .option("--model"), "sentence-transformers folder"),
            StageParameter("archive", .bool, .bool(true), .flag("--archive"), "also keep index.sqlite.zst"),
        ]),
        StageSpec(name: "pretrain", folder: "pretrain", summary: "pretrain a GPT-2 on the tokens (skipped with a base model)",
                  parameters: [
            StageParameter("config", .string, .string("small"), .option("--config"), "tiny, small, gpt2 or a config.json"),
            StageParameter("steps", .int, .int(200), .option("--steps"), "optimizer steps"),
            StageParameter("batch", .int, .int(8), .option("--batch"), "sequences per micro-batch"),
            StageParameter("seq", .int, .int(256), .option("--seq"), "tokens per sequence"),
            StageParameter("grad_accum", .int, .int(1), .option("--grad-accum"), "micro-batches per step"),
            StageParameter("lr", .double, .double(6e-4), .option("--lr"), "peak learning rate"),
            StageParameter("warmup", .int, nil, .option("--warmup"), "warm-up steps (default 10% of steps, ≤ 100)"),
            StageParameter("weight_decay", .double, .double(0.1), .option("--weight-decay"), "AdamW weight decay"),
            StageParameter("max_grad_norm", .double, .double(1), .option("--max-grad-norm"), "gradient clip"),
            StageParameter("seed", .int, .int(1337), .option("--seed"), "random seed"),
            StageParameter("save_every", .int, .int(100), .option("--save-every"), "checkpoint every N steps"),
            StageParameter("eval_every", .int, .int(50), .option("--eval-every"), "validation every N steps"),
            StageParameter("eval_batches", .int, .int(4), .option("--eval-batches"), "batches per validation"),
            StageParameter("threads", .int, nil, .option("--threads"), "threads (default: all cores)"),
        ], replacedBy: { $0.baseModel.isEmpty ? nil : "base model \($0.baseModel)" }),
        StageSpec(name: "sft", folder: "sft", summary: "LoRA warm-up on GSM8K prompt → worked answer", parameters: loraParameters + [
            StageParameter("epochs", .int, .int(1), .option("--epochs"), "passes over the data"),
            StageParameter("max_steps", .int, nil, .option("--max-steps"), "optimizer steps (overrides epochs)"),
            StageParameter("batch", .int, .int(4), .option("--batch"), "examples per micro-batch"),
            StageParameter("grad_accum", .int, .int(1), .option("--grad-accum"), "micro-batches per step"),
            StageParameter("lr", .double, .double(2e-4), .option("--lr"), "peak learning rate"),
            StageParameter("warmup_ratio", .double, .double(0.03), .option("--warmup-ratio"), "share of steps warming up"),
            StageParameter("weight_decay", .double, .double(0), .option("--weight-decay"), "AdamW weight decay"),
            StageParameter("max_grad_norm", .double, .double(1), .option("--max-grad-norm"), "gradient clip"),
            StageParameter("max_length", .int, .int(512), .option("--max-length"), "tokens per example"),
            StageParameter("max_examples", .int, nil, .option("--max-examples"), "first N records only"),
            StageParameter("seed", .int, .int(42), .option("--seed"), "random seed"),
            StageParameter("threads", .int, nil, .option("--threads"), "threads (default: all cores)"),
        ], inputArguments: { i, _ in i.baseModel.isEmpty ? [] : ["--model", i.baseModel] }),
        StageSpec(name: "grpo", folder: "grpo", summary: "GRPO on GSM8K with the four rewards", parameters: loraParameters + [
            StageParameter("num_generations", .int, .int(2), .option("--num-generations"), "completions per prompt"),
            StageParameter("batch", .int, .int(2), .option("--batch"), "completions per micro-batch"),
            StageParameter("grad_accum", .int, .int(4), .option("--grad-accum"), "micro-batches per step"),
            StageParameter("lr", .double, .double(3e-5), .option("--lr"), "peak learning rate"),
            StageParameter("warmup_ratio", .double, .double(0.1), .option("--warmup-ratio"), "share of steps warming up"),
            StageParameter("epochs", .int, .int(1), .option("--epochs"), "passes over the prompts"),
            StageParameter("max_steps", .int, nil, .option("--max-steps"), "optimizer steps (overrides epochs)"),
            StageParameter("max_prompt_length", .int, .int(256), .option("--max-prompt-length"), "prompt tokens kept"),
            StageParameter("max_completion_length", .int, .int(200), .option("--max-completion-length"), "completion tokens"),
            StageParameter("temperature", .double, .double(1), .option("--temperature"), "sampling temperature"),
            StageParameter("top_p", .double, .double(1), .option("--top-p"), "nucleus mass"),
            StageParameter("top_k", .int, .int(0), .option("--top-k"), "top-k (0: off)"),
            StageParameter("beta", .double, .double(0.04), .option("--beta"), "KL coefficient"),
            StageParameter("epsilon", .double, .double(0.2), .option("--epsilon"), "clipping"),
            StageParameter("loss_type", .string, .string("dapo"), .option("--loss-type"), "dapo, grpo, bnpo or dr_grpo"),
            StageParameter("scale_rewards", .string, .string("group"), .option("--scale-rewards"), "group, batch or none"),
            StageParameter("reward_weights", .string, .string("1,1,1,1"), .option("--reward-weights"), "four weights"),
            StageParameter("max_examples", .int, nil, .option("--max-examples"), "first N records only"),
            StageParameter("save_every", .int, .int(50), .option("--save-every"), "checkpoint every N steps"),
            StageParameter("sample_every", .int, .int(10), .option("--sample-every"), "log sample completions every N steps"),
            StageParameter("seed", .int, .int(42), .option("--seed"), "random seed"),
            StageParameter("threads", .int, nil, .option("--threads"), "threads (default: all cores)"),
        ], inputArguments: { i, w in
            // GRPO continues the SFT adapter when there is one.
            (i.baseModel.isEmpty ? [] : ["--model", i.baseModel])
                + (FileSystem.exists(w.stageDir("sft") + "/adapter_config.json") ? ["--adapter", w.stageDir("sft")] : [])
        }),
        StageSpec(name: "eval", folder: "eval", summary: "rewards and accuracy on held-out questions", parameters: [
            StageParameter("limit", .int, .int(200), .option("--limit"), "questions (0: all)"),
            StageParameter("max_new_tokens", .int, .int(128), .option("--max-new-tokens"), "answer length at most"),
            StageParameter("batch", .int, .int(8), .option("--batch"), "questions decoded together"),
            StageParameter("threads", .int, nil, .option("--threads"), "threads (default: all cores)"),
        ], inputArguments: { i, w in
            // The newest adapter: GRPO's, else SFT's, else the model alone.
            let adapter = ["grpo", "sft"].map(w.stageDir).first { FileSystem.exists($0 + "/adapter_config.json") }
            return (i.baseModel.isEmpty ? [] : ["--model", i.baseModel]) + (adapter.map { ["--adapter", $0] } ?? [])
        }),
    ]

    /// The LoRA options shared by sft and grpo.
    static let loraParameters: [StageParameter] = [
        StageParameter("lora_r", .int, .int(8), .option("--lora-r"), "LoRA rank"),
        StageParameter("lora_alpha", .double, .double(16), .option("--lora-alpha"), "LoRA alpha"),
        StageParameter("lora_dropout", .double, .double(0.05), .option("--lora-dropout"), "LoRA dropout"),
        StageParameter("target", .string, .string("c_attn"), .option("--target"), "modules: c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, all"),
    ]

    public static func spec(_ name: String) -> StageSpec? { all.first { $0.name == name } }
    public static var names: [String] { all.map(\.name) }

    /// The stages to run, in order: `only` (if any) or everything up to and including `until`.
    public static func select(until: String?, only: [String]) throws -> [StageSpec] {
        for n in only + (until.map { [$0] } ?? []) where spec(n) == nil {
            throw CoreError.usage("unknown stage \"\(n)\" (stages: \(names.joined(separator: ", ")))")
        }
        if !only.isEmpty {
            if until != nil { throw CoreError.usage("--until and --only cannot be combined") }
            return all.filter { only.contains($0.name) }
        }
        guard let u = until, let last = all.firstIndex(where: { $0.name == u }) else { return all }
        return Array(all[...last])
    }
}
