import ArgumentParser
import Core
import Foundation

extension DedupStage.Level: ExpressibleByArgument {}

/// `pipeline dedup`: exact and MinHash near-duplicate removal between ingest and the stages that read its text.
extension DedupStage: ShardedStage {
    /// The options of `pipeline dedup` and the keys of `[dedup]`.
    public struct Arguments: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("Compare whole documents (document) or single pages (page).",
                                                 valueName: "level"))
        public var level: DedupStage.Level = .document

        @Option(name: .long, help: ArgumentHelp(
            "Drop LSH candidate pairs whose estimated Jaccard (share of equal MinHash values) is below this; 0 "
            + "(default) keeps every pair, as datatrove. The LSH's own effective threshold, (1/14)^(1/8), is "
            + String(format: "%.3f", MinHash().threshold) + ".", valueName: "jaccard"), transform: Finite.double)
        public var threshold: Double = 0

        @Option(name: .long, help: ArgumentHelp(
            "true: run the stage; false (enabled = false in [dedup]) removes its folder instead, so that "
            + "bpe-train, tokenize, chunk and index read ingest's files.", valueName: "true|false"))
        public var enabled = true

        /// The defaults.
        public init() {}

        /// Rejects a threshold outside 0...1.
        public func validate() throws {
            if !(0...1).contains(threshold) { throw ValidationError("--threshold must be between 0 and 1") }
        }
    }

    public static let abstract = "Remove exact and near-duplicate documents (MinHash LSH, as datatrove) after ingest."
    public static let discussion = """
        Reads <workdir>/ingest/pages.jsonl.zst and documents.jsonl.zst and writes pages.jsonl.zst, \
        documents.jsonl.zst and corpus.txt.zst to <workdir>/dedup in ingest's formats, without the removed \
        documents (or pages, with --level page), and clusters.jsonl.zst: one line per cluster of duplicates \
        (kind exact or near, the unit kept, the units removed with their estimated and exact Jaccard and an \
        excerpt). Once it has run, bpe-train, tokenize (default corpus), chunk and index read dedup/ instead of \
        ingest/. A removed document stays in documents.jsonl.zst with status "duplicate", duplicate_of naming \
        the kept one's source, 0 pages.

        Exact: a unit's text (a document's pages joined by "\\n") in NFKC with every whitespace run made one \
        space, case kept; of equal texts the first in input order is kept.

        Near: datatrove's MinHash deduplication with its MinhashConfig defaults (datatrove 0.10): its \
        simplify_text (lower case, numbers → 0, punctuation → space, whitespace collapsed, diacritics removed), \
        spaCy's English words, 5-word shingles hashed with XXH64, 14 buckets × 8 hashes with its permutation \
        parameters (numpy RandomState(1)), pairs of equal bucket signatures, union-find clusters, the root of \
        each cluster kept (datatrove's rule: the larger set's root; on a tie the earlier unit of the pair). \
        Units with fewer than 5 words have no signature and are never near duplicates. Signatures and removals \
        are bit-identical to datatrove's MinhashDedupSignature/Buckets/Cluster/Filter on the same documents.

        Memory: one 112-hash signature per unit; time linear in the text.

        With shards (as datatrove: signatures per task, buckets merged), shard I of N computes the exact keys and \
        signatures of the units of its blocks (64 consecutive units per block, block b in shard b % N) into \
        dedup/shards/I-of-N/signatures.jsonl.zst; the merge reads them back in unit order and does the buckets, \
        clusters and outputs, byte-identical to a run without shards.
        """

    /// Nothing to deduplicate when the run ingests nothing.
    public static func notNeeded(inputs: RunInputs) -> String? {
        inputs.pdfs.isEmpty ? "no [inputs] pdfs: nothing ingested to deduplicate" : nil
    }

    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        guard a.enabled else { return off(context) }
        return result(try run(workdir: context.workdir, level: a.level, threshold: a.threshold,
                              force: context.force))
    }

    /// Shard I of N: the exact keys and MinHash signatures of its blocks' units (the merge does the rest).
    public static func runShard(_ a: Arguments, shard: Shard, in context: StageContext) throws -> StageResult {
        let what = "dedup shard \(shard)"
        guard a.enabled else {
            return StageResult(stage: what, status: .upToDate, lines: ["\(what): off (the merge removes the folder)"])
        }
        let o = try runShard(workdir: context.workdir, level: a.level, shard: shard, force: context.force)
        guard o.ran else { return StageResult(stage: what, status: .upToDate) }
        return StageResult(stage: what, status: .ran, lines: [
            "\(what): \(o.units) \(a.level == .page ? "pages" : "documents"), \(o.signed) signed → \(o.outputDir)",
        ])
    }

    /// The stage's outputs from the shards' signatures: buckets, clusters and the filtered files.
    public static func merge(_ a: Arguments, shards: Int, in context: StageContext) throws -> StageResult {
        guard a.enabled else { return off(context) }
        return result(try merge(workdir: context.workdir, level: a.level, threshold: a.threshold, shards: shards,
                                force: context.force))
    }

    /// The stage switched off: its folder removed, so the text readers take ingest's files.
    static func off(_ context: StageContext) -> StageResult {
        let removed = disable(workdir: context.workdir)
        return StageResult(stage: name, status: removed ? .ran : .upToDate, lines: [
            "dedup: off" + (removed ? " (removed \(context.workdir.stageDir(name)))" : "")
                + "; bpe-train, tokenize, chunk and index read ingest",
        ])
    }

    static func result(_ o: Outcome) -> StageResult {
        guard o.ran else { return upToDate }
        let what = o.level == .page ? "pages" : "documents"
        func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)" + (n == 1 ? "" : "s") }
        return StageResult(stage: name, status: .ran, lines: [
            "dedup: \(o.units) \(what) → \(o.exact) exact and \(count(o.near, "near duplicate")) removed "
                + "(\(count(o.clusters, "cluster"))), \(o.units - o.removed) kept → \(o.outputDir)",
        ])
    }
}
