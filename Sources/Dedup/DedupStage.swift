import Core
import Foundation

/// The `dedup` stage: `ingest/{pages,documents,corpus}` → the same three files in `dedup/` with duplicate
/// documents (or pages) removed, and `dedup/clusters.jsonl.zst`.
///
/// A unit (a document: its pages joined by "\n", as the corpus has it; or one page) is an exact duplicate when
/// its text in NFKC with whitespace runs collapsed to one space (case kept) equals an earlier unit's (SHA-256 of
/// that text); the first is kept. The remaining units go through datatrove's MinHash deduplication
/// (`MinHash`, `DuplicateClusters`): signatures, LSH buckets, union-find clusters, the root of each kept.
public enum DedupStage {
    public static let name = "dedup"
    public static let formatVersion = "1"

    /// What is compared: whole documents or single pages.
    public enum Level: String, CaseIterable, Sendable {
        case document, page
    }

    /// What a run did.
    public struct Outcome {
        public var ran: Bool
        public var units = 0
        public var exact = 0
        public var near = 0
        public var clusters = 0
        public var level: Level = .document
        public var outputDir: String = ""
        /// Units removed.
        public var removed: Int { exact + near }
    }

    /// One unit as the first pass saw it.
    struct Unit {
        var docID: String
        var isInteger: Bool
        var source: String
        var page: Int?
        var excerpt: String
    }

    /// Why a unit goes: the unit kept in its place, and how alike they are.
    struct Removal {
        var kept: Int
        var exact: Bool
        var estimated: Double
    }

    /// A document's identity in the input (5 and "5" are two documents).
    struct DocKey: Hashable {
        let id: String
        let isInteger: Bool
    }

    static let excerptLength = 160

    /// The stage's parameters.
    static func parameters(level: Level, threshold: Double, minhash: MinHash) -> [String: String] {
        ["level": level.rawValue, "threshold": String(threshold), "ngrams": String(minhash.ngrams),
         "buckets": String(minhash.buckets), "hashes_per_bucket": String(minhash.hashesPerBucket),
         "hash": "xxhash64", "format_version": formatVersion]
    }

    /// The parameters of a shard: those of the signatures (the threshold acts in the merge only); a shard's
    /// manifest adds its `shard`.
    static func shardParameters(level: Level, minhash: MinHash) -> [String: String] {
        var p = parameters(level: level, threshold: 0, minhash: minhash)
        p["threshold"] = nil
        return p
    }

    /// The input: ingest's pages (and documents, when there).
    static func inputs(_ workdir: Workdir) throws -> (pages: String, documents: String, all: [String]) {
        let source = workdir.stageDir("ingest")
        let pagesIn = source + "/pages.jsonl.zst", docsIn = source + "/documents.jsonl.zst"
        guard FileSystem.exists(pagesIn) else { throw DedupError.missingInput(path: pagesIn) }
        return (pagesIn, docsIn, [pagesIn] + (FileSystem.exists(docsIn) ? [docsIn] : []))
    }

    /// Runs the stage; nil-like `ran: false` outcome when up to date.
    public static func run(workdir: Workdir, level: Level, threshold: Double, minhash: MinHash = MinHash(),
                           force: Bool = false) throws -> Outcome {
        try execute(workdir: workdir, level: level, threshold: threshold, minhash: minhash, shards: nil,
                    force: force)
    }

    /// What a shard did.
    public struct ShardOutcome {
        public var ran: Bool
        /// The units of the shard's blocks, and those of them signed.
        public var units = 0
        public var signed = 0
        public var outputDir: String
    }

