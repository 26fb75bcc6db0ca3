import ArgumentParser
import Core
import Foundation
import GSM8K
import Train

struct RewardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward",
        abstract: "Score completions of GSM8K questions with the four GRPO reward functions.",
        discussion: """
        Reads --completions, a JSON Lines file (plain or zstd) of {"id": …, "completion": …} records (ids as in \
        the gsm8k records; several completions per id are fine), scores each completion against its record's \
        answer with match_format_exactly, match_format_approximately, check_answer and check_numbers (the Unsloth \
        Advanced Llama 3.1 GRPO notebook's functions), and prints each function's mean \
        (rewards/<name>/mean), the mean total (reward) and accuracy (the share of completions whose check_answer \
        is 3.0: the full format with exactly the reference answer). --json prints one JSON object instead.

        --data is a records file, or a split of the gsm8k stage folder without extension \
        (artifacts/gsm8k/test → artifacts/gsm8k/test.jsonl.zst). The markers are those recorded in that \
        folder's manifest.json, unless given here. An id missing from the data is an error.
        """)

    @Option(name: .long, help: ArgumentHelp("GSM8K records: a file, or a stage split such as artifacts/gsm8k/test.",
                                             valueName: "path"))
    var data: String

    @Option(name: .long, help: ArgumentHelp("JSON Lines of {id, completion} records.", valueName: "file"))
    var completions: String

    @Flag(name: .long, help: "Print one JSON object instead of lines of text.")
    var json = false

    @OptionGroup var markerOptions: MarkerOptions

    func run() throws {
        let dataPath = try GSM8KStage.recordsFile(data)
        let base = RewardScoring.markers(forData: dataPath) ?? .standard
        let markers = try markerOptions.markers(over: base)
        markerOptions.warnAboutMetacharacters(markers)
        let answers = try RewardScoring.answers(data: dataPath)
        let summary = try RewardScoring.score(completions: completions, answers: answers, dataName: dataPath,
                                              rewards: Rewards(markers: markers))
        if json {
            var object: [String: JSONNumber] = ["completions": .int(summary.count), "reward": .double(summary.reward),
                                                "accuracy": .double(summary.accuracy)]
            for f in RewardFunction.allCases { object[f.logKey] = .double(summary.mean(f)) }
            print(String(decoding: try JSON.encode(object), as: UTF8.self))
        } else {
            print("completions: \(summary.count)")
            for f in RewardFunction.allCases { print("\(f.logKey): \(summary.mean(f))") }
            print("reward: \(summary.reward)")
            print("accuracy: \(summary.accuracy)")
        }
    }
}

/// A JSON number that keeps integers integral.
enum JSONNumber: Encodable {
    case int(Int)
    case double(Double)

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        }
    }
}
