import Core
import Foundation

/// A deterministic generator of grade-school word problems sized for a small CPU model, written exactly like
/// GSM8K rows (`question`; `answer` with one worked line per step, calculator annotations `<<a+b=c>>` and a final
/// `#### N` line), so they go through `pipeline gsm8k`, the chat prompt and the four rewards unchanged.
///
/// One-step problems: a sum, a difference, a product by a small number, "half as many", a total over two days.
/// Two-step problems chain two of these on the same quantity. Numbers stated are drawn from `1...maxNumber`
/// (factors from `2...maxFactor`); intermediate values and answers are positive integers. The same seed gives the
/// same rows; questions are unique across the train and test splits (no question is in both).
public struct SyntheticGSM8K: Sendable {
    /// Steps per problem: 1 or 2.
    public var steps: Int
    /// Largest number a problem states (except factors).
    public var maxNumber: Int
    /// Largest factor of a product step.
    public var maxFactor: Int
    /// The generator's seed: the same seed gives the same rows.
    public var seed: UInt64

    /// A generator of `steps`-step problems with numbers up to `maxNumber` and factors up to `maxFactor`.
    public init(steps: Int = 1, maxNumber: Int = 20, maxFactor: Int = 5, seed: UInt64 = 0) {
        self.steps = steps; self.maxNumber = maxNumber; self.maxFactor = maxFactor; self.seed = seed
    }

    /// Why the settings cannot make problems, or nil.
    public var problem: String? {
        if !(1...2).contains(steps) { return "--steps must be 1 or 2, not \(steps)" }
        if maxNumber < 4 || maxNumber > 1_000_000 { return "--max-number must be 4…1000000, not \(maxNumber)" }
        if maxFactor < 2 || maxFactor > 1000 { return "--max-factor must be 2…1000, not \(maxFactor)" }
        return nil
    }

    /// One GSM8K row.
    public typealias Row = GSM8KRow

    /// `train` then `test` rows: `train + test` distinct questions, in generation order. Throws when the number
    /// range cannot give that many distinct questions.
    public func splits(train: Int, test: Int) throws -> (train: [Row], test: [Row]) {
        if let problem { throw GSM8KError.usage(problem) }
        let wanted = train + test
        var rng = SplitMix64(seed: seed)
        var seen = Set<String>()
        var rows: [Row] = []
        var sinceNew = 0
        while rows.count < wanted {
            sinceNew += 1
            if sinceNew > 20_000 {  // the range is exhausted (or nearly): say so rather than loop
                throw GSM8KError.usage("only \(rows.count) distinct problems found for \(wanted) wanted: "
                                       + "raise --max-number or --max-factor, or ask for fewer")
            }
            let row = make(&rng)
            if seen.insert(row.question).inserted { rows.append(row); sinceNew = 0 }
        }
        return (Array(rows[0..<train]), Array(rows[train...]))
    }

    /// The reasoning text of `rows` as a pretraining corpus: for each row the gsm8k stage's `prompt_text` then
    /// `target_text` (standard markers), then `separator`; the text ends with a newline. A row without a
    /// `####` answer is left out (the gsm8k stage rejects it too).
    public static func corpus(_ rows: [Row], separator: String) -> String {
        var out = ""
        for r in rows {
            guard let rec = GSM8K.record(id: "", question: r.question, answer: r.answer) else { continue }
            out += rec.promptText + rec.targetText + separator
        }
        return out.hasSuffix("\n") ? out : out + "\n"
    }

    // MARK: - Problems

    static let names = ["Ava", "Ben", "Chloe", "Dev", "Emma", "Finn", "Grace", "Hugo", "Isla", "Jack", "Kira", "Leo",
                        "Maya", "Noah", "Olga", "Priya", "Quinn", "Ravi", "Sara", "Tom"]
    /// (plural noun, verb for getting more, verb for giving away)
    static let things = [("apples", "picks", "eats"), ("marbles", "wins", "loses"),
                         ("stickers", "buys", "gives away"), ("pencils", "buys", "lends out"),
                         ("cookies", "bakes", "eats"), ("stamps", "gets", "trades away"),
                         ("books", "buys", "donates"), ("shells", "finds", "gives away")]
    static let days = [("Monday", "Tuesday"), ("Saturday", "Sunday"), ("Wednesday", "Thursday")]

