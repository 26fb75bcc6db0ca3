import ArgumentParser
import Core
import Foundation
import GSM8K
import Tokenize
import Train

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a model's greedy answers to held-out GSM8K questions with the four reward functions.",
        discussion: """
        Reads the gsm8k stage's records (--data, default <workdir>/gsm8k/test), takes the first --limit questions \
        (0: all), encodes each record's prompt_text (left-truncated to leave room for the answer), decodes greedily \
        up to --max-new-tokens or the model's EOS, and scores the text with match_format_exactly, \
        match_format_approximately, check_answer and check_numbers (as `pipeline reward`; markers from the gsm8k \
        manifest). The model is --model (default <workdir>/pretrain: a GPT-2 folder in transformers' layout), \
        with the PEFT LoRA adapter --adapter applied when given (`pipeline sft`/`grpo` write one); \
        the tokenizer is the model folder's own when it has tokenizer.json, else --tokenizer (default \
        <workdir>/tokenize).

        Writes <workdir>/eval/: completions.jsonl.zst (id, completion, tokens, rewards per function, reward: \
        their sum), summary.json (questions, reward and reward_std, accuracy = share of check_answer 3.0, \
        format_exact = share matching the format exactly, rewards/<name>/mean, mean_completion_tokens) and the \
        manifest (records questions, exact_answers, format_exact, reward_milli). Greedy decoding makes it \
        deterministic; up to date while the data, model and options are unchanged.
        """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Model folder (default <workdir>/pretrain).", valueName: "dir")) var model: String?
    @Option(help: ArgumentHelp("PEFT LoRA adapter applied to the model (e.g. <workdir>/sft or <workdir>/grpo).", valueName: "dir"))
    var adapter: String?
    @Option(help: ArgumentHelp("Tokenizer folder or file (default: the model folder's, else <workdir>/tokenize).", valueName: "path"))
    var tokenizer: String?
    @Option(help: ArgumentHelp("GSM8K records: a file, or a split such as artifacts/gsm8k/test (default <workdir>/gsm8k/test).", valueName: "path"))
    var data: String?
    @Option(help: "Questions to evaluate, in file order (0: all).") var limit = 200
    @Option(name: .customLong("max-new-tokens"), help: "Tokens to generate per answer at most.") var maxNewTokens = 128
    @Option(help: "Questions decoded together.") var batch = 8
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must be ≥ 0") }
        guard maxNewTokens >= 1, batch >= 1 else { throw ValidationError("--max-new-tokens and --batch must be ≥ 1") }
    }

    func run() throws {
        global.apply()
        Compute.configure(threads: threads ?? Machine.cores)
        let work = global.work
        let modelDir = model ?? work.stageDir("pretrain")
        let net = try ModelSupport.loadModel(modelDir)
        if let adapter { try LoRA.load(directory: adapter, into: net) }
        let dataPath = try GSM8KStage.recordsFile(data ?? work.stageDir("gsm8k") + "/test")
        let tokPath = ModelSupport.tokenizerPath(explicit: tokenizer, modelDir: modelDir, work: work)
        let tok = try BPETokenizer(path: tokPath)
        var o = EvalStage.Options()
        o.limit = limit; o.maxNewTokens = maxNewTokens; o.batch = batch
        o.markers = RewardScoring.markers(forData: dataPath) ?? .standard
        // Named portably: a model inside the work directory is recorded as <workdir>/…, so moving the work
        // directory changes neither the outputs nor the stage's freshness.
        func portable(_ p: String) -> String { p.hasPrefix(work.path + "/") ? "<workdir>" + p.dropFirst(work.path.count) : p }
        let adapterFiles = adapter.map { a in ["adapter_config.json", "adapter_model.safetensors"].map { a + "/" + $0 } } ?? []
        guard let s = try EvalStage.run(workdir: work, model: net, modelName: portable(modelDir), adapterName: adapter.map(portable),
                                        modelInputs: Checkpoint.modelFiles(modelDir) + adapterFiles, tokenizer: tok,
                                        tokenizerInputs: BPETokenizer.files(path: tokPath), data: dataPath,
                                        options: o, force: global.force) else {
            print("eval: up to date")
            return
        }
        print("eval: \(s.questions) questions, reward \(String(format: "%.3f", s.reward)) ± \(String(format: "%.3f", s.rewardStd)), "
              + "accuracy \(String(format: "%.1f", s.accuracy * 100))%, format exact \(String(format: "%.1f", s.formatExact * 100))%, "
              + "\(String(format: "%.1f", s.meanCompletionTokens)) tokens per answer -> \(work.stageDir("eval"))")
        for f in RewardFunction.allCases { print("  \(f.logKey): \(String(format: "%.4f", s.means[f.logKey] ?? 0))") }
    }
}
