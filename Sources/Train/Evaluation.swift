import Core
import Foundation
import Metrics
import GSM8K
import Tokenize

/// The `eval` stage: greedy completions of held-out GSM8K questions, scored with the four reward functions.
public enum EvalStage {
    /// The stage's name and folder.
    public static let stage = "eval"

    /// The options of the eval stage.
    public struct Options: Sendable {
        /// At most this many questions, in file order (0: all).
        public var limit = 200
        /// Tokens generated per question at most.
        public var maxNewTokens = 128
        /// Prompts decoded together.
        public var batch = 8
        /// The tags of the reasoning and solution sections the rewards look for.
        public var markers: ReasoningMarkers = .standard
        /// Text metrics of the completions against each record's reference reasoning (`metrics.json`); none by
        /// default.
        public var metrics: [MetricName] = []
        public init() {}

        var parameters: [String: String] {
            var p = ["limit": String(limit), "max_new_tokens": String(maxNewTokens), "decoding": "greedy",
                     "reasoning_start": markers.reasoningStart, "reasoning_end": markers.reasoningEnd,
                     "solution_start": markers.solutionStart, "solution_end": markers.solutionEnd]
            if !metrics.isEmpty { p["metrics"] = metrics.map(\.rawValue).joined(separator: ",") }
            return p
        }
    }

    /// What the eval stage measured (also `summary.json`).
    public typealias Summary = EvalSummary

    /// Runs the stage; nil when up to date. `modelInputs` are the files that define the model (and adapter), so
    /// a new checkpoint re-runs the evaluation. `prepare` turns the loaded base model into the one to evaluate
    /// (it applies an adapter, when there is one).
    public static func run(workdir: Workdir, model: GPT2, modelName: String, adapterName: String?,
                           modelInputs: [String], tokenizer: BPETokenizer, tokenizerInputs: [String], data: String,
                           options o: Options, force: Bool) throws -> Summary? {
        try run(workdir: workdir, loadModel: { model }, modelName: modelName, adapterName: adapterName,
                modelInputs: modelInputs, tokenizer: tokenizer, tokenizerInputs: tokenizerInputs, data: data,
                options: o, force: force)
    }

    /// As above, with the model loaded by `loadModel` only when the stage is not up to date.
    public static func run(workdir: Workdir, loadModel: @escaping () throws -> GPT2, modelName: String,
                           adapterName: String?, modelInputs: [String], tokenizer: BPETokenizer,
                           tokenizerInputs: [String], data: String, options o: Options,
                           force: Bool) throws -> Summary? {
        let source = Source(workdir: workdir, loadModel: loadModel, modelName: modelName, adapterName: adapterName,
                            modelInputs: modelInputs, tokenizer: tokenizer, tokenizerInputs: tokenizerInputs,
                            data: data)
        return try execute(source, options: o, shard: nil, force: force)?.summary
    }

    /// What the stage evaluates: the model (loaded only when needed), the tokenizer, the questions.
    public struct Source {
        public var workdir: Workdir
        public var loadModel: () throws -> GPT2
        public var modelName: String
        public var adapterName: String?
        public var modelInputs: [String]
        public var tokenizer: BPETokenizer
        public var tokenizerInputs: [String]
        public var data: String

        public init(workdir: Workdir, loadModel: @escaping () throws -> GPT2, modelName: String, adapterName: String?,
                    modelInputs: [String], tokenizer: BPETokenizer, tokenizerInputs: [String], data: String) {
            self.workdir = workdir; self.loadModel = loadModel; self.modelName = modelName
            self.adapterName = adapterName; self.modelInputs = modelInputs; self.tokenizer = tokenizer
            self.tokenizerInputs = tokenizerInputs; self.data = data
        }

        var inputs: [String] { [data] + modelInputs + tokenizerInputs }

        func parameters(_ o: Options) -> [String: String] {
            var p = o.parameters
            p["model"] = modelName
            if let adapterName { p["adapter"] = adapterName }
            return p
        }
    }

