import COpenBLAS
import Core
import Foundation

/// A GPT-2 Conv1D module that can carry a LoRA adapter (PEFT's `target_modules` names).
public enum LoRATarget: String, CaseIterable, Codable, Sendable {
    case cAttn = "c_attn"
    case attnProj = "attn.c_proj"
    case fc = "mlp.c_fc"
    case fcProj = "mlp.c_proj"

    /// Position of the module inside a block (also its order in PEFT's `named_parameters()`).
    var index: Int { LoRATarget.allCases.firstIndex(of: self)! }

    /// Module path under `h.{i}.`.
    var module: String {
        switch self {
        case .cAttn: return "attn.c_attn"
        case .attnProj: return "attn.c_proj"
        case .fc: return "mlp.c_fc"
        case .fcProj: return "mlp.c_proj"
        }
    }

    func dims(_ c: GPT2Config) -> (inDim: Int, outDim: Int) {
        switch self {
        case .cAttn: return (c.nEmbd, 3 * c.nEmbd)
        case .attnProj: return (c.nEmbd, c.nEmbd)
        case .fc: return (c.nEmbd, c.inner)
        case .fcProj: return (c.inner, c.nEmbd)
        }
    }

    func weight(_ b: Block) -> Parameter {
        switch self {
        case .cAttn: return b.attnW
        case .attnProj: return b.projW
        case .fc: return b.fcW
        case .fcProj: return b.fcProjW
        }
    }

    /// Parses `--target` values: PEFT names (`c_attn`, `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`, also `c_fc`),
    /// `c_proj` (both projections, as PEFT's suffix match does) and `all`.
    public static func parse(_ text: String) throws -> [LoRATarget] {
        var out: [LoRATarget] = []
        for raw in text.split(separator: ",") {
            let t = raw.trimmingCharacters(in: .whitespaces)
            switch t {
            case "c_attn", "attn.c_attn": out.append(.cAttn)
            case "attn.c_proj": out.append(.attnProj)
            case "c_fc", "mlp.c_fc": out.append(.fc)
            case "mlp.c_proj": out.append(.fcProj)
            case "c_proj": out += [.attnProj, .fcProj]
            case "all", "all-linear": out += LoRATarget.allCases
            default:
                throw TrainError.usage("unknown LoRA target '\(t)' "
                                       + "(use c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, c_proj or all)")
            }
        }
        guard !out.isEmpty else { throw TrainError.usage("--target names no module") }
        return LoRATarget.allCases.filter { out.contains($0) }
    }
}

/// One adapter: A [r, in] and B [out, r] (PEFT's `lora_A.weight` / `lora_B.weight`).
public final class LoRAAdapter {
    /// The transformer block the adapter is in.
    public let layer: Int
    /// The module it adapts.
    public let target: LoRATarget
    /// Input width of the adapted module.
    public let inDim: Int
    /// Output width of the adapted module.
    public let outDim: Int
    /// The down-projection A [r, in].
    public let a: Parameter
    /// The up-projection B [out, r].
    public let b: Parameter

    init(layer: Int, target: LoRATarget, r: Int, inDim: Int, outDim: Int) {
        self.layer = layer; self.target = target; self.inDim = inDim; self.outDim = outDim
        let p = "h.\(layer).\(target.module)."
        a = Parameter(p + "lora_A.weight", [r, inDim])
        b = Parameter(p + "lora_B.weight", [outDim, r])
    }

    /// PEFT's saved name of a parameter (`base_model.model.transformer.h.0.attn.c_attn.lora_A.weight`).
    static func peftName(_ p: Parameter) -> String { "base_model.model.transformer." + p.name }
}

/// LoRA on a GPT-2 as PEFT computes it: y = x·W + b + scaling · (dropout(x)·Aᵀ)·Bᵀ on each targeted Conv1D
/// (W is [in, out]: PEFT's `fan_in_fan_out`), scaling = alpha/r (alpha/√r with rsLoRA). A is initialised
/// kaiming-uniform with a = √5 (U(±1/√in)), B with zeros; the base model is frozen. Attach with `attach`;
/// the model's forward passes (training and the KV-cache decoder) then include the adapters while `enabled`.
public final class LoRA {
    /// LoRA rank.
    public let r: Int
    /// LoRA alpha.
    public let alpha: Float
    /// Dropout on the adapter's input while training.
    public let dropout: Float
    /// Whether the scaling is alpha/√r (rsLoRA) rather than alpha/r.
    public let useRSLoRA: Bool
    /// The adapted modules.
    public let targets: [LoRATarget]
    /// Every adapter, in PEFT's order (layer, module).
    public let adapters: [LoRAAdapter]
    /// Adapters by layer·4 + target index.
    let table: [LoRAAdapter?]
    /// false runs the base model (the reference policy of GRPO's KL term).
    public var enabled = true
    /// Dropout is applied only while training (as `model.train()`).
    public var training = false
    /// Generator of the dropout masks (checkpointed by the trainers).
    public var rng: Xoshiro256
    /// Free-form `base_model_name_or_path` for adapter_config.json.
    public var baseModelName: String