    /// Shard `shard` of the stage: the exact keys and MinHash signatures of the units of its blocks
    /// (`Shard.blockSize` units, in input order), in `dedup/shards/I-of-N/signatures.jsonl.zst` — the expensive
    /// part (normalising, word splitting, shingle hashing). Not run when that shard is up to date.
    public static func runShard(workdir: Workdir, level: Level, minhash: MinHash = MinHash(), shard: Shard,
                                force: Bool = false) throws -> ShardOutcome {
        let input = try inputs(workdir)
        let stage = Workdir.shardStage(name, shard)
        var outcome = ShardOutcome(ran: false, outputDir: workdir.stageDir(stage))
        guard let run = try StageRun.begin(workdir: workdir, stage: stage, inputs: [input.pages],
                                           parameters: shardParameters(level: level, minhash: minhash)
                                               .merging(["shard": shard.description]) { $1 },
                                           force: force) else { return outcome }
        outcome.ran = true
        let out = try JSONLWriter<UnitSignature>(path: run.output("signatures.jsonl.zst"))
        var seen = Set<String>()
        var position = 0
        let progress = Progress("dedup shard \(shard)", unit: level == .page ? "pages" : "documents")
        try forEachUnit(input.pages, level: level) { _, text in
            defer { position += 1 }
            guard shard.owns(position: position) else { return }
            let key = exactKey(text)
            let signature = seen.insert(key).inserted ? minhash.signature(text) : nil
            if signature != nil { outcome.signed += 1 }
            try out.write(UnitSignature(unit: position, key: key, signature: signature))
            outcome.units += 1
            progress.advance()
        }
        progress.finish()
        try out.close()
        run.records = ["units": outcome.units, "signed": outcome.signed]
        try run.commit()
        return outcome
    }

    /// The stage's outputs from its `shards` shards' signatures, byte-identical to `run`'s; up to date like `run`.
    public static func merge(workdir: Workdir, level: Level, threshold: Double, minhash: MinHash = MinHash(),
                             shards: Int, force: Bool = false) throws -> Outcome {
        try execute(workdir: workdir, level: level, threshold: threshold, minhash: minhash, shards: shards,
                    force: force)
    }

    /// The shards' signature files read back in unit order: block `b` of `Shard.blockSize` units from shard
    /// `b % N`.
    struct ShardSignatures {
        let readers: [LineReader]
        let decoder = JSONDecoder()

        init(dirs: [String]) throws {
            readers = try dirs.map { try LineReader(path: $0 + "/signatures.jsonl.zst") }
        }

        /// Unit `unit`'s record; an error naming the shard file when it is missing or out of order.
        func next(unit: Int) throws -> UnitSignature {
            let reader = readers[(unit / Shard.blockSize) % readers.count]
            guard let line = try reader.next() else { throw CoreError.truncated(path: reader.path) }
            let record: UnitSignature
            do { record = try ShardSignatures.parse(line) ?? decoder.decode(UnitSignature.self, from: Data(line)) } catch {
                throw DedupError.badRecord(path: reader.path, line: unit + 1, reason: "unreadable signature: \(error)")
            }
            guard record.unit == unit else {
                throw DedupError.badRecord(path: reader.path, line: unit + 1,
                                           reason: "signature of unit \(record.unit) where unit \(unit) was expected "
                                               + "(the shards do not match the input; run them again)")
            }
            return record
        }

