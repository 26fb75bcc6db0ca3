import Foundation

/// A `metrics.jsonl.zst` record: what one training step logged.
public protocol StepMetrics: Codable, Sendable {
    /// The optimizer step, from 1.
    var step: Int { get }
    /// Every logged value but `step`, by its field name, as the file's text reads (a `Float` field through its
    /// shortest decimal form, which is what the file holds): what the report charts.
    var logged: [(name: String, value: Double)] { get }
}

/// A `Float` as the `Double` its JSON text (the shortest decimal form) reads as.
@inline(__always) func asWritten(_ x: Float) -> Double { Double(x.description) ?? Double(x) }

/// One line of `pretrain/metrics.jsonl.zst`. `tokens_per_s` is for progress lines only: it is not stored, so
/// the artifacts of a seed are the same bytes on every run (and after a resume).
public struct PretrainMetrics: StepMetrics, Equatable {
    /// The optimizer step, from 1.
    public var step: Int
    /// Mean cross-entropy of the step's batches.
    public var train_loss: Float
    /// Mean loss over the fixed validation windows; only on evaluation steps (absent otherwise).
    public var val_loss: Float?
    /// The learning rate the step used.
    public var lr: Float
    /// Gradient norm before clipping.
    public var grad_norm: Float
    /// Training tokens per second of the step (not stored).
    public var tokens_per_s: Double = 0

    enum CodingKeys: String, CodingKey { case step, train_loss, val_loss, lr, grad_norm }

    /// A record of these values.
    public init(step: Int, train_loss: Float, val_loss: Float?, lr: Float, grad_norm: Float, tokens_per_s: Double = 0) {
        self.step = step; self.train_loss = train_loss; self.val_loss = val_loss; self.lr = lr
        self.grad_norm = grad_norm; self.tokens_per_s = tokens_per_s
    }

    /// The stored values but `step`, as written.
    public var logged: [(name: String, value: Double)] {
        [("train_loss", asWritten(train_loss))] + (val_loss.map { [("val_loss", asWritten($0))] } ?? [])
            + [("lr", asWritten(lr)), ("grad_norm", asWritten(grad_norm))]
    }
}

/// One line of `sft/metrics.jsonl.zst` (TRL's SFTTrainer log names).
public struct SFTMetrics: StepMetrics, Equatable {
    /// The optimizer step, from 1.
    public var step: Int
    /// Epochs done, fractional (step × batch / examples).
    public var epoch: Double
    /// Mean loss over the step's completion tokens.
    public var loss: Float
    /// The learning rate the step used.
    public var learning_rate: Float
    /// Gradient norm before clipping.
    public var grad_norm: Float
    /// Completion tokens that carried loss in this step.
    public var num_tokens: Int
    /// Seconds the step took.
    public var step_time: Double

    /// A record of these values.
    public init(step: Int, epoch: Double, loss: Float, learning_rate: Float, grad_norm: Float, num_tokens: Int,
                step_time: Double) {
        self.step = step; self.epoch = epoch; self.loss = loss; self.learning_rate = learning_rate
        self.grad_norm = grad_norm; self.num_tokens = num_tokens; self.step_time = step_time
    }

    /// The values but `step`, as written.
    public var logged: [(name: String, value: Double)] {
        [("epoch", epoch), ("loss", asWritten(loss)), ("learning_rate", asWritten(learning_rate)),
         ("grad_norm", asWritten(grad_norm)), ("num_tokens", Double(num_tokens)), ("step_time", step_time)]
    }
}

/// One line of `grpo/metrics.jsonl.zst`, under TRL's GRPOTrainer log names (`grad_norm`,
/// `completions/mean_length`, `rewards/<function>/mean`, …). A value that came out NaN is not logged (nil);
/// `kl` is logged only when β ≠ 0. `self["name"]` gives a value by its logged name.
public struct GRPOMetrics: StepMetrics, Equatable {
    /// The optimizer step, from 1.
    public var step: Int
    /// Epochs done, fractional (prompts used / prompts).
    public var epoch: Double?
    /// The step's loss, summed over its micro-batches.
    public var loss: Double?
    /// Gradient norm before clipping.
    public var gradNorm: Double?
    /// The learning rate the step used.
    public var learningRate: Double?
    /// Mean token entropy of the completions.
    public var entropy: Double?
    /// Mean KL to the reference model (only when β ≠ 0).
    public var kl: Double?
    /// Share of groups whose rewards were all equal (zero advantage).
    public var fracRewardZeroStd: Double?
    /// Mean completion length in tokens (EOS included).
    public var completionsMeanLength: Double?
    /// Share of completions cut at the length limit (no EOS).
    public var completionsClippedRatio: Double?
    /// Mean and standard deviation of each reward function's scores, by the function's name.
    public var rewardMeans: [String: Double] = [:]
    /// Standard deviation of each reward function's scores, by the function's name.
    public var rewardStds: [String: Double] = [:]
    /// Mean and standard deviation of the weighted total reward.
    public var reward: Double?
    /// Standard deviation of the weighted total reward.
    public var rewardStd: Double?
    /// Seconds spent sampling the completions, and the whole step.
    public var generationTime: Double?
    /// Seconds the whole step took.
    public var stepTime: Double?
    /// Greedy answer accuracy on the held-out questions of `grpo --eval-every` (at its steps only).
    public var evalAccuracy: Double?
    /// Share of those greedy answers in the exact format (at the same steps).
    public var evalFormatExact: Double?