    /// The factor the adapters' output is multiplied by.
    public var scaling: Float { useRSLoRA ? alpha / Float(r).squareRoot() : alpha / Float(r) }

    /// Trainable parameters in PEFT's order (layer, module, A then B).
    public var parameters: [Parameter] { adapters.flatMap { [$0.a, $0.b] } }
    /// Number of trainable parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    init(config c: GPT2Config, r: Int, alpha: Float, dropout: Float, targets: [LoRATarget], useRSLoRA: Bool = false,
         seed: UInt64, baseModelName: String) {
        self.r = r; self.alpha = alpha; self.dropout = dropout; self.targets = targets; self.useRSLoRA = useRSLoRA
        self.baseModelName = baseModelName
        var list: [LoRAAdapter] = []
        var tab = [LoRAAdapter?](repeating: nil, count: c.nLayer * 4)
        for l in 0..<c.nLayer {
            for t in LoRATarget.allCases where targets.contains(t) {
                let (i, o) = t.dims(c)
                let ad = LoRAAdapter(layer: l, target: t, r: r, inDim: i, outDim: o)
                list.append(ad)
                tab[l * 4 + t.index] = ad
            }
        }
        adapters = list
        table = tab
        rng = Xoshiro256(seed: seed ^ 0x4C6F5241)
        // kaiming_uniform_(a=√5) on A [r, in]: bound = gain·√(3/fan_in) with gain = √(2/(1+5)) → 1/√in
        var init_ = Xoshiro256(seed: seed)
        for ad in list {
            let bound = 1 / Double(ad.inDim).squareRoot()
            for k in 0..<ad.a.count { ad.a.value.p[k] = Float((init_.uniform() * 2 - 1) * bound) }
            ad.b.value.zero()
        }
    }

    func adapter(_ layer: Int, _ t: LoRATarget) -> LoRAAdapter? { enabled ? table[layer * 4 + t.index] : nil }

    /// Creates a fresh adapter on `model`, freezes every base parameter and attaches it.
    @discardableResult
    public static func attach(to model: GPT2, r: Int = 8, alpha: Float = 16, dropout: Float = 0.05,
                              targets: [LoRATarget] = [.cAttn], useRSLoRA: Bool = false, seed: UInt64 = 0,
                              baseModelName: String = "") throws -> LoRA {
        guard r > 0 else { throw TrainError.usage("--lora-r must be positive") }
        guard dropout >= 0 && dropout < 1 else { throw TrainError.usage("--lora-dropout must be in [0, 1)") }
        guard !targets.isEmpty else { throw TrainError.usage("LoRA needs at least one target module") }
        let lora = LoRA(config: model.config, r: r, alpha: alpha, dropout: dropout, targets: targets,
                        useRSLoRA: useRSLoRA, seed: seed, baseModelName: baseModelName)
        for p in model.parameters { p.frozen = true }
        model.lora = lora
        return lora
    }

    // MARK: - Save / load (PEFT layout)

    struct Config: Codable {
        var peft_type: String
        var task_type: String?
        var r: Int
        var lora_alpha: Float
        var lora_dropout: Float
        var target_modules: [String]?
        var fan_in_fan_out: Bool?
        var bias: String?
        var base_model_name_or_path: String?
        var use_rslora: Bool?
        var use_dora: Bool?
        var inference_mode: Bool?
        var init_lora_weights: Bool?
        var modules_to_save: [String]?
        var rank_pattern: [String: Int]?
        var alpha_pattern: [String: Float]?
        var layers_to_transform: [Int]?
        var revision: String?
    }

    /// Writes `adapter_config.json` and `adapter_model.safetensors` as PEFT's `save_pretrained` does.
    public func save(directory dir: String) throws {
        try FileSystem.makeDirectory(dir)
        try FileSystem.atomicWrite(try configJSON(), to: dir + "/adapter_config.json")
        try SafeTensors.write(parameters.map {
            (LoRAAdapter.peftName($0), $0.shape, UnsafeBufferPointer(start: $0.value.p, count: $0.count))
        }, to: dir + "/adapter_model.safetensors", compressed: false)
    }

    func configJSON() throws -> [UInt8] {
        var names = targets.map(\.rawValue)
        if targets.count == 4 { names = LoRATarget.allCases.map(\.rawValue) }
        let c = Config(peft_type: "LORA", task_type: "CAUSAL_LM", r: r, lora_alpha: alpha, lora_dropout: dropout,
                       target_modules: names, fan_in_fan_out: true, bias: "none",
                       base_model_name_or_path: baseModelName, use_rslora: useRSLoRA, use_dora: false,
                       inference_mode: true, init_lora_weights: true, modules_to_save: nil, rank_pattern: [:],
                       alpha_pattern: [:], layers_to_transform: nil, revision: nil)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try enc.encode(c))
    }

    /// Loads a PEFT LoRA folder (ours or PEFT's) onto `model`: freezes the base and attaches the adapter. The
    /// targeted modules are read from the tensor names (so regex `target_modules` also work).
    @discardableResult
    public static func load(directory dir: String, into model: GPT2) throws -> LoRA {
        let cpath = dir + "/adapter_config.json"
        guard let data = FileManager.default.contents(atPath: cpath) else {
            throw TrainError.badCheckpoint(path: dir, reason: "no adapter_config.json in the adapter folder")
        }
        let cfg: Config
        do { cfg = try JSONDecoder().decode(Config.self, from: data) } catch {
            throw TrainError.badCheckpoint(path: cpath, reason: "not a PEFT adapter config (\(error))")
        }
        func refuse(_ r: String) -> TrainError { .badCheckpoint(path: cpath, reason: r) }
        guard cfg.peft_type == "LORA" else { throw refuse("peft_type \(cfg.peft_type) is not supported (only LORA)") }
        if cfg.use_dora == true { throw refuse("DoRA adapters are not supported") }
        if let b = cfg.bias, b != "none" { throw refuse("bias '\(b)' is not supported (only \"none\")") }
        if let m = cfg.modules_to_save, !m.isEmpty { throw refuse("modules_to_save is not supported") }
        if let p = cfg.rank_pattern, !p.isEmpty { throw refuse("rank_pattern is not supported") }
        if let p = cfg.alpha_pattern, !p.isEmpty { throw refuse("alpha_pattern is not supported") }
        if cfg.fan_in_fan_out == false {
            log.warning("\(cpath): fan_in_fan_out is false; GPT-2's Conv1D layers use the [in, out] layout anyway")
        }
        guard let wpath = LoRA.find(dir, ["adapter_model.safetensors", "adapter_model.safetensors.zst"]) else {
            throw TrainError.badCheckpoint(path: dir, reason: "no adapter_model.safetensors in the adapter folder "
                                               + "(adapter_model.bin is not read)")
        }
        let tensors = try SafeTensors.read(path: wpath)
        var targets = Set<LoRATarget>()
        for name in tensors.keys {
            for t in LoRATarget.allCases where name.contains(".\(t.module).lora_") { targets.insert(t) }
        }
        let ordered = LoRATarget.allCases.filter { targets.contains($0) }
        guard !ordered.isEmpty else {
            throw TrainError.badCheckpoint(path: wpath, reason: "no lora_A/lora_B tensors of GPT-2 modules")
        }
        let lora = LoRA(config: model.config, r: cfg.r, alpha: cfg.lora_alpha, dropout: cfg.lora_dropout,
                        targets: ordered, useRSLoRA: cfg.use_rslora ?? false, seed: 0,
                        baseModelName: cfg.base_model_name_or_path ?? "")
        var byName: [String: Parameter] = [:]
        for p in lora.parameters { byName[LoRAAdapter.peftName(p)] = p }
        var seen = Set<String>()
        for (name, t) in tensors {
            // accept names with the adapter name kept (`lora_A.default.weight`)
            let n = name.replacingOccurrences(of: ".default.weight", with: ".weight")
            guard let p = byName[n] else {
                throw TrainError.badCheckpoint(path: wpath, reason: "unexpected tensor \(name) "
                                                   + "(layers or modules this GPT-2 does not have)")
            }
            guard t.shape == p.shape else {
                throw TrainError.badCheckpoint(path: wpath,
                                               reason: "tensor \(name) has shape \(t.shape), expected \(p.shape)")
            }
            t.values.withUnsafeBufferPointer { p.value.p.update(from: $0.baseAddress!, count: p.count) }
            seen.insert(n)
        }
        if let missing = byName.keys.sorted().first(where: { !seen.contains($0) }) {
            throw TrainError.badCheckpoint(path: wpath, reason: "tensor \(missing) is missing")
        }
        for p in model.parameters { p.frozen = true }
        model.lora = lora
        return lora
    }

    static func find(_ dir: String, _ names: [String]) -> String? {
        names.map { dir + "/" + $0 }.first { FileSystem.exists($0) }
    }

    /// Adds scaling·Aᵀ·Bᵀ to every targeted weight (W is [in, out]) and detaches the adapter (PEFT's
    /// `merge_and_unload`). The model's parameters stay frozen flags as they were before attaching: unfrozen.
    public static func merge(into model: GPT2) {
        guard let lora = model.lora else { return }
        let s = lora.scaling
        for ad in lora.adapters {
            let w = ad.target.weight(model.blocks[ad.layer])
            // W[in, out] += s · A[r, in]ᵀ · B[out, r]ᵀ
            gemm(true, true, ad.inDim, ad.outDim, lora.r, s, ad.a.value.p, ad.inDim, ad.b.value.p, lora.r, 1,
                 w.value.p, ad.outDim)
        }
        model.lora = nil
        for p in model.parameters { p.frozen = false }
    }
}

