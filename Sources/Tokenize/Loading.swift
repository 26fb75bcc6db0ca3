import Core
import Foundation

extension BPETokenizer {
    /// Loads a tokenizer from `path`: our `tokenize` stage folder (`tokenizer.json.zst`), a folder with
    /// `tokenizer.json`, a folder with GPT-2 `vocab.json` + `merges.txt` (plain or .zst), or a `tokenizer.json`
    /// file (plain or .zst).
    public convenience init(path: String) throws {
        func first(_ names: [String]) -> String? {
            names.map { path + "/" + $0 }.first { FileSystem.exists($0) }
        }
        if FileSystem.isDirectory(path) {
            if let tj = first(["tokenizer.json.zst", "tokenizer.json"]) {
                try self.init(tokenizerJSON: tj)
            } else if let v = first(["vocab.json.zst", "vocab.json"]), let m = first(["merges.txt.zst", "merges.txt"]) {
                try self.init(vocabJSON: v, mergesTxt: m)
            } else {
                throw TokenizeError.badTokenizer(path: path, reason: "no tokenizer.json, nor vocab.json and merges.txt")
            }
        } else if FileSystem.exists(path) {
            try self.init(tokenizerJSON: path)
        } else {
            throw CoreError.notFound(path: path)
        }
    }

    /// The files `init(path:)` reads — what decides the tokenizer, for a stage's inputs.
    public static func files(path: String) -> [String] {
        guard FileSystem.isDirectory(path) else { return [path] }
        func first(_ names: [String]) -> String? { names.map { path + "/" + $0 }.first { FileSystem.exists($0) } }
        if let tj = first(["tokenizer.json.zst", "tokenizer.json"]) { return [tj] }
        return [first(["vocab.json.zst", "vocab.json"]), first(["merges.txt.zst", "merges.txt"])].compactMap { $0 }
    }

    static func readJSON(_ path: String) throws -> Any {
        let bytes = try ByteReader(path: path).readAll()
        do {
            return try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw TokenizeError.badTokenizer(path: path, reason: "not JSON (\(error.localizedDescription))")
        }
    }

    static func vocabEntries(_ obj: Any?, _ path: String) throws -> [([UInt8], Int)] {
        guard let dict = obj as? [String: Any] else {
            throw TokenizeError.badTokenizer(path: path, reason: "no vocabulary object")
        }
        var out: [([UInt8], Int)] = []
        out.reserveCapacity(dict.count)
        for (k, v) in dict {
            guard let id = (v as? NSNumber)?.intValue, id >= 0, id < 1 << 31 else {
                throw TokenizeError.badTokenizer(path: path,
                                                 reason: "vocabulary entry \(k.debugDescription) has no valid id")
            }
            out.append((Array(k.utf8), id))
        }
        // Two tokens with one id would make decoding ambiguous (and the vocabulary smaller than it claims).
        var byID: [Int: [UInt8]] = [:]
        for (token, id) in out.sorted(by: { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0.lexicographicallyPrecedes($1.0) }) {
            if let other = byID[id] {
                let a = String(decoding: other, as: UTF8.self).debugDescription
                let b = String(decoding: token, as: UTF8.self).debugDescription
                throw TokenizeError.badTokenizer(path: path, reason: "tokens \(a) and \(b) share id \(id)")
            }
            byID[id] = token
        }
        return out
    }

    /// A Hugging Face `tokenizer.json` with a BPE model and a ByteLevel pre-tokenizer.
    public convenience init(tokenizerJSON path: String) throws {
        guard let root = try BPETokenizer.readJSON(path) as? [String: Any],
              let model = root["model"] as? [String: Any] else {
            throw TokenizeError.badTokenizer(path: path, reason: "no \"model\" object")
        }
        if let type = model["type"] as? String, type != "BPE" {
            throw TokenizeError.badTokenizer(path: path, reason: "model type \(type) (only BPE is supported)")
        }
        if let n = root["normalizer"], !(n is NSNull) {
            throw TokenizeError.badTokenizer(path: path, reason: "normalizers are not supported")
        }
        if let pp = root["post_processor"] as? [String: Any], (pp["type"] as? String) != "ByteLevel" {
            throw TokenizeError.badTokenizer(path: path, reason: "post-processor \(pp["type"] ?? "?") is not supported")
        }
        // Model options that change encoding and are not implemented: refuse rather than encode differently.
        if (model["ignore_merges"] as? Bool) == true || (model["byte_fallback"] as? Bool) == true {
            throw TokenizeError.badTokenizer(path: path, reason: "ignore_merges / byte_fallback are not supported")
        }
        for key in ["dropout", "continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key], !(v is NSNull) {
                throw TokenizeError.badTokenizer(path: path, reason: "model option \(key) is not supported")
            }
        }
        var prefix = false
        if let pre = root["pre_tokenizer"] as? [String: Any] {
            guard (pre["type"] as? String) == "ByteLevel" else {
                throw TokenizeError.badTokenizer(path: path, reason: "pre-tokenizer \(pre["type"] ?? "?") "
                                                     + "(only ByteLevel is supported)")
            }
            if let u = pre["use_regex"] as? Bool, !u {
                throw TokenizeError.badTokenizer(path: path, reason: "ByteLevel without use_regex is not supported")
            }
            prefix = (pre["add_prefix_space"] as? Bool) ?? false
        } else {
            throw TokenizeError.badTokenizer(path: path, reason: "no ByteLevel pre-tokenizer")
        }
        let vocab = try BPETokenizer.vocabEntries(model["vocab"], path)
        var merges: [([UInt8], [UInt8])] = []
        for (i, m) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let pair = m as? [String], pair.count == 2 {
                merges.append((Array(pair[0].utf8), Array(pair[1].utf8)))
            } else if let s = m as? String, let sp = s.firstIndex(of: " ") {
                merges.append((Array(s[..<sp].utf8), Array(s[s.index(after: sp)...].utf8)))
            } else {
                throw TokenizeError.badTokenizer(path: path, reason: "merge \(i + 1) is not a pair")
            }
        }
        var added: [([UInt8], Int)] = []
        for a in (root["added_tokens"] as? [[String: Any]]) ?? [] {
            if let c = a["content"] as? String, let id = (a["id"] as? NSNumber)?.intValue, id >= 0 {
                added.append((Array(c.utf8), id))
            }
        }
        try self.init(vocab: vocab, merges: merges, added: added, addPrefixSpace: prefix, source: path)
    }

    /// GPT-2 files: `vocab.json` and `merges.txt` (first line `#version: ...` skipped).
    public convenience init(vocabJSON: String, mergesTxt: String) throws {
        let vocab = try BPETokenizer.vocabEntries(try BPETokenizer.readJSON(vocabJSON), vocabJSON)
        var merges: [([UInt8], [UInt8])] = []
        var failure: Error?
        try ByteReader(path: mergesTxt).forEachLine { line, number in
            guard failure == nil else { return }
            var l = Array(line)
            if l.last == 0x0D { l.removeLast() }
            if l.isEmpty || (number == 1 && l.starts(with: Array("#version".utf8))) { return }
            guard let sp = l.firstIndex(of: 0x20), sp > 0, sp < l.count - 1, !l[(sp + 1)...].contains(0x20) else {
                failure = TokenizeError.badTokenizer(path: mergesTxt, reason: "line \(number) is not `left right`")
                return
            }
            merges.append((Array(l[..<sp]), Array(l[(sp + 1)...])))
        }
        if let f = failure { throw f }
        try self.init(vocab: vocab, merges: merges, added: [], addPrefixSpace: false, source: mergesTxt)
    }
}
