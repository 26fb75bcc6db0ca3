import Core
import Foundation

/// Where the training steps' time goes (`pipeline pretrain|sft --profile`): seconds per phase — data (sampling
/// and packing batches), forward, backward, optimizer (gradient clipping and AdamW) — with the matrix FLOPs of the
/// forward and backward passes (Core's `Cost`), so that each phase's achieved GFLOP/s can be set against the
/// measured sgemm peak (`pipeline bench peak`).
public struct StepProfile: Sendable, Equatable {
    public var steps = 0
    public var data = 0.0, forward = 0.0, backward = 0.0, optimizer = 0.0
    public var forwardFLOPs = 0.0, backwardFLOPs = 0.0

    public init() {}

    /// A monotonic clock in nanoseconds.
    @inline(__always) static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Adds the time since `mark` to `phase` and moves `mark` to now.
    @inline(__always) mutating func lap(_ phase: WritableKeyPath<StepProfile, Double>, _ mark: inout UInt64) {
        let t = StepProfile.now()
        self[keyPath: phase] += Double(t &- mark) / 1e9
        mark = t
    }

    /// Seconds of all phases.
    public var total: Double { data + forward + backward + optimizer }

    /// The profile as lines for the user: per phase seconds, share and (forward, backward) GFLOP/s.
    public var lines: [String] {
        guard steps > 0 else { return [] }
        func share(_ s: Double) -> String { String(format: "%5.1f%%", total > 0 ? 100 * s / total : 0) }
        func rate(_ flops: Double, _ s: Double) -> String {
            s > 0 ? String(format: "  %7.1f GFLOP/s", flops / s / 1e9) : ""
        }
        func row(_ name: String, _ s: Double, _ flops: Double? = nil) -> String {
            name.padding(toLength: 10, withPad: " ", startingAt: 0)
                + String(format: "%9.3f s  %8.2f ms/step  ", s, 1000 * s / Double(steps)) + share(s)
                + (flops.map { rate($0, s) } ?? "")
        }
        return ["profile over \(steps) steps (matrix FLOPs as Core's Cost counts them):",
                row("data", data), row("forward", forward, forwardFLOPs), row("backward", backward, backwardFLOPs),
                row("optimizer", optimizer),
                row("step", total, forwardFLOPs + backwardFLOPs)]
    }
}

extension LoRA {
    /// The adapted matrices per block as Core's cost model counts them: (in + out) / (2 · width) each (c_attn 2).
    func adaptedPerLayer(_ c: GPT2Config) -> Int {
        let widths = targets.map { t -> Int in
            switch t {
            case .cAttn: return 4 * c.nEmbd
            case .attnProj: return 2 * c.nEmbd
            case .fc, .fcProj: return c.nEmbd + c.inner
            }
        }
        return Int((Double(widths.reduce(0, +)) / Double(2 * c.nEmbd)).rounded())
    }
}
