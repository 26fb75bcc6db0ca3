import Core
import Foundation

/// The embedder of an index's queries: always the index's own model — the folder its stage recorded in its manifest
/// (wherever the command runs from), or `model` — loaded on first use and checked against the index by sha256.
public final class QueryEmbedder {
    /// The index the queries are for.
    public let index: SearchIndex
    /// The embedding model folder queries are embedded with.
    public let folder: String
    private var embedder: SentenceEmbedder?

    /// `model` overrides the folder the index stage recorded in `work`.
    public init(index: SearchIndex, work: Workdir, model: String?) {
        self.index = index
        let recorded = work.manifest(IndexBuilder.stage)?.inputs.map(\.path)
            .first { $0.hasSuffix("/model.safetensors") }
            .map { ($0 as NSString).deletingLastPathComponent }
        folder = model ?? recorded ?? "models/all-MiniLM-L6-v2"
    }

    /// The query's unit vector.
    public func embed(_ text: String) throws -> [Float] {
        if embedder == nil {
            let sha = try Hashing.sha256(path: folder + "/model.safetensors")
            guard sha == index.meta["model_sha256"] else {
                let built = "\(index.meta["model"] ?? "?"), sha256 \(index.meta["model_sha256"] ?? "?")"
                throw IndexError.search("\(folder): not the model the index was built with (\(built))")
            }
            embedder = try SentenceEmbedder(folder: folder)
        }
        return embedder!.embed([text])
    }
}
