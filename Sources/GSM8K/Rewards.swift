import Core
import Foundation

/// The four reward functions of the Unsloth "Advanced Llama 3.1 (3B) GRPO LoRA" notebook, in the order the
/// notebook passes them to the trainer. The raw value is the function's name, as TRL logs it
/// (`rewards/<name>/mean`).
public enum RewardFunction: String, CaseIterable, Sendable, Codable {
    case matchFormatExactly = "match_format_exactly"
    case matchFormatApproximately = "match_format_approximately"
    case checkAnswer = "check_answer"
    case checkNumbers = "check_numbers"

    /// The notebook's name of the function.
    public var name: String { rawValue }
    /// The metric name of its mean, as TRL logs it.
    public var logKey: String { "rewards/\(rawValue)/mean" }
}

/// The reward functions as pure functions of (completion text, true answer).
///
/// The notebook's functions receive batches (`completions[i][0]["content"]`, `answer[i]`); here a completion is
/// the generated text and the answer the record's `answer` string. Scores equal the notebook's exactly, including
/// Python's `re` and `float()` behaviour (see docs/gsm8k.md). The markers are matched literally: for markers
/// without regular-expression metacharacters (the standard ones) this is what the notebook's regexes do.
public struct Rewards: Sendable {
    /// The markers the completions are scored with.
    public let markers: ReasoningMarkers
    private let a: [UInt32], b: [UInt32], c: [UInt32], d: [UInt32]

    /// The four functions with `markers` (the notebook's by default).
    public init(markers: ReasoningMarkers = .standard) {
        self.markers = markers
        a = PythonText.codePoints(markers.reasoningStart)
        b = PythonText.codePoints(markers.reasoningEnd)
        c = PythonText.codePoints(markers.solutionStart)
        d = PythonText.codePoints(markers.solutionEnd)
    }

    // MARK: The four functions

    /// `match_format_exactly`: 3.0 when `match_format` finds a match, else 0.
    public func matchFormatExactly(_ completion: String) -> Double {
        formatMatch(PythonText.codePoints(completion)) != nil ? 3.0 : 0
    }

    /// `match_format_approximately`: for each marker, +0.5 when it occurs exactly once (`str.count`), else −1.0.
    public func matchFormatApproximately(_ completion: String) -> Double {
        approximately(PythonText.codePoints(completion))
    }

    /// `check_answer`: the group captured by `match_format` against the true answer.
    public func checkAnswer(_ completion: String, answer: String) -> Double {
        checkAnswer(PythonText.codePoints(completion), answer: PythonText.codePoints(answer))
    }

    /// `check_numbers`: the first number after the solution start marker against the true answer.
    public func checkNumbers(_ completion: String, answer: String) -> Double {
        checkNumbers(PythonText.codePoints(completion), answer: PythonText.codePoints(answer))
    }

    /// One function's score.
    public func score(_ function: RewardFunction, completion: String, answer: String) -> Double {
        switch function {
        case .matchFormatExactly: return matchFormatExactly(completion)
        case .matchFormatApproximately: return matchFormatApproximately(completion)
        case .checkAnswer: return checkAnswer(completion, answer: answer)
        case .checkNumbers: return checkNumbers(completion, answer: answer)
        }
    }

    /// All four scores, in `RewardFunction.allCases` order.
    public func scores(completion: String, answer: String) -> [Double] {
        let s = PythonText.codePoints(completion)
        let t = PythonText.codePoints(answer)
        let group = formatMatch(s)
        return [group != nil ? 3.0 : 0, approximately(s), checkAnswer(group: group, answer: t),
                checkNumbers(s, answer: t)]
    }

    /// The text `match_format.search(completion).group(1)` returns, or nil when there is no match.
    public func formatGroup(_ completion: String) -> String? {
        formatMatch(PythonText.codePoints(completion)).map { PythonText.string($0) }
    }