// MARK: - Forward / backward pieces

/// Saved activations of one adapter in a training forward pass: u = dropout(x)·Aᵀ [rows, r] and, with
/// dropout, the dropped input [rows, in].
final class LoRAActs {
    let u: FloatBuffer
    let xd: FloatBuffer?
    /// Backward scratch: d(u) [rows, r] and, with dropout, d(dropped input) [rows, in].
    let du: FloatBuffer
    let dxd: FloatBuffer?
    /// 1 where the input element was kept by dropout.
    var mask: [UInt8]
    init(rows: Int, r: Int, inDim: Int, dropout: Bool) {
        u = FloatBuffer(rows * r)
        xd = dropout ? FloatBuffer(rows * inDim) : nil
        du = FloatBuffer(rows * r)
        dxd = dropout ? FloatBuffer(rows * inDim) : nil
        mask = dropout ? [UInt8](repeating: 0, count: rows * inDim) : []
    }
}

extension GPT2 {
    /// y += scaling · (dropout(x)·Aᵀ)·Bᵀ for the adapter of (layer, target), if any. `acts` (training) keeps
    /// what the backward pass needs.
    func loraForward(_ layer: Int, _ t: LoRATarget, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                     rows: Int, acts: LoRAActs?) {
        guard let lora, let ad = lora.adapter(layer, t) else { return }
        let r = lora.r, I = ad.inDim, O = ad.outDim
        var input = x
        if lora.training && lora.dropout > 0, let acts, let xd = acts.xd {
            let keep = 1 - Double(lora.dropout), inv = Float(1 / keep)
            for k in 0..<(rows * I) {
                let kept = lora.rng.uniform() < keep
                acts.mask[k] = kept ? 1 : 0
                xd.p[k] = kept ? x[k] * inv : 0
            }
            input = UnsafePointer(xd.p)
        }
        let u = acts?.u ?? FloatBuffer(rows * r)
        gemm(false, true, rows, r, I, 1, input, I, ad.a.value.p, I, 0, u.p, r)
        gemm(false, true, rows, O, r, lora.scaling, u.p, r, ad.b.value.p, r, 1, y, O)
    }

