import ArgumentParser
import Core
import Foundation
import Index

/// `pipeline bench`: timings the benchmark scripts read (hidden: not part of the product's commands).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Developer timings for Benchmarks/ (embedding, dense search).",
        shouldDisplay: false,
        subcommands: [BenchEmbed.self, BenchDense.self, BenchSHA256.self])
}

/// `pipeline bench sha256 FILE`: the manifests' file hashing (system libcrypto), best of three passes.
struct BenchSHA256: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sha256", abstract: "Hash a file as the manifests do; print the digest and MB/s as JSON.")

    @Argument(help: ArgumentHelp("The file.", valueName: "file"))
    var file: String

    func run() throws {
        let bytes = Double(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? 0)
        var best = Double.infinity, digest = ""
        for _ in 0..<3 {
            let t = DispatchTime.now().uptimeNanoseconds
            digest = try Hashing.sha256(path: file)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        }
        print(String(format: "{\"sha256\": \"%@\", \"bytes\": %.0f, \"seconds\": %.4f, \"MBps\": %.1f}",
                     digest, bytes, best, bytes / best / 1e6))
    }
}

/// `pipeline bench embed FILE`: model load, tokenisation and encoding of every text of a chunks file, timed apart.
struct BenchEmbed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "Embed the texts of a chunks file; print the seconds as JSON.")

    @Argument(help: ArgumentHelp("A chunks.jsonl(.zst) file.", valueName: "file"))
    var file: String
    @Option(name: .long, help: ArgumentHelp("Sentence-transformers model folder.", valueName: "dir"))
    var model = "models/all-MiniLM-L6-v2"
    @Option(name: .long, help: ArgumentHelp("Write the vectors here (float32 LE).", valueName: "file"))
    var vectorsOut: String?

    func run() throws { try embedBenchmark(file) }
}

/// `pipeline bench dense N`: exact dense top-k latency over N random 384-d vectors against memcpy.
struct BenchDense: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dense", abstract: "Dense top-k latency over N random 384-d vectors vs memcpy, as JSON.")

    @Argument(help: ArgumentHelp("Vectors.", valueName: "n"))
    var rows: Int
    @Option(name: .short, help: "Number of results.")
    var k = 4

    func run() throws { denseBenchmark(rows: rows) }
}

extension BenchEmbed {
    /// `--embed-only`: model load, tokenisation and encoding of every text of a chunks file, timed apart.
    func embedBenchmark(_ file: String) throws {
        let t0 = Date()
        let embedder = try SentenceEmbedder(folder: model)
        let texts = try JSONLReader.readAll(ChunkRecord.self, path: file).map(\.text)
        let t1 = Date()
        let vecs = embedder.embed(texts)
        let t2 = Date()
        let tokens = texts.reduce(0) { $0 + embedder.encode($1).count }
        if let out = vectorsOut {
            try FileSystem.atomicWrite(vecs.withUnsafeBytes { Array($0) }, to: out)
        }
        print(String(format: "{\"texts\": %d, \"tokens\": %d, \"load_seconds\": %.4f, \"embed_seconds\": %.4f}",
                     texts.count, tokens, t1.timeIntervalSince(t0), t2.timeIntervalSince(t1)))
    }
}

extension BenchDense {
    /// `--bench-dense N`: median latency of an exact dense top-k over N unit vectors (in memory), against the time
    /// memcpy needs to read the same bytes (best of several copies of a same-size buffer).
    func denseBenchmark(rows: Int) {
        let dim = 384, count = rows * dim
        let m = UnsafeMutablePointer<Float>.allocate(capacity: count); defer { m.deallocate() }
        let dst = UnsafeMutablePointer<Float>.allocate(capacity: count); defer { dst.deallocate() }
        var state: UInt64 = 0x9E3779B97F4A7C15
        for i in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            m[i] = Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: rows); defer { scores.deallocate() }
        func seconds(_ body: () -> Void) -> Double {
            let t = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
        }
        var copies: [Double] = []
        for _ in 0..<15 { copies.append(seconds { dst.update(from: m, count: count) }) }
        var searches: [Double] = []
        for q in 0..<31 {
            let query = Array(UnsafeBufferPointer(start: m + (q * 7919 % rows) * dim, count: dim))
            searches.append(seconds {
                _ = SearchIndex.denseTopK(matrix: m, rows: rows, dim: dim, query: query, k: k, scratch: scores)
            })
        }
        copies.sort(); searches.sort()
        let bytes = Double(count * 4)
        // memcpy reads and writes every byte; its read bandwidth is bytes / time (the write is overlapped).
        let memcpyBW = bytes / copies[0]
        let searchBW = bytes / searches[searches.count / 2]
        print(String(format: "{\"rows\": %d, \"bytes\": %.0f, \"search_ms_median\": %.3f, \"memcpy_ms_best\": %.3f, "
                     + "\"search_GBps\": %.2f, \"memcpy_GBps\": %.2f, \"fraction_of_memcpy\": %.3f}",
                     rows, bytes, searches[searches.count / 2] * 1e3, copies[0] * 1e3, searchBW / 1e9, memcpyBW / 1e9,
                     searchBW / memcpyBW))
    }
}