    /// The text `match_numbers.search(completion).group(1)` returns, or nil when there is no match.
    public func numbersGroup(_ completion: String) -> String? {
        numbersMatch(PythonText.codePoints(completion)).map { PythonText.string($0) }
    }

    // MARK: Implementation on code points

    func approximately(_ s: [UInt32]) -> Double {
        var score = 0.0
        for m in [a, b, c, d] { score += PythonText.count(s, m) == 1 ? 0.5 : -1.0 }
        return score
    }

    func checkAnswer(_ s: [UInt32], answer: [UInt32]) -> Double {
        checkAnswer(group: formatMatch(s), answer: answer)
    }

    func checkAnswer(group: ArraySlice<UInt32>?, answer: [UInt32]) -> Double {
        guard let guess = group else { return 0 }
        // `guess == true_answer`: code point equality (not Swift's canonical-equivalence String ==).
        if guess.elementsEqual(answer) { return 3.0 }
        if PythonText.strip(guess).elementsEqual(PythonText.strip(answer[...])) { return 1.5 }
        // float(guess) / float(true_answer); any exception (ValueError, ZeroDivisionError) scores −1.5.
        guard let g = PythonText.float(guess), let t = PythonText.float(answer[...]), t != 0 else { return -1.5 }
        let ratio = g / t
        if ratio >= 0.9 && ratio <= 1.1 { return 1.0 }
        if ratio >= 0.8 && ratio <= 1.2 { return 0.5 }
        return -1.5
    }

    func checkNumbers(_ s: [UInt32], answer: [UInt32]) -> Double {
        guard let guess = numbersMatch(s) else { return 0 }
        // float(true_answer.strip()), then float(guess.strip().replace(",", "")); a ValueError scores 0.
        guard let t = PythonText.float(PythonText.strip(answer[...])) else { return 0 }
        let cleaned = PythonText.strip(guess).filter { $0 != 0x2C }
        guard let g = PythonText.float(cleaned[...]) else { return 0 }
        return g == t ? 1.5 : -0.5
    }

    /// Positions where `m` occurs in `s` (overlapping occurrences too), ascending.
    static func occurrences(of m: [UInt32], in s: [UInt32]) -> [Int] {
        if m.isEmpty { return Array(0...s.count) } // the empty string occurs at every position, as in Python
        var out: [Int] = []
        guard s.count >= m.count else { return out }
        s.withUnsafeBufferPointer { sb in
            m.withUnsafeBufferPointer { pb in
                let first = pb[0], k = pb.count
                let last = sb.count - k
                var i = 0
                while i <= last {
                    if sb[i] == first {
                        var j = 1
                        while j < k && sb[i + j] == pb[j] { j += 1 }
                        if j == k { out.append(i) }
                    }
                    i += 1
                }
            }
        }
        return out
    }

    /// The first element of the sorted `list` that is ≥ `x`, or nil.
    static func firstAtLeast(_ x: Int, in list: [Int]) -> Int? {
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo < list.count ? list[lo] : nil
    }

