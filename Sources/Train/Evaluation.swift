import Core
import Foundation
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
        /// The defaults.
        public init() {}

        var parameters: [String: String] {
            ["limit": String(limit), "max_new_tokens": String(maxNewTokens), "decoding": "greedy",
             "reasoning_start": markers.reasoningStart, "reasoning_end": markers.reasoningEnd,
             "solution_start": markers.solutionStart, "solution_end": markers.solutionEnd]
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
    public static func run(workdir: Workdir, loadModel: () throws -> GPT2, modelName: String, adapterName: String?,
                           modelInputs: [String], tokenizer: BPETokenizer, tokenizerInputs: [String], data: String,
                           options o: Options, force: Bool) throws -> Summary? {
        var parameters = o.parameters
        parameters["model"] = modelName
        if let adapterName { parameters["adapter"] = adapterName }
        guard let run = try StageRun.begin(workdir: workdir, stage: stage,
                                           inputs: [data] + modelInputs + tokenizerInputs,
                                           parameters: parameters, force: force) else { return nil }
        let model = try loadModel()
        var questions: [GSM8KRecord] = []
        let decoder = GSM8KRecord.decoder(requiring: [.id, .answer, .promptText])
        try JSONLReader.forEach(GSM8KRecord.self, path: data, decoder: decoder) { q, _ in
            if o.limit == 0 || questions.count < o.limit { questions.append(q) }
        }
        guard !questions.isEmpty else { throw CoreError.corrupt(path: data, reason: "no GSM8K records to evaluate") }

        let rewards = Rewards(markers: o.markers)
        let context = model.config.nPositions
        let keep = max(1, context - o.maxNewTokens)
        var sampling = SamplingOptions()
        sampling.greedy = true
        sampling.maxNewTokens = min(o.maxNewTokens, context - 1)
        sampling.eosTokenId = model.config.eosTokenId

        let writer = try JSONLWriter<EvalCompletion>(path: run.output("completions.jsonl.zst"))
        var summary = RewardSummary()
        var totals: [Double] = []
        var formatExact = 0, tokenSum = 0
        let progress = Progress("eval", total: questions.count, unit: "questions")
        var start = 0
        while start < questions.count {
            let group = Array(questions[start..<min(start + o.batch, questions.count)])
            // Prompts longer than the context keep their end (left truncation), as the trainers do.
            let prompts = group.map { q -> [Int] in
                let ids = tokenizer.encode(q.promptText, allowSpecial: true)
                return ids.count > keep ? Array(ids.suffix(keep)) : ids
            }
            let outputs = try Generator.generate(model: model, prompts: prompts, options: sampling)
            for (q, ids) in zip(group, outputs) {
                let body = ids.last == sampling.eosTokenId ? Array(ids.dropLast()) : ids
                let text = tokenizer.decode(body)
                let scores = rewards.scores(completion: text, answer: q.answer)
                summary.add(scores)
                let total = scores.reduce(0, +)
                totals.append(total)
                if scores[RewardFunction.allCases.firstIndex(of: .matchFormatExactly)!] > 0 { formatExact += 1 }
                tokenSum += ids.count
                var named: [String: Double] = [:]
                for (f, v) in zip(RewardFunction.allCases, scores) { named[f.name] = v }
                try writer.write(EvalCompletion(id: q.id, completion: text, tokens: ids.count, rewards: named,
                                                reward: total))
            }
            progress.advance(by: group.count)
            start += group.count
        }
        progress.finish()
        try writer.close()

        let n = Double(totals.count)
        let mean = totals.reduce(0, +) / n
        let variance = totals.count > 1 ? totals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1) : 0
        var means: [String: Double] = [:]
        for f in RewardFunction.allCases { means[f.logKey] = summary.mean(f) }
        let result = Summary(questions: totals.count, reward: summary.reward, rewardStd: variance.squareRoot(),
                             accuracy: summary.accuracy, means: means, formatExact: Double(formatExact) / n,
                             meanCompletionTokens: Double(tokenSum) / n, model: modelName, adapter: adapterName)
        try FileSystem.atomicWrite(try JSON.encode(result, pretty: true) + [0x0A], to: run.output("summary.json"))
        run.records["questions"] = totals.count
        run.records["exact_answers"] = summary.exactAnswers
        run.records["format_exact"] = formatExact
        // Records are integers: the mean total reward in thousandths, for the run comparison.
        run.records["reward_milli"] = Int((summary.reward * 1000).rounded())
        try run.commit()
        return result
    }
}