    /// Questions per shard block: whole decoding batches, so a shard decodes exactly the batches one run decodes
    /// (the same bits: a batch's numbers depend on which prompts share it).
    static func blockQuestions(_ o: Options) -> Int { o.batch * Shard.blockSize / 8 }

    /// Shard `shard` of the stage: the completions of the questions of its blocks, in `eval/shards/I-of-N/`.
    /// False when that shard is up to date.
    public static func runShard(_ source: Source, options o: Options, shard: Shard, force: Bool) throws -> Bool {
        try execute(source, options: o, shard: shard, force: force) != nil
    }

    /// The stage's outputs from its `shards` shards: the completions in question order and the summary (and
    /// metrics) computed from them, byte-identical to `run`'s. Nil when up to date.
    public static func merge(_ source: Source, options o: Options, shards: Int, force: Bool) throws -> Summary? {
        let parameters = source.parameters(o)
        let dirs = try ShardMerge.checkShards(workdir: source.workdir, folder: stage, shards: shards,
                                              inputs: source.inputs, parameters: parameters)
        guard let run = try StageRun.begin(workdir: source.workdir, stage: stage, inputs: source.inputs,
                                           parameters: parameters, force: force) else { return nil }
        let writer = try ZstdWriter(path: run.output("completions.jsonl.zst"))
        try ShardMerge.interleave("completions.jsonl.zst", shardDirs: dirs, into: writer)
        try writer.close()
        let completions = try JSONLReader.readAll(EvalCompletion.self, path: run.output("completions.jsonl.zst"))
        let result = try summarize(run, completions, questions: try questions(source.data, o), source, o)
        try run.commit()
        return result
    }

    static func questions(_ data: String, _ o: Options) throws -> [GSM8KRecord] {
        var questions: [GSM8KRecord] = []
        let decoder = GSM8KRecord.decoder(requiring: [.id, .answer, .promptText])
        try JSONLReader.forEach(GSM8KRecord.self, path: data, decoder: decoder) { q, _ in
            if o.limit == 0 || questions.count < o.limit { questions.append(q) }
        }
        guard !questions.isEmpty else { throw CoreError.corrupt(path: data, reason: "no GSM8K records to evaluate") }
        return questions
    }

    /// The whole stage (`shard` nil: completions, summary, metrics) or one shard's completions (no summary: the
    /// merge computes it from all of them). Nil when up to date.
    static func execute(_ source: Source, options o: Options, shard: Shard?,
                        force: Bool) throws -> (summary: Summary?, answers: Int)? {
        var parameters = source.parameters(o)
        if let shard { parameters["shard"] = shard.description }
        let stageName = shard.map { Workdir.shardStage(stage, $0) } ?? stage
        guard let run = try StageRun.begin(workdir: source.workdir, stage: stageName, inputs: source.inputs,
                                           parameters: parameters, force: force) else { return nil }
        let model = try source.loadModel()
        let all = try questions(source.data, o)
        let block = blockQuestions(o)
        let questions = shard.map { s in all.indices.filter { s.owns(block: $0 / block) }.map { all[$0] } } ?? all
        let writer = try JSONLWriter<EvalCompletion>(path: run.output("completions.jsonl.zst"))
        var completions: [EvalCompletion] = []
        var blocks = shard.map { ShardBlocks(shard: $0) }
        let progress = Progress("eval", total: questions.count, unit: "questions")
        var index = 0   // the position in `questions`
        let owned = shard.map { s in all.indices.filter { s.owns(block: $0 / block) } } ?? Array(all.indices)
        try answer(questions, model: model, tokenizer: source.tokenizer, maxNewTokens: o.maxNewTokens, batch: o.batch,
                   rewards: Rewards(markers: o.markers)) { c in
            try writer.write(c)
            completions.append(c)
            blocks?.add(block: owned[index] / block, lines: 1)
            index += 1
            progress.advance()
        }
        progress.finish()
        try writer.close()
        if let blocks {
            try FileSystem.atomicWrite(try JSON.encode(blocks), to: run.output("blocks.json"))
            run.records["questions"] = completions.count
            try run.commit()
            return (nil, completions.count)
        }
        let result = try summarize(run, completions, questions: all, source, o)
        try run.commit()
        return (result, completions.count)
    }

