import Foundation

/// One line of `eval/completions.jsonl.zst`: the greedy completion of one held-out question and its scores.
public struct EvalCompletion: Codable, Equatable, Sendable {
    /// The GSM8K record's id.
    public var id: String
    /// The decoded completion (without EOS).
    public var completion: String
    /// Tokens generated (EOS included).
    public var tokens: Int
    /// Each reward function's score, by the function's name.
    public var rewards: [String: Double]
    /// The total of `rewards`.
    public var reward: Double

    /// A record of these values.
    public init(id: String, completion: String, tokens: Int, rewards: [String: Double], reward: Double) {
        self.id = id; self.completion = completion; self.tokens = tokens; self.rewards = rewards
        self.reward = reward
    }
}

/// `eval/summary.json` (pretty-printed): what the eval stage measured.
public struct EvalSummary: Codable, Equatable, Sendable {
    /// Questions evaluated.
    public var questions: Int
    /// Mean total reward.
    public var reward: Double
    /// Sample standard deviation of the total reward.
    public var rewardStd: Double
    /// Share of exact answers (`check_answer` = 3).
    public var accuracy: Double
    /// Mean score of each reward function, by its TRL log name (`rewards/<function>/mean`).
    public var means: [String: Double]
    /// Share of completions whose format matches exactly (`match_format_exactly` > 0).
    public var formatExact: Double
    /// Mean tokens per completion.
    public var meanCompletionTokens: Double
    /// The model folder evaluated, as given.
    public var model: String
    /// The adapter applied, as given (absent when none).
    public var adapter: String?

    enum CodingKeys: String, CodingKey {
        case questions, reward, accuracy, means, model, adapter
        case rewardStd = "reward_std", formatExact = "format_exact", meanCompletionTokens = "mean_completion_tokens"
    }

    /// A summary of these values.
    public init(questions: Int, reward: Double, rewardStd: Double, accuracy: Double, means: [String: Double],
                formatExact: Double, meanCompletionTokens: Double, model: String, adapter: String?) {
        self.questions = questions; self.reward = reward; self.rewardStd = rewardStd; self.accuracy = accuracy
        self.means = means; self.formatExact = formatExact; self.meanCompletionTokens = meanCompletionTokens
        self.model = model; self.adapter = adapter
    }
}
