import Core
import Foundation

/// Loading and saving GPT-2 model folders in transformers' layout: `config.json` + `model.safetensors`
/// (plain or `.zst`). Names with or without the `transformer.` prefix are read; `attn.bias`/`attn.masked_bias`
/// buffers and a tied `lm_head.weight` are ignored. We save `transformer.`-prefixed names and no `lm_head.weight`.
public enum Checkpoint {
    /// Writes a trainer's resumable state as `dir/trainer_state.json` (pretty JSON).
    static func writeState<T: Encodable>(_ state: T, to dir: String) throws {
        try FileSystem.atomicWrite(try JSON.encode(state, pretty: true) + [0x0A], to: dir + "/trainer_state.json")
    }

    /// Reads `dir/trainer_state.json`; errors name the file (missing, or not this trainer's state).
    static func readState<T: Decodable>(_ type: T.Type, from dir: String) throws -> (T, path: String) {
        let path = dir + "/trainer_state.json"
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw TrainError.badCheckpoint(path: path, reason: "no trainer state to resume from")
        }
        do { return (try JSONDecoder().decode(T.self, from: bytes), path) } catch {
            throw TrainError.badCheckpoint(path: path, reason: "unreadable trainer state (\(error))")
        }
    }

    /// The files of a model folder that decide the model (config.json, model.safetensors[.zst]), sorted: a
    /// stage's inputs.
    public static func modelFiles(_ dir: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.sorted()
            .filter { $0.hasPrefix("config.json") || $0.hasPrefix("model.safetensors") }
            .map { dir + "/" + $0 }
    }

    /// transformers' GPT-2 config.json for `c` (dropout 0: we train without dropout).
    public static func configJSON(_ c: GPT2Config) throws -> [UInt8] {
        let obj: [String: Any] = [
            "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
            "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0,
            "bos_token_id": c.bosTokenId, "eos_token_id": c.eosTokenId,
            "initializer_range": 0.02, "layer_norm_epsilon": Double(c.layerNormEpsilon),
            "model_type": "gpt2", "n_ctx": c.nPositions, "n_embd": c.nEmbd, "n_head": c.nHead,
            "n_inner": c.nInner.map { $0 as Any } ?? NSNull(), "n_layer": c.nLayer, "n_positions": c.nPositions,
            "reorder_and_upcast_attn": false, "scale_attn_by_inverse_layer_idx": false, "scale_attn_weights": true,
            "summary_activation": NSNull(), "summary_first_dropout": 0.1, "summary_proj_to_labels": true,
            "summary_type": "cls_index", "summary_use_proj": true, "tie_word_embeddings": true,
            "torch_dtype": "float32", "use_cache": true, "vocab_size": c.vocabSize,
        ]
        return Array(try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted])) + [0x0A]
    }

    /// The GPT-2 shape of a transformers config.json; an error for an unsupported or invalid config.
    public static func readConfig(path: String) throws -> GPT2Config {
        let bytes = try ByteReader(path: path).readAll()
        guard let obj = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw TrainError.badConfig(path: path, reason: "not a JSON object")
        }
        func int(_ k: String, _ alt: String? = nil) throws -> Int {
            if let v = obj[k] as? NSNumber { return v.intValue }
            if let alt, let v = obj[alt] as? NSNumber { return v.intValue }
            throw TrainError.badConfig(path: path, reason: "missing integer field \"\(k)\"")
        }
        if let t = obj["model_type"] as? String, t != "gpt2" {
            throw TrainError.badConfig(path: path, reason: "model_type \"\(t)\" is not gpt2")
        }
        if let a = obj["activation_function"] as? String, a != "gelu_new" {
            throw TrainError.badConfig(path: path,
                                       reason: "activation_function \"\(a)\" is not supported (gelu_new only)")
        }
        if (obj["scale_attn_by_inverse_layer_idx"] as? Bool) == true || (obj["scale_attn_weights"] as? Bool) == false {
            throw TrainError.badConfig(path: path, reason: "non-default attention scaling is not supported")
        }
        let c = GPT2Config(vocabSize: try int("vocab_size"), nPositions: try int("n_positions", "n_ctx"),
                           nEmbd: try int("n_embd"), nLayer: try int("n_layer"), nHead: try int("n_head"),
                           nInner: (obj["n_inner"] as? NSNumber)?.intValue,
                           layerNormEpsilon: (obj["layer_norm_epsilon"] as? NSNumber)?.floatValue ?? 1e-5,
                           bosTokenId: (obj["bos_token_id"] as? NSNumber)?.intValue,
                           eosTokenId: (obj["eos_token_id"] as? NSNumber)?.intValue)
        try c.validate(path: path)
        return c
    }

    static func find(_ dir: String, _ names: [String]) -> String? {
        names.map { dir + "/" + $0 }.first { FileSystem.exists($0) }
    }

    /// Loads a model folder (ours, a transformers `save_pretrained` folder, or the hub's `gpt2`/`distilgpt2`).
    public static func load(directory dir: String) throws -> GPT2 {
        guard let cfg = find(dir, ["config.json", "config.json.zst"]) else {
            throw TrainError.badCheckpoint(path: dir, reason: "no config.json in the model folder")
        }
        guard let st = find(dir, ["model.safetensors", "model.safetensors.zst"]) else {
            throw TrainError.badCheckpoint(path: dir, reason: "no model.safetensors in the model folder "
                                               + "(pytorch_model.bin is not read)")
        }
        let model = GPT2(config: try readConfig(path: cfg))
        try streamWeights(model, path: st)
        return model
    }

    /// Reads a safetensors file of either name layout straight into the model's parameters.
    public static func streamWeights(_ model: GPT2, path: String) throws {
        var byName: [String: Parameter] = [:]
        for p in model.parameters { byName[p.name] = p }
        var seen = Set<String>()
        try SafeTensors.stream(path: path) { name, shape in
            var n = name
            if n.hasPrefix("transformer.") { n.removeFirst("transformer.".count) }
            if n.hasSuffix(".attn.bias") || n.hasSuffix(".attn.masked_bias") || n == "lm_head.weight" { return nil }
            guard let p = byName[n] else {
                throw TrainError.badCheckpoint(path: path,
                                               reason: "unexpected tensor \(name) (not a GPT-2 LM checkpoint?)")
            }
            guard shape == p.shape else {
                throw TrainError.badCheckpoint(path: path,
                                               reason: "tensor \(name) has shape \(shape), expected \(p.shape)")
            }
            seen.insert(n)
            return p.value.p
        }
        if let missing = model.parameters.first(where: { !seen.contains($0.name) }) {
            throw TrainError.badCheckpoint(path: path, reason: "tensor \(missing.name) is missing")
        }
    }

    /// Copies `tensors` (transformers' names, with or without `transformer.`) into `model`'s parameters.
    public static func loadWeights(_ model: GPT2, tensors: [String: SafeTensors.Tensor], path: String) throws {
        var byName: [String: SafeTensors.Tensor] = [:]
        for (name, t) in tensors {
            var n = name
            if n.hasPrefix("transformer.") { n.removeFirst("transformer.".count) }
            if n.hasSuffix(".attn.bias") || n.hasSuffix(".attn.masked_bias") || n == "lm_head.weight" { continue }
            byName[n] = t
        }
        for p in model.parameters {
            guard let t = byName.removeValue(forKey: p.name) else {
                throw TrainError.badCheckpoint(path: path, reason: "tensor \(p.name) is missing")
            }
            guard t.shape == p.shape else {
                throw TrainError.badCheckpoint(path: path,
                                               reason: "tensor \(p.name) has shape \(t.shape), expected \(p.shape)")
            }
            t.values.withUnsafeBufferPointer { p.value.p.update(from: $0.baseAddress!, count: p.count) }
        }
        if let extra = byName.keys.sorted().first {
            throw TrainError.badCheckpoint(path: path,
                                           reason: "unexpected tensor \(extra) (not a GPT-2 LM checkpoint?)")
        }
    }

    /// The safetensors bytes of the model with transformers' names (`transformer.` prefix, no lm_head).
    public static func weightBytes(_ model: GPT2) throws -> [UInt8] {
        try SafeTensors.serialize(model.parameters.map {
            ("transformer." + $0.name, $0.shape, UnsafeBufferPointer(start: $0.value.p, count: $0.count))
        })
    }

    /// Saves a model folder; `compressed` writes `model.safetensors.zst` (our artifacts) instead of the plain file.
    /// Each file is written atomically.
    public static func save(_ model: GPT2, directory dir: String, compressed: Bool) throws {
        try FileSystem.makeDirectory(dir)
        try FileSystem.atomicWrite(try configJSON(model.config), to: dir + "/config.json")
        try SafeTensors.write(model.parameters.map {
            ("transformer." + $0.name, $0.shape, UnsafeBufferPointer(start: $0.value.p, count: $0.count))
        }, to: dir + (compressed ? "/model.safetensors.zst" : "/model.safetensors"), compressed: compressed)
    }
}
