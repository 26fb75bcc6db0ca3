import Core
import Foundation

/// The BERT tokenizer of a sentence-transformers folder, as Hugging Face `tokenizers` defines it:
/// special (added) tokens matched verbatim in the raw text, then BertNormalizer (clean text, CJK spacing,
/// NFD + strip accents, lowercase), BertPreTokenizer (whitespace split, punctuation isolated) and WordPiece
/// (greedy longest match with `##` continuations; a word longer than `maxInputCharsPerWord` or with an
/// unmatched remainder becomes `[UNK]`). `encode` adds `[CLS]`/`[SEP]` and truncates to `maxLength` ids.
public struct WordPieceTokenizer: Sendable {
    /// Token → id.
    public let vocab: [String: Int32]
    /// The ids of `[UNK]`, `[CLS]`, `[SEP]` and `[PAD]`.
    public let unkId: Int32
    /// The id of `[CLS]`.
    public let clsId: Int32
    /// The id of `[SEP]`.
    public let sepId: Int32
    /// The id of `[PAD]`.
    public let padId: Int32
    /// BertNormalizer's options (`lowercase`, `strip_accents`, `clean_text`, `handle_chinese_chars`).
    public var lowercase = true
    /// Strip accents after NFD.
    public var stripAccents = true
    /// Remove control characters and normalise whitespace.
    public var cleanText = true
    /// Put spaces around CJK characters.
    public var handleChineseChars = true
    /// WordPiece's prefix of a word's continuation pieces, and the longest word not read as `[UNK]`.
    public var continuingPrefix = "##"
    /// Longest word (in characters) not read as `[UNK]`.
    public var maxInputCharsPerWord = 100
    /// Special tokens matched in the raw text before normalisation, as [scalars] → id, longest first.
    let addedTokens: [([Unicode.Scalar], Int32)]

    /// Loads `tokenizer.json` when the folder has one, otherwise `vocab.txt` (+ `tokenizer_config.json`).
    public init(folder: String) throws {
        let json = folder + "/tokenizer.json"
        if FileSystem.exists(json) {
            try self.init(tokenizerJSON: json)
        } else {
            try self.init(vocabTXT: folder + "/vocab.txt", config: folder + "/tokenizer_config.json")
        }
    }