    /// Greedy answers to `questions`, `batch` prompts decoded together (each prompt's end kept when it leaves
    /// fewer than `maxNewTokens` positions, as the trainers do), at most `maxNewTokens` tokens or up to EOS, scored
    /// with `rewards`: `each` is called with every question's completion, in order. Uses no randomness.
    public static func answer(_ questions: [GSM8KRecord], model: GPT2, tokenizer: BPETokenizer, maxNewTokens: Int,
                              batch: Int, rewards: Rewards, each: (EvalCompletion) throws -> Void) throws {
        let context = model.config.nPositions
        let keep = max(1, context - maxNewTokens)
        var sampling = SamplingOptions()
        sampling.greedy = true
        sampling.maxNewTokens = min(maxNewTokens, context - 1)
        sampling.eosTokenId = model.config.eosTokenId
        var start = 0
        while start < questions.count {
            let group = Array(questions[start..<min(start + batch, questions.count)])
            let prompts = group.map { q -> [Int] in
                let ids = tokenizer.encode(q.promptText, allowSpecial: true)
                return ids.count > keep ? Array(ids.suffix(keep)) : ids
            }
            let outputs = try Generator.generate(model: model, prompts: prompts, options: sampling)
            for (q, ids) in zip(group, outputs) {
                let body = ids.last == sampling.eosTokenId ? Array(ids.dropLast()) : ids
                let text = tokenizer.decode(body)
                let scores = rewards.scores(completion: text, answer: q.answer)
                var named: [String: Double] = [:]
                for (f, v) in zip(RewardFunction.allCases, scores) { named[f.name] = v }
                try each(EvalCompletion(id: q.id, completion: text, tokens: ids.count, rewards: named,
                                        reward: scores.reduce(0, +)))
            }
            start += group.count
        }
    }

    /// `summary.json` (and `metrics.json` with `--metrics`) and the records, from the completions in order.
    static func summarize(_ run: StageRun, _ completions: [EvalCompletion], questions: [GSM8KRecord],
                          _ source: Source, _ o: Options) throws -> Summary {
        var summary = RewardSummary()
        var totals: [Double] = []
        var formatExact = 0, tokenSum = 0
        for c in completions {
            let scores = RewardFunction.allCases.map { c.rewards[$0.name] ?? 0 }
            summary.add(scores)
            totals.append(c.reward)
            if scores[RewardFunction.allCases.firstIndex(of: .matchFormatExactly)!] > 0 { formatExact += 1 }
            tokenSum += c.tokens
        }
        let n = Double(totals.count)
        let mean = totals.reduce(0, +) / n
        let variance = totals.count > 1 ? totals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1) : 0
        var means: [String: Double] = [:]
        for f in RewardFunction.allCases { means[f.logKey] = summary.mean(f) }
        let result = Summary(questions: totals.count, reward: summary.reward, rewardStd: variance.squareRoot(),
                             accuracy: summary.accuracy, means: means, formatExact: Double(formatExact) / n,
                             meanCompletionTokens: Double(tokenSum) / n, model: source.modelName,
                             adapter: source.adapterName)
        try FileSystem.atomicWrite(try JSON.encode(result, pretty: true) + [0x0A], to: run.output("summary.json"))
        if !o.metrics.isEmpty {
            let reasoning = Dictionary(questions.map { ($0.id, $0.reasoning) }, uniquingKeysWith: { a, _ in a })
            let items = completions.map { ScoreItem(id: $0.id, prediction: $0.completion,
                                                    references: [reasoning[$0.id] ?? ""]) }
            let report = Scorer.score(items, options: ScoreOptions(metrics: o.metrics))
            try FileSystem.atomicWrite(try JSON.encode(report, pretty: true) + [0x0A], to: run.output("metrics.json"))
        }
        run.records["questions"] = totals.count
        run.records["exact_answers"] = summary.exactAnswers
        run.records["format_exact"] = formatExact
        // Records are integers: the mean total reward in thousandths, for the run comparison.
        run.records["reward_milli"] = Int((summary.reward * 1000).rounded())
        return result
    }
}