    /// `re.compile(rf"^[\s]{{0,}}{A}.+?{B}.*?{C}(.+?){D}[\s]{{0,}}$", re.MULTILINE | re.DOTALL).search(s)`,
    /// returning group 1.
    ///
    /// The backtracking order of Python's engine decides which match (and group) `search` returns: the leftmost
    /// start (`^`: position 0 or after a `\n`); there the longest whitespace run before A first; then the nearest
    /// B, C and D for which the rest of the pattern can still match. The rest can match after a D at `d` when the
    /// whitespace that follows it contains a `\n` or reaches the end (`$` with MULTILINE matches before any `\n`
    /// and at the end). With L the last such D, a C at `c` can be completed iff `c + |C| + 1 <= L` (the group needs
    /// one character); so the completable C positions, and hence the completable B positions, form prefixes of
    /// their occurrence lists, and an A ending at `e` can be completed iff `e + 1 <= lastB` (the last completable
    /// B). The search therefore reduces to: the first line start `i` with an A occurrence in
    /// `[i, min(end of the whitespace run at i, lastB - |A| - 1)]`, taking the largest such occurrence; then the
    /// nearest B, C and completable D after it. Linear time, same result as the backtracking engine (checked
    /// against CPython on the conformance fixtures and on random splices).
    func formatMatch(_ s: [UInt32]) -> ArraySlice<UInt32>? {
        let n = s.count
        let dAll = Rewards.occurrences(of: d, in: s)
        guard !dAll.isEmpty else { return nil }
        // wsEnd[i]: the end of the whitespace run starting at i (i itself when s[i] is not whitespace).
        // nextNL[i]: the first `\n` at or after i (n when none).
        var wsEnd = [Int](repeating: n, count: n + 1)
        var nextNL = [Int](repeating: n, count: n + 1)
        var k = n - 1
        while k >= 0 {
            wsEnd[k] = PythonText.isSpace(s[k]) ? wsEnd[k + 1] : k
            nextNL[k] = s[k] == 0x0A ? k : nextNL[k + 1]
            k -= 1
        }
        var dValid: [Int] = []
        for pos in dAll {
            let p = pos + d.count
            // `$` succeeds at the end, or before a `\n` inside the whitespace run after D.
            if wsEnd[p] == n || nextNL[p] < wsEnd[p] { dValid.append(pos) }
        }
        guard let lastD = dValid.last else { return nil }
        let cAll = Rewards.occurrences(of: c, in: s)
        let bAll = Rewards.occurrences(of: b, in: s)
        let aAll = Rewards.occurrences(of: a, in: s)
        guard !cAll.isEmpty, !bAll.isEmpty, !aAll.isEmpty else { return nil }

        // The last completable B: completable B positions form a prefix of bAll.
        func completable(_ bPos: Int) -> Bool {
            guard let cPos = Rewards.firstAtLeast(bPos + b.count, in: cAll) else { return false }
            return cPos + c.count + 1 <= lastD
        }
        var lo = 0, hi = bAll.count // first non-completable index
        while lo < hi {
            let mid = (lo + hi) / 2
            if completable(bAll[mid]) { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let lastB = bAll[lo - 1]
        let aMax = lastB - a.count - 1 // an A starting after this cannot be completed

        var i = 0
        while i <= n {
            // i is a line start. Greedy [\s]{0,}: A may start anywhere in [i, wsEnd[i]], latest first.
            let upper = min(wsEnd[i], aMax)
            if upper >= i, let aPos = Rewards.lastAtMost(upper, in: aAll), aPos >= i {
                let aEnd = aPos + a.count
                guard let bPos = Rewards.firstAtLeast(aEnd + 1, in: bAll),
                      let cPos = Rewards.firstAtLeast(bPos + b.count, in: cAll),
                      let dPos = Rewards.firstAtLeast(cPos + c.count + 1, in: dValid) else { return nil }
                return s[(cPos + c.count)..<dPos]
            }
            // The next line start.
            var j = i
            while j < n && s[j] != 0x0A { j += 1 }
            i = j + 1
        }
        return nil
    }

    /// The last element of the sorted `list` that is ≤ `x`, or nil.
    static func lastAtMost(_ x: Int, in list: [Int]) -> Int? {
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid] <= x { lo = mid + 1 } else { hi = mid }
        }
        return lo > 0 ? list[lo - 1] : nil
    }

    /// `re.compile(C + r".*?([\d\.\,]{1,})", re.MULTILINE | re.DOTALL).search(s)`, returning group 1: the
    /// longest run of decimal digits (any script), dots and commas starting at the first such character after
    /// the first occurrence of C.
    func numbersMatch(_ s: [UInt32]) -> ArraySlice<UInt32>? {
        guard let cPos = Rewards.occurrences(of: c, in: s).first else { return nil }
        func inClass(_ v: UInt32) -> Bool { v == 0x2E || v == 0x2C || PythonText.isDecimal(v) }
        var p = cPos + c.count
        while p < s.count && !inClass(s[p]) { p += 1 }
        if p == s.count { return nil }
        var e = p
        while e < s.count && inClass(s[e]) { e += 1 }
        return s[p..<e]
    }
}