        /// A line as `JSONLWriter<UnitSignature>` writes it (keys sorted, no spaces), read without JSONDecoder
        /// (a tenth of its time); nil for any other layout, which JSONDecoder then reads.
        static func parse(_ line: [UInt8]) -> UnitSignature? {
            var i = 0
            func expect(_ s: StaticString) -> Bool {
                let n = s.utf8CodeUnitCount
                guard i + n <= line.count else { return false }
                let p = s.utf8Start
                for k in 0..<n where line[i + k] != p[k] { return false }
                i += n
                return true
            }
            func number() -> UInt64? {
                var v: UInt64 = 0, digits = 0
                while i < line.count, line[i] >= 0x30, line[i] <= 0x39 {
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(UInt64(line[i] - 0x30))
                    if o1 || o2 { return nil }
                    v = a; digits += 1; i += 1
                }
                return digits > 0 ? v : nil
            }
            guard expect(#"{"key":""#), let q = line[i...].firstIndex(of: 0x22) else { return nil }
            let key = line[i..<q]
            guard key.allSatisfy({ $0 != 0x5C }) else { return nil }   // an escape: JSONDecoder's job
            i = q + 1
            guard expect(#","signature":"#) else { return nil }
            var signature: [UInt64]? = nil
            if !expect("null") {
                guard expect("[") else { return nil }
                var values: [UInt64] = []
                values.reserveCapacity(112)
                if !expect("]") {
                    while true {
                        guard let v = number() else { return nil }
                        values.append(v)
                        if expect("]") { break }
                        guard expect(",") else { return nil }
                    }
                }
                signature = values
            }
            guard expect(#","unit":"#), let unit = number(), unit <= UInt64(Int.max), expect("}") else { return nil }
            guard i == line.count || (i == line.count - 1 && line[i] == 0x0A) else { return nil }
            return UnitSignature(unit: Int(unit), key: String(decoding: key, as: UTF8.self), signature: signature)
        }

        /// Checks that every shard file has been read to its end.
        func finish() throws {
            for r in readers where try r.next() != nil {
                throw DedupError.badRecord(path: r.path, line: 0, reason: "more signatures than the input has units "
                                               + "(the shards do not match the input; run them again)")
            }
        }
    }

    /// The whole stage: the signatures computed here (`shards` nil) or read from the `shards` shards.
    static func execute(workdir: Workdir, level: Level, threshold: Double, minhash: MinHash, shards: Int?,
                        force: Bool) throws -> Outcome {
        let input = try inputs(workdir)
        let pagesIn = input.pages, docsIn = input.documents
        let dirs = try shards.map { n in
            try ShardMerge.checkShards(workdir: workdir, folder: name, shards: n, inputs: [pagesIn],
                                       parameters: shardParameters(level: level, minhash: minhash))
        }
        var outcome = Outcome(ran: false, level: level, outputDir: workdir.stageDir(name))
        guard let run = try StageRun.begin(workdir: workdir, stage: name, inputs: input.all,
                                           parameters: parameters(level: level, threshold: threshold,
                                                                  minhash: minhash),
                                           force: force) else { return outcome }
        outcome.ran = true
        let fromShards = try dirs.map { try ShardSignatures(dirs: $0) }

        // Pass 1: every unit's exact key and signature (computed, or the shards').
        var units: [Unit] = []
        var signatures: [[UInt64]?] = []
        var removals: [Int: Removal] = [:]
        var firstByKey: [String: Int] = [:]
        let progress = Progress("dedup", unit: level == .page ? "pages" : "documents")
        try forEachUnit(pagesIn, level: level) { unit, text in
            let i = units.count
            units.append(unit)
            let record = try fromShards?.next(unit: i)
            let key = record?.key ?? exactKey(text)
            if let first = firstByKey[key] {
                removals[i] = Removal(kept: first, exact: true, estimated: 1)
                signatures.append(nil)
            } else {
                firstByKey[key] = i
                if let record { signatures.append(record.signature) } else { signatures.append(minhash.signature(text)) }
            }
            progress.advance()
        }
        progress.finish()
        try fromShards?.finish()
        outcome.units = units.count
        outcome.exact = removals.count

        // Near duplicates: datatrove's pairs and clusters; pairs below --threshold (estimated) left out.
        let pairs = minhash.pairs(signatures).filter { p, q in
            threshold <= 0 || estimate(signatures[p]!, signatures[q]!) >= threshold
        }
        var union = DuplicateClusters(count: units.count, pairs: pairs)
        let near = union.clusters()
        for (kept, removed) in near {
            for r in removed {
                removals[r] = Removal(kept: kept, exact: false, estimated: estimate(signatures[kept]!,
                                                                                    signatures[r]!))
            }
        }
        outcome.near = removals.count - outcome.exact

        // Pass 2: the pages and the corpus without the removed units.
        let pagesOut = try JSONLWriter<PageRecord>(path: run.output("pages.jsonl.zst"))
        let corpus = try ZstdWriter(path: run.output("corpus.txt.zst"))
        var corpusDocs = 0
        var keptPages: [String: Int] = [:]
        var removedDocs: [String: Removal] = [:]
        var docText: [String] = []
        var lastDoc: DocKey? = nil
        func flushDoc() throws {
            guard !docText.isEmpty else { return }
            try corpus.write(CorpusLayout.entry(docText, index: corpusDocs))
            corpusDocs += 1
            docText.removeAll()
        }
        var index = -1
        try forEachPage(pagesIn) { page, newUnit in
            let doc = DocKey(id: page.docID, isInteger: page.docIDIsInteger)
            if doc != lastDoc { try flushDoc(); lastDoc = doc; keptPages[doc.id] = 0 }
            if newUnit(level) { index += 1 }
            if let removal = removals[index] {
                if removedDocs[doc.id] == nil { removedDocs[doc.id] = removal }
                return
            }
            try pagesOut.write(page)
            keptPages[doc.id, default: 0] += 1
            docText.append(page.text)
        }
        try flushDoc()
        try pagesOut.close()
        try corpus.close()

        // The shingle sets of the near clusters' members, for their exact Jaccard (a third pass, when any).
        let members = Set(near.flatMap { [$0.kept] + $0.removed })
        var shingleSets: [Int: Set<UInt64>] = [:]
        if !members.isEmpty {
            var i = 0
            try forEachUnit(pagesIn, level: level) { _, text in
                if members.contains(i) { shingleSets[i] = Set(minhash.shingles(text)) }
                i += 1
            }
        }

        // Documents: a removed document (all of its pages, at page level) becomes a duplicate of the kept one.
        let docsOut = try JSONLWriter<DocumentRecord>(path: run.output("documents.jsonl.zst"))
        if FileSystem.exists(docsIn) {
            try JSONLReader.forEach(Lenient<DocumentRecord>.self, path: docsIn) { lenient, _ in
                var doc = lenient.record
                if let kept = keptPages[doc.docID] { doc.pages = kept }
                if let removal = removedDocs[doc.docID], doc.pages == 0, doc.status == "ok" {
                    let other = units[removal.kept].source
                    doc.status = "duplicate"
                    doc.duplicateOf = other
                    doc.error = removal.exact ? "dedup: the same text as \(other)"
                        : "dedup: a near duplicate of \(other) (estimated Jaccard "
                          + String(format: "%.3f", removal.estimated) + ")"
                }
                try docsOut.write(doc)
            }
        }
        try docsOut.close()

        // Clusters, in the order of their kept units (exact before near for the same unit).
        var clusters: [Int: (exact: [Int], near: [Int])] = [:]
        for (r, removal) in removals.sorted(by: { $0.key < $1.key }) {
            if removal.exact { clusters[removal.kept, default: ([], [])].exact.append(r) }
            else { clusters[removal.kept, default: ([], [])].near.append(r) }
        }
        func member(_ i: Int, estimated: Double? = nil, jaccard: Double? = nil) -> DuplicateCluster.Member {
            let u = units[i]
            return DuplicateCluster.Member(docID: u.docID, source: u.source, page: u.page,
                                           estimatedJaccard: estimated, jaccard: jaccard, excerpt: u.excerpt)
        }
        let clustersOut = try JSONLWriter<DuplicateCluster>(path: run.output("clusters.jsonl.zst"))
        for kept in clusters.keys.sorted() {
            let c = clusters[kept]!
            if !c.exact.isEmpty {
                try clustersOut.write(DuplicateCluster(kind: "exact", kept: member(kept), removed: c.exact.map {
                    member($0, estimated: 1, jaccard: 1)
                }))
            }
            if !c.near.isEmpty {
                try clustersOut.write(DuplicateCluster(kind: "near", kept: member(kept), removed: c.near.map {
                    member($0, estimated: round3(removals[$0]!.estimated),
                           jaccard: round3(jaccardOf(shingleSets[kept] ?? [], shingleSets[$0] ?? [])))
                }))
            }
        }
        outcome.clusters = clustersOut.count
        try clustersOut.close()
        run.records = ["units": outcome.units, "exact": outcome.exact, "near": outcome.near,
                       "removed": outcome.removed, "clusters": outcome.clusters,
                       "kept": outcome.units - outcome.removed]
        try run.commit()
        return outcome
    }

    /// Removes the stage's folder (the stage is switched off): the text readers then take ingest's files.
    public static func disable(workdir: Workdir) -> Bool {
        let dir = workdir.stageDir(name)
        guard FileSystem.exists(dir) else { return false }
        FileSystem.remove(dir)
        return true
    }

    /// The text compared for exact duplicates: NFKC, every whitespace run (Python's `str.split`) one space.
    public static func exactText(_ text: String) -> String { String(decoding: exactBytes(text), as: UTF8.self) }

    /// The exact-duplicate key of `text`: SHA-256 (hex) of `exactText`'s UTF-8.
    static func exactKey(_ text: String) -> String { Hashing.sha256(exactBytes(text)) }

    /// `exactText` as UTF-8 bytes, built without intermediate strings (ASCII text, its own NFKC, byte by byte).
    static func exactBytes(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var pending = false
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            for b in text.utf8 {
                if SimplifiedText.isSpace(UInt32(b)) { pending = !out.isEmpty; continue }
                if pending { out.append(0x20); pending = false }
                out.append(b)
            }
            return out
        }
        func append(_ c: UInt32) {
            if SimplifiedText.isSpace(c) { pending = !out.isEmpty; return }
            if pending { out.append(0x20); pending = false }
            SimplifiedText.appendUTF8(c, to: &out)
        }
        // NFKC piece by piece: ASCII alone is its own NFKC; each run of non-ASCII code points is normalised
        // together with the ASCII character before it (the starter a mark of the run may compose with). Exact:
        // marks never reorder across a starter, every ASCII character is one, and no composition has an ASCII
        // second element.
        let scalars = text.unicodeScalars.map(\.value)
        var i = 0
        while i < scalars.count {
            var j = i
            while j < scalars.count && scalars[j] < 0x80 { j += 1 }
            guard j < scalars.count else {
                for k in i..<j { append(scalars[k]) }
                break
            }
            let start = j > i ? j - 1 : j   // the ASCII starter before the run, if any
            for k in i..<start { append(scalars[k]) }
            var e = j + 1
            while e < scalars.count && scalars[e] >= 0x80 { e += 1 }
            for c in NormalizationCache.nfkc.get(scalars[start..<e], { run in
                String(NormalizationCache.string(run)).precomposedStringWithCompatibilityMapping.unicodeScalars
                    .map(\.value)
            }) { append(c) }
            i = e
        }
        return out
    }

    /// `text` with every whitespace run (Python's `str.split`) one space and none at either end; at most `limit`
    /// code points (the excerpts: only as much of the text is read).
    static func collapsed(_ text: String, limit: Int = .max) -> String {
        var out = String.UnicodeScalarView()
        var count = 0, pending = false
        for s in text.unicodeScalars {
            if SimplifiedText.isSpace(s.value) {
                pending = count > 0
                continue
            }
            if pending {
                guard count + 1 < limit else { break }
                out.append(" "); count += 1; pending = false
            }
            out.append(s); count += 1
            if count >= limit { break }
        }
        return String(out)
    }

    /// The share of equal hashes in two signatures.
    static func estimate(_ x: [UInt64], _ y: [UInt64]) -> Double {
        Double(zip(x, y).filter { $0 == $1 }.count) / Double(x.count)
    }

    static func jaccardOf(_ x: Set<UInt64>, _ y: Set<UInt64>) -> Double {
        let union = x.union(y).count
        return union == 0 ? 0 : Double(x.intersection(y).count) / Double(union)
    }

    static func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

    /// Calls `body(page, isNewUnit)` for each page of `path`, checking that a document's pages are consecutive;
    /// `isNewUnit(level)` says whether the page starts a unit at that level.
    static func forEachPage(_ path: String,
                            _ body: (PageRecord, (Level) -> Bool) throws -> Void) throws {
        var seen = Set<DocKey>()
        var last: DocKey? = nil
        try JSONLReader.forEach(Lenient<PageRecord>.self, path: path) { lenient, line in
            let page = lenient.record
            let doc = DocKey(id: page.docID, isInteger: page.docIDIsInteger)
            let newDoc = doc != last
            if newDoc {
                guard seen.insert(doc).inserted else {
                    throw DedupError.badRecord(path: path, line: line,
                                               reason: "pages of document \(doc.id) are not consecutive")
                }
                last = doc
            }
            try body(page, { $0 == .page || newDoc })
        }
    }

    /// Calls `body(unit, text)` for each unit of `path` at `level`, in input order.
    static func forEachUnit(_ path: String, level: Level, _ body: (Unit, String) throws -> Void) throws {
        var current: (unit: Unit, pages: [String])? = nil
        try forEachPage(path) { page, isNew in
            if isNew(level) {
                if let c = current { try body(c.unit, c.pages.joined(separator: "\n")) }
                let unit = Unit(docID: page.docID, isInteger: page.docIDIsInteger, source: page.source,
                                page: level == .page ? page.page : nil,
                                excerpt: collapsed(page.text, limit: excerptLength))
                current = (unit, [page.text])
            } else {
                current!.pages.append(page.text)
            }
        }
        if let c = current { try body(c.unit, c.pages.joined(separator: "\n")) }
    }
}
