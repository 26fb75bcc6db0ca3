import ArgumentParser
import Core
import Foundation
import Tokenize
import Train

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a GPT-2 model folder (KV cache, several prompts batched together).",
        discussion: """
        --model is a model folder: ours (<workdir>/pretrain, the default), one written by `pipeline export \
        model`, or a transformers GPT-2 folder with config.json + model.safetensors (e.g. gpt2, distilgpt2; \
        F16/BF16 weights are converted). Prompts: --prompt TEXT (repeatable), --file F (one prompt per line), \
        or --prompt-ids "1,2,3" (repeatable; token ids, no tokenizer needed). Text is encoded with --tokenizer \
        (default <workdir>/tokenize; a tokenizer.json or vocab.json + merges.txt folder also works). All \
        prompts (each repeated --num-return times) are decoded together in one batch. Each continuation stops \
        at the model's EOS id (config.json eos_token_id; included in the output ids, not in the text), after \
        --max-new-tokens, or at the model's last position.

        --greedy (or --temperature 0) takes the most likely token, as transformers' generate(do_sample=False); \
        otherwise tokens are sampled after --temperature, then --top-k (0: off), then --top-p (1: off), with a \
        seeded generator (--seed): the same seed gives the same text. Output: the prompt and its continuation \
        per line, or with --json one record per continuation: {"prompt", "index", "ids", "text"}.
        """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Model folder (default <workdir>/pretrain).", valueName: "dir")) var model: String?
    @Option(help: ArgumentHelp("PEFT LoRA adapter applied to the model (ours or PEFT's).", valueName: "dir"))
    var adapter: String?
    @Option(help: ArgumentHelp("Tokenizer (default <workdir>/tokenize).", valueName: "path")) var tokenizer: String?
    @Option(help: "A prompt (repeatable).") var prompt: [String] = []
    @Option(help: ArgumentHelp("A file of prompts, one per line.", valueName: "file")) var file: String?
    @Option(name: .customLong("prompt-ids"),
            help: ArgumentHelp("A prompt as comma-separated token ids (repeatable).", valueName: "ids"))
    var promptIds: [String] = []
    @Option(name: .customLong("max-new-tokens"), help: "Tokens to generate per prompt at most.") var maxNewTokens = 64
    @Option(help: "Sampling temperature (0: greedy).", transform: Finite.float) var temperature: Float = 1
    @Option(name: .customLong("top-k"), help: "Keep the K most likely tokens (0: all).") var topK = 0
    @Option(name: .customLong("top-p"), help: "Keep the smallest set of tokens with this much probability (1: all).",
            transform: Finite.float) var topP: Float = 1
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Flag(help: "Greedy decoding (argmax).") var greedy = false
    @Option(name: .customLong("num-return"), help: "Continuations per prompt.") var numReturn = 1
    @Flag(help: "One JSON record per continuation.") var json = false
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "Print generated tokens per second (after loading) on stderr.") var timing = false

    func validate() throws {
        guard maxNewTokens >= 1, numReturn >= 1 else {
            throw ValidationError("--max-new-tokens and --num-return must be ≥ 1")
        }
        guard temperature >= 0, topK >= 0, topP > 0, topP <= 1 else {
            throw ValidationError("--temperature ≥ 0, --top-k ≥ 0, 0 < --top-p ≤ 1")
        }
        guard !prompt.isEmpty || file != nil || !promptIds.isEmpty else {
            throw ValidationError("give --prompt, --file or --prompt-ids")
        }
    }

    func run() throws {
        global.apply()
        Compute.configure(threads: threads ?? Machine.cores)
        let work = global.work
        let m = try ModelSupport.loadModel(model ?? work.stageDir("pretrain"))
        if let adapter { try LoRA.load(directory: adapter, into: m) }
        var texts = prompt
        if let file {
            let bytes = try ByteReader(path: file).readAll()
            texts += String(decoding: bytes, as: UTF8.self)
                .split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        }
        var tok: BPETokenizer? = nil
        let tokPath = tokenizer ?? work.stageDir("tokenize")
        if !texts.isEmpty || FileSystem.exists(tokPath) {
            do { tok = try BPETokenizer(path: tokPath) } catch {
                if !texts.isEmpty { throw error }
            }
        }
        var prompts: [(String, [Int])] = []
        for t in texts { prompts.append((t, tok!.encode(t))) }
        for s in promptIds {
            let ids = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !ids.isEmpty, ids.allSatisfy({ $0 != nil && $0! >= 0 }) else {
                throw ValidationError("--prompt-ids \"\(s)\": not a comma-separated list of ids")
            }
            let list = ids.map { $0! }
            prompts.append((tok?.decode(list) ?? s, list))
        }
        var o = SamplingOptions()
        o.maxNewTokens = maxNewTokens; o.greedy = greedy; o.temperature = temperature; o.topK = topK; o.topP = topP
        o.seed = seed; o.eosTokenId = m.config.eosTokenId
        var batch: [[Int]] = [], owner: [Int] = []
        for (i, p) in prompts.enumerated() { for _ in 0..<numReturn { batch.append(p.1); owner.append(i) } }
        let started = Date()
        let out = try Generator.generate(model: m, prompts: batch, options: o)
        if timing {
            let secs = Date().timeIntervalSince(started), n = out.reduce(0) { $0 + $1.count }
            let time = String(format: "%.3f", secs), rate = String(format: "%.1f", Double(n) / secs)
            FileHandle.standardError.write(Data("generate: \(n) tokens in \(time) s, \(rate) tokens/s\n".utf8))
        }
        for (k, ids) in out.enumerated() {
            let textIds = ids.last == o.eosTokenId ? Array(ids.dropLast()) : ids
            let text = tok.map { $0.decode(textIds) }
            if json {
                struct Record: Encodable { let prompt: String; let index: Int; let ids: [Int]; let text: String? }
                let record = Record(prompt: prompts[owner[k]].0, index: owner[k], ids: ids, text: text)
                print(String(decoding: try JSON.encode(record), as: UTF8.self))
            } else {
                print(prompts[owner[k]].0 + (text ?? " " + ids.map(String.init).joined(separator: ",")))
            }
        }
    }
}
