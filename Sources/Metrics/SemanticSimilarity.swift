/// A sentence-embedding model as the semantic-similarity metric sees it: a name and a function from texts to
/// their vectors (row-major, `dimension` floats each). The model lives outside this module (the CLI passes the
/// index's MiniLM embedder); the metric only compares vectors.
public struct SentenceEmbedding: Sendable {
    /// The model's name.
    public let name: String
    /// Length of the vectors.
    public let dimension: Int
    /// The texts' vectors, row-major.
    public let embed: @Sendable ([String]) -> [Float]

    /// A model called `name` whose `embed` returns `dimension` floats per text.
    public init(name: String, dimension: Int, embed: @escaping @Sendable ([String]) -> [Float]) {
        self.name = name
        self.dimension = dimension
        self.embed = embed
    }
}

/// Semantic similarity: the cosine of the prediction's and a reference's sentence embeddings (sentence-transformers'
/// `util.cos_sim` of `model.encode` vectors), the best over the references.
public enum SemanticSimilarity {
    /// Each item's best cosine over its references.
    public static func scores(_ items: [ScoreItem], with model: SentenceEmbedding) -> [Double] {
        var texts: [String] = []
        for item in items { texts.append(item.prediction); texts += item.references }
        let vectors = model.embed(texts)
        let d = model.dimension
        precondition(vectors.count == texts.count * d, "the embedding model returned the wrong number of floats")
        var row = 0
        return items.map { item in
            let p = row
            row += 1
            var best = -Double.infinity
            for _ in item.references {
                best = max(best, vectors.withUnsafeBufferPointer { cosine($0, p * d, row * d, d) })
                row += 1
            }
            return best
        }
    }

    /// The cosine of two rows of `v` (0 when either is all zeros), accumulated in Double.
    static func cosine(_ v: UnsafeBufferPointer<Float>, _ a: Int, _ b: Int, _ d: Int) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for k in 0..<d {
            let x = Double(v[a + k]), y = Double(v[b + k])
            dot += x * y
            na += x * x
            nb += y * y
        }
        return na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : 0
    }
}
