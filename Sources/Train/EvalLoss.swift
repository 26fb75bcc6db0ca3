import Core
import Foundation
import Tokenize

public struct LossReport: Sendable {
    public var loss: Double
    public var perplexity: Double { Foundation.exp(loss) }
    public var tokens: Int
    public var windows: Int
}

public enum EvalLoss {
    /// Mean next-token loss over a token file, streamed in consecutive non-overlapping windows of `seq`
    /// predictions (each window reads seq + 1 tokens; the last token of a window starts the next one),
    /// `batch` windows per forward pass. A final partial window is evaluated at its own length.
    public static func run(model: GPT2, tokensPath: String, seq: Int, batch: Int, maxTokens: Int? = nil) throws -> LossReport {
        let reader = try TokenFileReader(path: tokensPath)
        guard reader.vocabSize <= model.config.vocabSize else {
            throw TrainError.badTokens(path: tokensPath, reason: "vocabulary of \(reader.vocabSize) ids exceeds the model's \(model.config.vocabSize)")
        }
        let T = min(seq, model.config.nPositions)
        var total = 0.0, count = 0, windows = 0
        var carry: [UInt32] = []
        var ctx: TrainContext? = nil
        var limit = maxTokens ?? Int.max
        func evaluate(_ rows: [[UInt32]], length: Int) {
            if ctx == nil || ctx!.batch != rows.count || ctx!.seq != length { ctx = TrainContext(model: model, batch: rows.count, seq: length) }
            var x: [Int32] = [], y: [Int32] = []
            for r in rows {
                x += r.prefix(length).map { Int32($0) }
                y += r.dropFirst().map { Int32($0) }
            }
            let loss = ctx!.forward(tokens: x, targets: y)
            total += Double(loss) * Double(rows.count * length)
            count += rows.count * length
            windows += rows.count
        }
        var pending: [[UInt32]] = []
        var done = false
        while !done {
            let chunk = try reader.read(max: 1 << 16)
            if chunk.isEmpty { done = true } else { carry += chunk }
            while carry.count >= T + 1 && limit >= T {
                pending.append(Array(carry[0...T]))
                carry.removeFirst(T)
                limit -= T
                if pending.count == batch { evaluate(pending, length: T); pending.removeAll() }
            }
            if limit < T { done = true }
        }
        if !pending.isEmpty { evaluate(pending, length: T) }
        let rest = min(carry.count - 1, limit)
        if rest >= 1 { evaluate([Array(carry[0...rest])], length: rest) }
        guard count > 0 else { throw TrainError.badTokens(path: tokensPath, reason: "fewer than 2 tokens: nothing to evaluate") }
        return LossReport(loss: total / Double(count), tokens: count, windows: windows)
    }
}
