import Foundation

/// One record of `dedup/clusters.jsonl.zst`: a set of duplicate units (documents, or pages with `--level page`),
/// the one kept and the ones removed. Written by the dedup stage, read by the report.
public struct DuplicateCluster: Codable, Equatable, Sendable {
    /// `exact` (the same normalised text) or `near` (MinHash LSH).
    public var kind: String
    /// The unit kept: the first in input order (exact), datatrove's cluster root (near).
    public var kept: Member
    /// The units removed, in input order.
    public var removed: [Member]

    /// A cluster of these values.
    public init(kind: String, kept: Member, removed: [Member]) {
        self.kind = kind; self.kept = kept; self.removed = removed
    }

    /// One unit of a cluster.
    public struct Member: Codable, Equatable, Sendable {
        /// The document's id (as in `pages.jsonl.zst`).
        public var docID: String
        /// The document's source.
        public var source: String
        /// The page (0-based) with `--level page`; null for documents.
        public var page: Int?
        /// For a removed unit: the share of equal MinHash values with the kept one (1 for exact duplicates).
        public var estimatedJaccard: Double?
        /// For a removed unit: the Jaccard similarity of its shingle set with the kept one's.
        public var jaccard: Double?
        /// The first characters of the unit's text.
        public var excerpt: String

        enum CodingKeys: String, CodingKey {
            case docID = "doc_id", source, page, estimatedJaccard = "estimated_jaccard", jaccard, excerpt
        }

        /// A member of these values.
        public init(docID: String, source: String, page: Int?, estimatedJaccard: Double?, jaccard: Double?,
                    excerpt: String) {
            self.docID = docID; self.source = source; self.page = page
            self.estimatedJaccard = estimatedJaccard; self.jaccard = jaccard; self.excerpt = excerpt
        }

        /// Every field is written, null included.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(docID, forKey: .docID)
            try c.encode(source, forKey: .source)
            try c.encode(page, forKey: .page)
            try c.encode(estimatedJaccard, forKey: .estimatedJaccard)
            try c.encode(jaccard, forKey: .jaccard)
            try c.encode(excerpt, forKey: .excerpt)
        }
    }
}

/// One line of `dedup/shards/I-of-N/signatures.jsonl.zst`: what a dedup shard computed for one unit it owns (the
/// units of its `Shard.blockSize` blocks, in input order). The merge reads the shards' lines back in unit order
/// and does the rest (exact keys, LSH buckets, clusters, outputs), as the unsharded stage does.
public struct UnitSignature: Codable, Equatable, Sendable {
    /// The unit's 0-based position in the input (documents, or pages with `--level page`).
    public var unit: Int
    /// SHA-256 (hex) of the unit's exact-duplicate text (NFKC, whitespace runs made one space).
    public var key: String
    /// The unit's 112 MinHash values; null when the unit has fewer than 5 words, or repeats the key of an earlier
    /// unit of the same shard (an exact duplicate, never signed).
    public var signature: [UInt64]?

    /// A record of these values.
    public init(unit: Int, key: String, signature: [UInt64]?) {
        self.unit = unit; self.key = key; self.signature = signature
    }

    /// Every field is written, null included.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(unit, forKey: .unit)
        try c.encode(key, forKey: .key)
        try c.encode(signature, forKey: .signature)
    }
}
