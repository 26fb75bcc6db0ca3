import Core
import Foundation

extension TrainedBPE {
    /// `tokenizer.json` byte for byte as `Tokenizer.save()` of `tokenizers` 0.23 writes it for this model
    /// (pretty-printed, two-space indent, no final newline).
    public func tokenizerJSON() -> [UInt8] {
        var o: [UInt8] = []
        func s(_ t: String) { o.append(contentsOf: Array(t.utf8)) }
        s("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
        var seen = Set<String>()
        var first = true
        for t in specialTokens where !seen.contains(t) {
            seen.insert(t)
            let id = tokens.firstIndex(of: Array(t.utf8)) ?? 0
            s(first ? "\n" : ",\n")
            first = false
            s("    {\n      \"id\": \(id),\n      \"content\": ")
            PythonText.appendJSONString(t, to: &o)
            s(",\n      \"single_word\": false,\n      \"lstrip\": false,\n      \"rstrip\": false,\n")
            s("      \"normalized\": false,\n      \"special\": true\n    }")
        }
        s(first ? "]" : "\n  ]")
        s(",\n  \"normalizer\": null,\n  \"pre_tokenizer\": {\n    \"type\": \"ByteLevel\",\n")
        s("    \"add_prefix_space\": \(addPrefixSpace),\n    \"trim_offsets\": true,\n    \"use_regex\": true\n  },\n")
        s("  \"post_processor\": null,\n  \"decoder\": {\n"
          + "    \"type\": \"ByteLevel\",\n    \"add_prefix_space\": true,\n")
        s("    \"trim_offsets\": true,\n    \"use_regex\": true\n  },\n  \"model\": {\n    \"type\": \"BPE\",\n")
        s("    \"dropout\": null,\n    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n")
        s("    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n")
        s("    \"ignore_merges\": false,\n    \"vocab\": {")
        for (id, t) in tokens.enumerated() {
            s(id == 0 ? "\n      " : ",\n      ")
            PythonText.appendJSONString(utf8: t, to: &o)
            s(": \(id)")
        }
        s(tokens.isEmpty ? "}" : "\n    }")
        s(",\n    \"merges\": [")
        let ms = serializedMerges
        for (i, m) in ms.enumerated() {
            s(i == 0 ? "\n      [\n        " : ",\n      [\n        ")
            PythonText.appendJSONString(utf8: tokens[Int(m.0)], to: &o)
            s(",\n        ")
            PythonText.appendJSONString(utf8: tokens[Int(m.1)], to: &o)
            s("\n      ]")
        }
        s(ms.isEmpty ? "]" : "\n    ]")
        s("\n  }\n}")
        return o
    }

    /// `vocab.json` as `tokenizers`' `model.save()` writes it: compact, ordered by id.
    public func vocabJSON() -> [UInt8] {
        var o: [UInt8] = [0x7B]
        for (id, t) in tokens.enumerated() {
            if id > 0 { o.append(0x2C) }
            PythonText.appendJSONString(utf8: t, to: &o)
            o.append(0x3A)
            o.append(contentsOf: Array(String(id).utf8))
        }
        o.append(0x7D)
        return o
    }

    /// `merges.txt` as `model.save()` writes it: a version line, then `left right` per merge.
    public func mergesText() -> [UInt8] {
        var o = Array("#version: 0.2\n".utf8)
        for m in serializedMerges {
            o.append(contentsOf: tokens[Int(m.0)])
            o.append(0x20)
            o.append(contentsOf: tokens[Int(m.1)])
            o.append(0x0A)
        }
        return o
    }
}