    /// One operation on a running quantity: the sentence that states it, the worked line, the new value.
    struct Step {
        var sentence: String
        var line: String
        var value: Int
    }

    func number(_ rng: inout SplitMix64, _ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(rng.next() % UInt64(range.count))
    }

    func make(_ rng: inout SplitMix64) -> Row {
        let name = Self.names[Int(rng.next() % UInt64(Self.names.count))]
        let (noun, gain, lose) = Self.things[Int(rng.next() % UInt64(Self.things.count))]
        let kind = Int(rng.next() % 5)
        if kind == 4 && steps == 1 {  // a total over two days
            let (d1, d2) = Self.days[Int(rng.next() % UInt64(Self.days.count))]
            let a = number(&rng, 1...maxNumber), b = number(&rng, 1...maxNumber)
            let c = a + b
            return Row(question: "On \(d1), \(name) \(gain) \(a) \(noun). On \(d2), \(name) \(gain) \(b) \(noun). "
                       + "How many \(noun) does \(name) get over the two days?",
                       answer: "Over the two days \(name) gets \(a) + \(b) = <<\(a)+\(b)=\(c)>>\(c) \(noun)."
                           + "\n#### \(c)")
        }
        let start = number(&rng, 1...maxNumber)
        var value = start
        var sentences = ["\(name) has \(start) \(noun)."]
        var lines: [String] = []
        var kinds = [kind % 4]
        if steps == 2 { kinds.append(Int(rng.next() % 4)) }
        for k in kinds {
            let s = step(k, value: value, name: name, noun: noun, gain: gain, lose: lose, &rng)
            sentences.append(s.sentence)
            lines.append(s.line)
            value = s.value
        }
        let question = sentences.joined(separator: " ") + " How many \(noun) does \(name) have now?"
        return Row(question: question, answer: lines.joined(separator: "\n") + "\n#### \(value)")
    }

    func step(_ kind: Int, value: Int, name: String, noun: String, gain: String, lose: String,
              _ rng: inout SplitMix64) -> Step {
        switch kind {
        case 0:  // add
            let b = number(&rng, 1...maxNumber), c = value + b
            return Step(sentence: "Then \(name) \(gain) \(b) more.",
                        line: "\(name) has \(value) + \(b) = <<\(value)+\(b)=\(c)>>\(c) \(noun).", value: c)
        case 1 where value >= 2:  // subtract, leaving at least one
            let b = number(&rng, 1...min(value - 1, maxNumber)), c = value - b
            return Step(sentence: "Then \(name) \(lose) \(b) of them.",
                        line: "\(name) has \(value) - \(b) = <<\(value)-\(b)=\(c)>>\(c) \(noun) left.", value: c)
        case 2:  // multiply by a small number
            let f = number(&rng, 2...maxFactor), c = value * f
            let times = f == 2 ? "twice" : "\(f) times"
            return Step(sentence: "Then \(name) ends up with \(times) as many.",
                        line: "\(name) has \(value) * \(f) = <<\(value)*\(f)=\(c)>>\(c) \(noun).", value: c)
        case 3 where value % 2 == 0:  // half as many
            let c = value / 2
            return Step(sentence: "Then \(name) keeps only half of them.",
                        line: "Half of \(value) is \(value) / 2 = <<\(value)/2=\(c)>>\(c) \(noun).", value: c)
        default:  // an odd count cannot be halved, one cannot be reduced: add instead
            return step(0, value: value, name: name, noun: noun, gain: gain, lose: lose, &rng)
        }
    }
}

/// splitmix64: a small, fast, well-mixed 64-bit generator (Steele, Lea, Flood 2014), the same on every machine.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