    /// Backward of `loraForward`: dB += s·dyᵀ·u, dA += (s·dy·B)ᵀ·xd, dx += (s·dy·B)·A
    /// (through the dropout mask).
    func loraBackward(_ layer: Int, _ t: LoRATarget, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                      dx: UnsafeMutablePointer<Float>, rows: Int, acts: LoRAActs?) {
        guard let lora, let ad = lora.adapter(layer, t), let acts else { return }
        let r = lora.r, I = ad.inDim, O = ad.outDim, s = lora.scaling
        let useDrop = lora.training && lora.dropout > 0 && acts.xd != nil
        let input: UnsafePointer<Float> = useDrop ? UnsafePointer(acts.xd!.p) : x
        if !ad.b.frozen { gemm(true, false, O, r, rows, s, dy, O, acts.u.p, r, 1, ad.b.grad.p, r) }
        let du = acts.du
        gemm(false, false, rows, r, O, s, dy, O, ad.b.value.p, r, 0, du.p, r)
        if !ad.a.frozen { gemm(true, false, r, I, rows, 1, du.p, r, input, I, 1, ad.a.grad.p, I) }
        if useDrop, let dxd = acts.dxd {
            gemm(false, false, rows, I, r, 1, du.p, r, ad.a.value.p, I, 0, dxd.p, I)
            let inv = 1 / (1 - lora.dropout)
            acts.mask.withUnsafeBufferPointer { m in
                for k in 0..<(rows * I) where m[k] != 0 { dx[k] += dxd.p[k] * inv }
            }
        } else {
            gemm(false, false, rows, I, r, 1, du.p, r, ad.a.value.p, I, 1, dx, I)
        }
    }
}