    /// Reads a Hugging Face `tokenizer.json` of a WordPiece model with a BertNormalizer.
    public init(tokenizerJSON path: String) throws {
        guard let data = FileManager.default.contents(atPath: path),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TokenizeError.wordPiece(path: path, reason: "not a JSON object")
        }
        guard let model = root["model"] as? [String: Any], (model["type"] as? String) == "WordPiece",
              let v = model["vocab"] as? [String: Int] else {
            throw TokenizeError.wordPiece(path: path, reason: "model is not a WordPiece model with a vocab")
        }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(v.count)
        for (k, id) in v { vocab[k] = Int32(id) }
        var added: [([Unicode.Scalar], Int32)] = []
        for item in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let content = item["content"] as? String, let id = item["id"] as? Int, !content.isEmpty else {
                continue
            }
            // Only verbatim-matched special tokens (normalized = false) are supported, as in every BERT model.
            if (item["normalized"] as? Bool) == true { continue }
            added.append((Array(content.unicodeScalars), Int32(id)))
            vocab[content] = Int32(id)
        }
        let unk = (model["unk_token"] as? String) ?? "[UNK]"
        try self.init(vocab: vocab, unk: unk, added: added, path: path)
        if let p = model["continuing_subword_prefix"] as? String { continuingPrefix = p }
        if let m = model["max_input_chars_per_word"] as? Int { maxInputCharsPerWord = m }
        if let n = root["normalizer"] as? [String: Any] {
            guard (n["type"] as? String) == "BertNormalizer" else {
                throw TokenizeError.wordPiece(path: path,
                                              reason: "normalizer \(n["type"] ?? "?") is not BertNormalizer")
            }
            lowercase = (n["lowercase"] as? Bool) ?? true
            cleanText = (n["clean_text"] as? Bool) ?? true
            handleChineseChars = (n["handle_chinese_chars"] as? Bool) ?? true
            stripAccents = (n["strip_accents"] as? Bool) ?? lowercase
        }
    }

    /// Reads a BERT `vocab.txt` (one token per line, id = line number) and its `tokenizer_config.json`.
    public init(vocabTXT path: String, config: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TokenizeError.wordPiece(path: path, reason: "no tokenizer.json and no readable vocab.txt")
        }
        var vocab: [String: Int32] = [:]
        var n: Int32 = 0
        text.enumerateLines { line, _ in
            if vocab[line] == nil { vocab[line] = n }
            n += 1
        }
        var lower = true
        if let d = FileManager.default.contents(atPath: config),
           let c = try? JSONSerialization.jsonObject(with: d) as? [String: Any], let l = c["do_lower_case"] as? Bool {
            lower = l
        }
        let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { s in
            vocab[s].map { (Array(s.unicodeScalars), $0) }
        }
        try self.init(vocab: vocab, unk: "[UNK]", added: specials, path: path)
        lowercase = lower
        stripAccents = lower
    }

    init(vocab: [String: Int32], unk: String, added: [([Unicode.Scalar], Int32)], path: String) throws {
        func id(_ s: String) throws -> Int32 {
            guard let i = vocab[s] else { throw TokenizeError.wordPiece(path: path, reason: "vocabulary has no \(s)") }
            return i
        }
        self.vocab = vocab
        unkId = try id(unk)
        clsId = try id("[CLS]")
        sepId = try id("[SEP]")
        padId = vocab["[PAD]"] ?? 0
        addedTokens = added.sorted { $0.0.count > $1.0.count }
    }

    /// `[CLS] tokens… [SEP]`, truncated so that at most `maxLength` ids result.
    public func encode(_ text: String, maxLength: Int) -> [Int32] {
        var ids: [Int32] = [clsId]
        tokenize(text, limit: max(0, maxLength - 2)) { ids.append($0) }
        ids.append(sepId)
        return ids
    }

    /// The WordPiece ids of `text` without special tokens; stops after `limit` ids.
    public func tokenize(_ text: String, limit: Int = .max, _ emit: (Int32) -> Void) {
        var count = 0
        let scalars = Array(text.unicodeScalars)
        var segmentStart = 0
        var i = 0
        func flush(_ end: Int) -> Bool {
            if segmentStart < end {
                count = tokenizeSegment(scalars[segmentStart..<end], count: count, limit: limit, emit)
            }
            return count < limit
        }
        while i < scalars.count {
            if let (len, id) = matchAdded(scalars, at: i) {
                guard flush(i) else { return }
                emit(id); count += 1
                guard count < limit else { return }
                i += len
                segmentStart = i
            } else {
                i += 1
            }
        }
        _ = flush(scalars.count)
    }

    private func matchAdded(_ s: [Unicode.Scalar], at i: Int) -> (Int, Int32)? {
        for (tok, id) in addedTokens where tok[0] == s[i] && i + tok.count <= s.count {
            var ok = true
            for k in 1..<tok.count where s[i + k] != tok[k] { ok = false; break }
            if ok { return (tok.count, id) }
        }
        return nil
    }

    /// Normalises a segment (no special tokens inside) into words and WordPiece-encodes them.
    private func tokenizeSegment(_ seg: ArraySlice<Unicode.Scalar>, count start: Int, limit: Int,
                                 _ emit: (Int32) -> Void) -> Int {
        var count = start
        var normalized = String.UnicodeScalarView()
        for c in seg {
            if cleanText {
                if c.value == 0 || c.value == 0xfffd || WordPieceTokenizer.isControl(c) { continue }
                if WordPieceTokenizer.isWhitespace(c) { normalized.append(" "); continue }
            }
            if handleChineseChars && WordPieceTokenizer.isChinese(c) {
                normalized.append(" "); normalized.append(c); normalized.append(" ")
            } else {
                normalized.append(c)
            }
        }
        var text = String(normalized)
        if stripAccents {
            var out = String.UnicodeScalarView()
            for c in text.decomposedStringWithCanonicalMapping.unicodeScalars
            where c.properties.generalCategory != .nonspacingMark {
                out.append(c)
            }
            text = String(out)
        }
        if lowercase {
            var out = String.UnicodeScalarView()
            for c in text.unicodeScalars {
                if c.isASCII {
                    out.append(c.value >= 65 && c.value <= 90 ? Unicode.Scalar(c.value + 32)! : c)
                } else {
                    out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
                }
            }
            text = String(out)
        }
        // BertPreTokenizer: split on whitespace, each punctuation character is a word of its own.
        var word: [Unicode.Scalar] = []
        func wordDone() -> Bool {
            if !word.isEmpty {
                count = wordPiece(word, count: count, limit: limit, emit)
                word.removeAll(keepingCapacity: true)
            }
            return count < limit
        }
        for c in text.unicodeScalars {
            if WordPieceTokenizer.isWhitespace(c) {
                if !wordDone() { return count }
            } else if WordPieceTokenizer.isPunctuation(c) {
                if !wordDone() { return count }
                word.append(c)
                if !wordDone() { return count }
            } else {
                word.append(c)
            }
        }
        _ = wordDone()
        return count
    }

    /// Greedy longest-match-first WordPiece of one word.
    private func wordPiece(_ w: [Unicode.Scalar], count start: Int, limit: Int, _ emit: (Int32) -> Void) -> Int {
        var count = start
        if w.count > maxInputCharsPerWord {
            emit(unkId); return count + 1
        }
        var pieces: [Int32] = []
        var begin = 0
        while begin < w.count {
            var end = w.count
            var found: Int32? = nil
            while begin < end {
                var s = String.UnicodeScalarView()
                if begin > 0 { s.append(contentsOf: continuingPrefix.unicodeScalars) }
                s.append(contentsOf: w[begin..<end])
                if let id = vocab[String(s)] { found = id; break }
                end -= 1
            }
            guard let id = found else { pieces = [unkId]; break }
            pieces.append(id)
            begin = end
        }
        for id in pieces {
            guard count < limit else { break }
            emit(id); count += 1
        }
        return count
    }

    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x20, 0x09, 0x0a, 0x0d: return true
        case 0..<0x80: return false
        default: return c.properties.isWhitespace
        }
    }

    static func isControl(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09, 0x0a, 0x0d: return false
        case 0x20..<0x7f: return false
        default:
            switch c.properties.generalCategory {
            case .control, .format, .unassigned, .privateUse, .surrogate: return true
            default: return false
            }
        }
    }

    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        if v < 0x80 { return false }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isChinese(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }
}
