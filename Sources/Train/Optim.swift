import Core
import Foundation

/// AdamW as torch.optim.AdamW computes it (foreach path, fp32): decoupled weight decay p ← p·(1 − lr·wd) on
/// parameters with `decay` set, m ← lerp(m, g, 1−β1), v ← β2·v + (1−β2)·g²,
/// p ← p − (lr/(1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε). Frozen parameters have no state and are never
/// touched.
public final class AdamW {
    /// Decay rate of the first moment.
    public var beta1: Float
    /// Decay rate of the second moment.
    public var beta2: Float
    /// Term added to the denominator for stability.
    public var eps: Float
    /// Decoupled weight decay (on parameters with `decay` set).
    public var weightDecay: Float
    /// Updates done so far.
    public private(set) var step = 0
    /// First and second moments, by parameter name (only unfrozen parameters).
    public private(set) var m: [String: FloatBuffer] = [:]
    /// Second moments, by parameter name.
    public private(set) var v: [String: FloatBuffer] = [:]
    let parameters: [Parameter]

    /// An optimizer over the unfrozen `parameters`, with zero moments.
    public init(parameters: [Parameter], beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0.01) {
        self.parameters = parameters.filter { !$0.frozen }
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        for p in self.parameters { m[p.name] = FloatBuffer(p.count); v[p.name] = FloatBuffer(p.count) }
    }

    /// One update of every parameter from its gradient at learning rate `lr`.
    public func update(lr: Float) {
        step += 1
        let bc1 = 1 - Foundation.pow(Double(beta1), Double(step))
        let bc2 = 1 - Foundation.pow(Double(beta2), Double(step))
        let stepSize = Float(Double(lr) / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let b1 = beta1, b2 = beta2, eps = eps
        for p in parameters {
            let mm = m[p.name]!.p, vv = v[p.name]!.p, x = p.value.p, g = p.grad.p
            let decayFactor: Float = p.decay ? 1 - lr * weightDecay : 1
            parallelRows(p.count, minimum: 4096) { range in
                for i in range {
                    if p.decay { x[i] *= decayFactor }
                    let gi = g[i]
                    mm[i] += (gi - mm[i]) * (1 - b1)
                    vv[i] = vv[i] * b2 + (1 - b2) * gi * gi
                    let denom = vv[i].squareRoot() / bc2Sqrt + eps
                    x[i] -= stepSize * (mm[i] / denom)
                }
            }
        }
    }

    /// Restores the moments saved as `m.<name>` / `v.<name>` in a safetensors file (checkpoint resume).
    public func restore(step: Int, path: String) throws {
        self.step = step
        var shapes: [String: [Int]] = [:]
        for p in parameters { shapes[p.name] = p.shape }
        var seen = Set<String>()
        try SafeTensors.stream(path: path) { name, shape in
            let key = String(name.dropFirst(2))
            guard name.hasPrefix("m.") || name.hasPrefix("v."), let want = shapes[key], want == shape else {
                throw TrainError.badCheckpoint(path: path,
                                               reason: "optimizer tensor \(name) does not belong to this model")
            }
            seen.insert(name)
            return name.hasPrefix("m.") ? m[key]!.p : v[key]!.p
        }
        for p in parameters where !seen.contains("m." + p.name) || !seen.contains("v." + p.name) {
            throw TrainError.badCheckpoint(path: path, reason: "optimizer state for \(p.name) is missing")
        }
    }
}

/// Global L2 norm of the gradients of unfrozen parameters (accumulated in Double); when above `maxNorm`
/// every gradient is scaled by maxNorm/(norm + 1e-6), as torch.nn.utils.clip_grad_norm_. Returns the norm
/// before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters where !p.frozen {
        var s: Double = 0
        let g = p.grad.p
        for i in 0..<p.count { s += Double(g[i]) * Double(g[i]) }
        total += s
    }
    let norm = Float(total.squareRoot())
    if maxNorm > 0 {
        let coef = maxNorm / (norm + 1e-6)
        if coef < 1 {
            for p in parameters where !p.frozen {
                let g = p.grad.p
                for i in 0..<p.count { g[i] *= coef }
            }
        }
    }
    return norm
}

/// Linear warm-up then cosine decay to 0, as transformers' get_cosine_schedule_with_warmup (step 0 of a
/// warm-up has lr 0): factor = s/warmup for s < warmup, else 0.5·(1 + cos(π·(s − warmup)/(total − warmup))).
public func cosineSchedule(step: Int, baseLR: Float, warmup: Int, total: Int) -> Float {
    if step < warmup { return baseLR * Float(step) / Float(max(1, warmup)) }
    let progress = Double(step - warmup) / Double(max(1, total - warmup))
    return baseLR * Float(max(0, 0.5 * (1 + cos(Double.pi * progress))))
}
