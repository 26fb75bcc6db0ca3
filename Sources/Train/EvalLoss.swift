import Core
import Foundation
import Tokenize

/// The result of `EvalLoss`: the mean next-token cross-entropy over every scored token and its exponential.
public struct LossReport: Sendable {
    /// Mean cross-entropy in nats per scored token.
    public var loss: Double
    /// e^loss.
    public var perplexity: Double { Foundation.exp(loss) }
    /// Scored tokens (predictions).
    public var tokens: Int
    /// Windows evaluated.
    public var windows: Int
}

/// Perplexity of a GPT-2 over a token stream with a sliding window, as the transformers guide "Perplexity of
/// fixed-length models" computes it: windows of `window` tokens starting every `stride` tokens; in each window only
/// the tokens after the previous window's end are scored (the overlap is context, its labels −100), the first window
/// scores all but its first token. Unlike the guide, which weights each window's mean by (scored − 1), the mean here
/// is the exact one: the sum of every scored token's loss over their count.
public enum EvalLoss {
    /// Non-overlapping windows of `seq` predictions (each window reads seq + 1 tokens; the last token of a window
    /// starts the next one): the sliding window with `window` = seq + 1 and `stride` = seq. A final partial window
    /// is evaluated at its own length.
    public static func run(model: GPT2, tokensPath: String, seq: Int, batch: Int,
                           maxTokens: Int? = nil) throws -> LossReport {
        try run(model: model, tokensPath: tokensPath, window: seq + 1, stride: seq, batch: batch, maxTokens: maxTokens)
    }

    /// The sliding-window loss over a token file (streamed), `batch` windows per forward pass, at most `maxTokens`
    /// predictions (the stream is cut after maxTokens + 1 tokens).
    public static func run(model: GPT2, tokensPath: String, window: Int, stride: Int, batch: Int,
                           maxTokens: Int? = nil) throws -> LossReport {
        let reader = try TokenFileReader(path: tokensPath)
        guard reader.vocabSize <= model.config.vocabSize else {
            throw TrainError.badTokens(path: tokensPath, reason: "vocabulary of \(reader.vocabSize) ids exceeds "
                                       + "the model's \(model.config.vocabSize)")
        }
        return try run(model: model, name: tokensPath, window: window, stride: stride, batch: batch,
                       maxTokens: maxTokens) { try reader.read(max: 1 << 16) }
    }

    /// The sliding-window loss over token ids in memory (e.g. an encoded text).
    public static func run(model: GPT2, ids: [Int], name: String, window: Int, stride: Int, batch: Int,
                           maxTokens: Int? = nil) throws -> LossReport {
        if let bad = ids.first(where: { $0 < 0 || $0 >= model.config.vocabSize }) {
            throw TrainError.badTokens(path: name, reason: "id \(bad) is outside the model's vocabulary of "
                                       + "\(model.config.vocabSize)")
        }
        var sent = false
        return try run(model: model, name: name, window: window, stride: stride, batch: batch, maxTokens: maxTokens) {
            defer { sent = true }
            return sent ? [] : ids.map { UInt32($0) }
        }
    }

    /// The window loop over a stream given by `next` (an empty chunk ends it). Only the tokens from the current
    /// window's start on are kept in memory.
    static func run(model: GPT2, name: String, window: Int, stride: Int, batch: Int, maxTokens: Int?,
                    next: () throws -> [UInt32]) throws -> LossReport {
        guard window >= 2, window - 1 <= model.config.nPositions, stride >= 1, stride <= window, batch >= 1 else {
            throw TrainError.usage("window \(window) (2…\(model.config.nPositions + 1)), stride \(stride) "
                                   + "(1…window) "
                                   + "and batch \(batch) (≥ 1) are out of range")
        }
        let limit = maxTokens.map { $0 + 1 } ?? Int.max  // tokens of the stream used
        var buffer: [UInt32] = []  // tokens from `base` on
        var base = 0, exhausted = false
        func fill(upTo end: Int) throws {
            while !exhausted, base + buffer.count < min(end, limit) {
                let chunk = try next()
                if chunk.isEmpty { exhausted = true } else { buffer += chunk }
            }
            if base + buffer.count >= limit {
                buffer.removeLast(base + buffer.count - limit)
                exhausted = true
            }
        }
        var total = 0.0, count = 0, windows = 0
        var ctx: TrainContext? = nil
        // Windows waiting for a forward pass: inputs (window − 1 tokens) and targets (−100 where not scored).
        var pendingX: [Int32] = [], pendingY: [Int32] = [], pendingRows = 0, pendingLength = 0, pendingScored = 0
        func flush() {
            guard pendingRows > 0 else { return }
            if ctx == nil || ctx!.batch != pendingRows || ctx!.seq != pendingLength {
                ctx = TrainContext(model: model, batch: pendingRows, seq: pendingLength)
            }
            let loss = ctx!.forward(tokens: pendingX, targets: pendingY,
                                    headRows: TrainContext.targetRuns(pendingY))
            total += Double(loss) * Double(pendingScored)
            count += pendingScored
            windows += pendingRows
            pendingX.removeAll(keepingCapacity: true); pendingY.removeAll(keepingCapacity: true)
            pendingRows = 0; pendingScored = 0
        }
        var begin = 0, previousEnd = 0
        while true {
            try fill(upTo: begin + window)
            let available = base + buffer.count
            let end = min(begin + window, available)
            let n = end - begin
            if n < 2 || end <= previousEnd { break }
            // Predictions i = 0..<n−1 target token begin+i+1; those of tokens before previousEnd are context only.
            let predictions = n - 1, scored = min(end - previousEnd, predictions)
            if pendingRows > 0, pendingLength != predictions || pendingRows == batch { flush() }
            pendingLength = predictions
            let offset = begin - base
            for i in 0..<predictions {
                pendingX.append(Int32(buffer[offset + i]))
                pendingY.append(i >= predictions - scored ? Int32(buffer[offset + i + 1]) : -100)
            }
            pendingRows += 1; pendingScored += scored
            previousEnd = end
            if exhausted && end == available { break }
            begin += stride
            let drop = min(begin - base, buffer.count)
            buffer.removeFirst(drop); base += drop
        }
        flush()
        guard count > 0 else {
            throw TrainError.badTokens(path: name, reason: "fewer than 2 tokens: nothing to evaluate")
        }
        return LossReport(loss: total / Double(count), tokens: count, windows: windows)
    }
}
