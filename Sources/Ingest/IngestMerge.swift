import Core
import Foundation

extension IngestStage {
    /// A shard's file of corpus bytes per document (its documents' order; 0 for a document with no text).
    static let extentsName = "corpus_extents.json"

    /// The stage's outputs from its `shards` shards, byte-identical to `run`'s: the documents in input (path)
    /// order, each taken from the shard that holds its file, with its pages, and the corpus with a blank line
    /// between documents. Up to date like `run`. An error names the first shard that is missing, stale, or does
    /// not hold the files the inputs are now.
    public static func merge(workdir: Workdir, options o: Options, shards: Int) throws -> Outcome {
        let inputs = try validInputs(o)
        let params = parameters(o)
        var owner: [String: Int] = [:]
        var dirs: [String] = []
        for i in 0..<shards {
            let shard = try Shard(index: i, count: shards)
            let name = Workdir.shardStage(stage, shard)
            guard let m = workdir.manifest(name) else {
                throw IngestError.usage("ingest: shard \(shard) has not run (no \(workdir.manifestPath(name)))")
            }
            var p = params
            p["shard"] = shard.description
            // The shard's own inputs, as recorded, must be unchanged (each is hashed again).
            let state = m.freshness(stageDir: workdir.stageDir(name), parameters: p, verify: Workdir.verifyOutputs)
            guard state == .upToDate else {
                throw IngestError.usage("ingest: shard \(shard) is \(state.label); run it again")
            }
            for r in m.inputs {
                guard shard.owns(sha256: r.sha256), owner.updateValue(i, forKey: r.path) == nil else {
                    throw IngestError.usage("ingest: shard \(shard) holds \(r.path), which is not its file; "
                                            + "run it again")
                }
            }
            dirs.append(workdir.stageDir(name))
        }
        if let lost = inputs.first(where: { owner[$0] == nil }) ?? (owner.count == inputs.count ? nil : "") {
            let what = lost.isEmpty ? "a file that is no longer an input" : lost + ", which no shard holds"
            throw IngestError.usage("ingest: the shards are stale (they ingested \(what)); run them again")
        }
        var outcome = Outcome(ran: false, outputDir: workdir.stageDir(stage))
        let retry = (workdir.manifest(stage)?.records["retry"] ?? 0) > 0
        guard let run = try StageRun.begin(workdir: workdir, stage: stage, inputs: inputs, parameters: params,
                                           force: o.force || retry) else { return outcome }
        outcome.ran = true

        let docsIn = try dirs.map { try LineReader(path: $0 + "/documents.jsonl.zst") }
        let pagesIn = try dirs.map { try LineReader(path: $0 + "/pages.jsonl.zst") }
        let corpusIn = try dirs.map { try LineReader(path: $0 + "/corpus.txt.zst") }
        let extents = try dirs.map { dir -> [Int] in
            let p = dir + "/" + extentsName
            do { return try JSONDecoder().decode([Int].self, from: Data(try ByteReader(path: p).readAll())) } catch {
                throw CoreError.badRecord(path: p, line: 1, reason: "unreadable corpus extents: \(error)")
            }
        }
        var taken = [Int](repeating: 0, count: shards)
        let docsOut = try ZstdWriter(path: run.output("documents.jsonl.zst"))
        let pagesOut = try ZstdWriter(path: run.output("pages.jsonl.zst"))
        let corpus = try ZstdWriter(path: run.output("corpus.txt.zst"))
        var corpusDocs = 0
        for path in inputs {
            let i = owner[path]!
            guard let line = try docsIn[i].next(), taken[i] < extents[i].count else {
                throw CoreError.truncated(path: docsIn[i].path)
            }
            let doc: DocumentRecord
            do { doc = try JSONDecoder().decode(DocumentRecord.self, from: Data(line)) } catch {
                throw CoreError.badRecord(path: docsIn[i].path, line: taken[i] + 1,
                                          reason: JSONLReader.describe(error))
            }
            guard doc.source == path else {
                throw CoreError.badRecord(path: docsIn[i].path, line: taken[i] + 1,
                                          reason: "document \(doc.source) where \(path) was expected")
            }
            try docsOut.write(line)
            for _ in 0..<(doc.status == "ok" ? doc.pages : 0) {
                guard let page = try pagesIn[i].next() else { throw CoreError.truncated(path: pagesIn[i].path) }
                try pagesOut.write(page)
            }
            let bytes = extents[i][taken[i]]
            taken[i] += 1
            if bytes > 0 {
                if corpusDocs > 0 { try corpus.write("\n") }
                try corpus.write(try corpusIn[i].next(bytes: bytes))
                corpusDocs += 1
            }
            outcome.documents += 1
            if doc.status == "ok" { outcome.pages += doc.pages }
            if doc.isDuplicate { outcome.duplicates += 1 }
            if doc.status == "skipped" {
                outcome.skipped += 1
                outcome.skippedInputs.append(.init(input: doc.source, reason: doc.error ?? "unknown reason"))
                if doc.isTransient { outcome.transient += 1 }
            }
        }
        try docsOut.close()
        try pagesOut.close()
        try corpus.close()
        run.records = ["documents": outcome.documents, "pages": outcome.pages, "skipped": outcome.skipped,
                       "retry": outcome.transient]
        if outcome.duplicates > 0 { run.records["duplicates"] = outcome.duplicates }
        try run.commit()
        return outcome
    }
}