    /// A record of step `step` with nothing else logged yet.
    public init(step: Int) { self.step = step }

    /// The line's values by their logged names, `step` included (what is written; NaN values left out).
    public var values: [String: Double] {
        var v: [String: Double] = ["step": Double(step)]
        let named: [(String, Double?)] = [
            ("epoch", epoch), ("loss", loss), ("grad_norm", gradNorm), ("learning_rate", learningRate),
            ("entropy", entropy), ("kl", kl), ("frac_reward_zero_std", fracRewardZeroStd),
            ("completions/mean_length", completionsMeanLength),
            ("completions/clipped_ratio", completionsClippedRatio), ("reward", reward), ("reward_std", rewardStd),
            ("generation_time", generationTime), ("step_time", stepTime), ("eval/accuracy", evalAccuracy),
            ("eval/format_exact", evalFormatExact)]
        for (k, x) in named { if let x, !x.isNaN { v[k] = x } }
        for (f, x) in rewardMeans where !x.isNaN { v["rewards/\(f)/mean"] = x }
        for (f, x) in rewardStds where !x.isNaN { v["rewards/\(f)/std"] = x }
        return v
    }

    /// A value by its logged name (`step` included); nil when not logged.
    public subscript(name: String) -> Double? { values[name] }

    /// The logged values but `step`.
    public var logged: [(name: String, value: Double)] {
        values.filter { $0.key != "step" }.map { ($0.key, $0.value) }
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Reads a line as written by `values`: `step` and any other numeric fields.
    public init(from decoder: Decoder) throws {
        var v = try [String: Double](from: decoder)
        guard let s = v.removeValue(forKey: "step") else {
            throw DecodingError.keyNotFound(Key("step"), .init(codingPath: decoder.codingPath,
                                                               debugDescription: "no step"))
        }
        step = Int(s)
        epoch = v["epoch"]; loss = v["loss"]; gradNorm = v["grad_norm"]; learningRate = v["learning_rate"]
        entropy = v["entropy"]; kl = v["kl"]; fracRewardZeroStd = v["frac_reward_zero_std"]
        completionsMeanLength = v["completions/mean_length"]; completionsClippedRatio = v["completions/clipped_ratio"]
        reward = v["reward"]; rewardStd = v["reward_std"]
        generationTime = v["generation_time"]; stepTime = v["step_time"]
        evalAccuracy = v["eval/accuracy"]; evalFormatExact = v["eval/format_exact"]
        for (k, x) in v where k.hasPrefix("rewards/") {
            let parts = k.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if parts[2] == "mean" { rewardMeans[String(parts[1])] = x }
            if parts[2] == "std" { rewardStds[String(parts[1])] = x }
        }
    }

    /// One JSON object of `values`, every number a `Double` (the encoder sorts the keys).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (k, x) in values { try c.encode(x, forKey: Key(k)) }
    }
}

/// One line of `grpo/evals.jsonl.zst` (`grpo --eval-every N`): the greedy answers to the held-out questions
/// before the first step (step 0), every N steps and after the last, scored with the four rewards.
public struct GRPOEvalRecord: Codable, Equatable, Sendable {
    /// Optimizer steps done when the answers were decoded (0: the starting adapter).
    public var step: Int
    /// Questions answered.
    public var questions: Int
    /// Share whose `check_answer` is 3.0 (the exact answer in the full format).
    public var accuracy: Double
    /// Share matching the format exactly.
    public var formatExact: Double
    /// Mean total reward (the four functions' sum).
    public var reward: Double
    /// The first questions and their answers, for a before/after comparison.
    public var samples: [GRPOEvalSample]

    enum CodingKeys: String, CodingKey {
        case step, questions, accuracy, reward, samples
        case formatExact = "format_exact"
    }

    /// A record of these values.
    public init(step: Int, questions: Int, accuracy: Double, formatExact: Double, reward: Double,
                samples: [GRPOEvalSample]) {
        self.step = step; self.questions = questions; self.accuracy = accuracy; self.formatExact = formatExact
        self.reward = reward; self.samples = samples
    }
}

/// One held-out question of a `GRPOEvalRecord` and the model's greedy answer to it.
public struct GRPOEvalSample: Codable, Equatable, Sendable {
    /// The record's id.
    public var id: String
    /// The question.
    public var question: String
    /// The true answer.
    public var answer: String
    /// The greedy completion, decoded (without EOS).
    public var completion: String
    /// Its total reward.
    public var reward: Double

    /// A sample of these values.
    public init(id: String, question: String, answer: String, completion: String, reward: Double) {
        self.id = id; self.question = question; self.answer = answer; self.completion = completion
        self.reward = reward
    }
}

/// One line of `grpo/samples.jsonl.zst`: the first group of completions of a logged step (every
/// `--sample-every` steps, and step 1).
public struct GRPOSampleRecord: Codable, Equatable, Sendable {
    /// The optimizer step the samples were drawn at.
    public var step: Int
    /// The prompt text as given to the model.
    public var prompt: String
    /// The record's true answer.
    public var answer: String
    /// The group's completions, decoded (without EOS).
    public var completions: [String]
    /// Each completion's weighted total reward.
    public var rewards: [Double]
    /// Each completion's advantage.
    public var advantages: [Double]

    /// A record of these values.
    public init(step: Int, prompt: String, answer: String, completions: [String], rewards: [Double],
                advantages: [Double]) {
        self.step = step; self.prompt = prompt; self.answer = answer; self.completions = completions
        self.rewards = rewards; self.advantages = advantages
    }
}