/// Per-function means and the mean total over a set of completions, as TRL logs them for a step.
public struct RewardSummary: Equatable, Sendable {
    /// Completions added.
    public private(set) var count = 0
    /// Each function's sum of scores, in `RewardFunction.allCases` order.
    public private(set) var sums: [Double] = Array(repeating: 0, count: RewardFunction.allCases.count)
    /// The sum of the completions' total scores.
    public private(set) var totalSum = 0.0
    /// Completions whose `check_answer` score is 3.0 (answer in the full format, exactly equal).
    public private(set) var exactAnswers = 0

    /// An empty summary.
    public init() {}

    /// Adds one completion's four scores (in `RewardFunction.allCases` order).
    public mutating func add(_ scores: [Double]) {
        precondition(scores.count == sums.count)
        count += 1
        var total = 0.0
        for (i, v) in scores.enumerated() { sums[i] += v; total += v }
        totalSum += total
        if scores[RewardFunction.allCases.firstIndex(of: .checkAnswer)!] == 3.0 { exactAnswers += 1 }
    }

    /// `rewards/<name>/mean`.
    public func mean(_ f: RewardFunction) -> Double {
        count == 0 ? 0 : sums[RewardFunction.allCases.firstIndex(of: f)!] / Double(count)
    }

    /// `reward`: the mean of the per-completion sums of the four scores.
    public var reward: Double { count == 0 ? 0 : totalSum / Double(count) }

    /// The share of completions with `check_answer` = 3.0.
    public var accuracy: Double { count == 0 ? 0 : Double(exactAnswers) / Double(count) }
}

/// Errors of scoring completion files.
public enum RewardError: PipelineError {
    case unknownID(path: String, line: Int, id: String, data: String)
    case noCompletions(path: String)

    /// The one-line message `main` prints after `error:`.
    public var message: String {
        switch self {
        case let .unknownID(path, line, id, data): return "\(path):\(line): id '\(id)' is not in \(data)"
        case let .noCompletions(path): return "\(path): no completions to score"
        }
    }
}

/// Scores files of completions (`{"id": …, "completion": …}` per line) against GSM8K records.
public enum RewardScoring {
    struct CompletionRecord: Decodable { let id: String; let completion: String }

    /// The markers the records were made with: the `gsm8k` manifest beside the records file, if any.
    public static func markers(forData path: String) -> ReasoningMarkers? {
        let dir = (path as NSString).deletingLastPathComponent
        guard let m = try? Manifest.load(path: (dir.isEmpty ? "." : dir) + "/manifest.json"), m.stage == "gsm8k" else {
            return nil
        }
        return ReasoningMarkers(parameters: m.parameters)
    }

    /// id → answer of a GSM8K records file.
    public static func answers(data path: String) throws -> [String: String] {
        var out: [String: String] = [:]
        let decoder = GSM8KRecord.decoder(requiring: [.id, .answer])
        try JSONLReader.forEach(GSM8KRecord.self, path: path, decoder: decoder) { r, _ in
            if out[r.id] == nil { out[r.id] = r.answer }
        }
        return out
    }

    /// Scores every completion against the answer of its id.
    public static func score(completions path: String, answers: [String: String], dataName: String,
                             rewards: Rewards) throws -> RewardSummary {
        var summary = RewardSummary()
        try JSONLReader.forEach(CompletionRecord.self, path: path) { r, line in
            guard let answer = answers[r.id] else {
                throw RewardError.unknownID(path: path, line: line, id: r.id, data: dataName)
            }
            summary.add(rewards.scores(completion: r.completion, answer: answer))
        }
        if summary.count == 0 { throw RewardError.noCompletions(path: path) }
        return summary
    }
}
