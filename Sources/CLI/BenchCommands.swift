import ArgumentParser
import Core
import Foundation
import Index
import Train

/// `pipeline bench`: timings the benchmark scripts read (hidden: not part of the product's commands).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Developer timings for Benchmarks/ (embedding, dense search, hardware limits, bounds).",
        shouldDisplay: false,
        subcommands: [BenchEmbed.self, BenchDense.self, BenchSHA256.self, BenchPeak.self, BenchBound.self])
}

/// `pipeline bench peak`: the system OpenBLAS's sgemm GFLOP/s and the read bandwidth, as JSON.
struct BenchPeak: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peak", abstract: "Measure sgemm GFLOP/s (system OpenBLAS) and read bandwidth; print JSON.")

    @Option(help: "Threads (OpenBLAS and the bandwidth readers).") var threads = 2
    @Option(help: "Side of the square sgemm.") var size = 2048

    func run() throws {
        print(String(decoding: try JSON.encode(HardwareProbe.measure(threads: threads, sgemmSize: size)), as: UTF8.self))
    }
}

/// `pipeline bench bound`: a benchmark row's FLOPs and bytes (Core's `Cost`), the time the measured limits allow,
/// and the fraction a measured time achieves, as JSON.
struct BenchBound: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bound",
        abstract: "FLOPs, bytes, hardware bound and achieved fraction of one benchmark row, as JSON.",
        discussion: """
        --work train: one pretraining step of --batch x --seq; lora: one LoRA step (--rank, --adapted matrices per \
        block, --head-tokens through the LM head per step, default all); generate: --batch sequences, --prompt \
        tokens prefilled, --new-tokens generated; decode: one decoding step at context --seq; grpo: one GRPO step \
        of --batch completions (--prompt and --new-tokens; the LoRA policy; --reference adds the reference pass). \
        --adapted counts an adapted matrix by (in + out) / (2 x width): c_attn is 2. --shape is tiny, small or gpt2 \
        (with --vocab) or a config.json (GPT-2 or BERT).
        """)

    enum Work: String, ExpressibleByArgument, CaseIterable { case train, lora, generate, decode, grpo }

    @Option(help: "tiny, small, gpt2, or a config.json path.") var shape: String
    @Option(help: "Vocabulary of a named shape.") var vocab = 50257
    @Option(help: "train, lora, generate, decode or grpo.") var work: Work
    @Option var batch = 1
    @Option(help: "Sequence length (train, lora) or context (decode).") var seq = 1
    @Option(help: "Prompt tokens (generate).") var prompt = 1
    @Option(name: .customLong("new-tokens"), help: "New tokens (generate).") var newTokens = 1
    @Option(help: "LoRA rank.") var rank = 8
    @Option(help: "LoRA-adapted width×width matrices per block.") var adapted = 2
    @Option(name: .customLong("head-tokens"), help: "Tokens through the LM head per step (lora; default all).")
    var headTokens: Int?
    @Flag(help: "grpo: with the reference model's pass (beta > 0).") var reference = false
    @Option(help: "Measured seconds of the work (0: print the bound only).") var seconds = 0.0
    @Option(help: "Measured sgemm GFLOP/s (bench peak).") var gflops: Double
    @Option(name: .customLong("gbs"), help: "Measured read bandwidth GB/s (bench peak).") var gbs: Double

    func run() throws {
        let s: TransformerShape
        if let c = GPT2Config.named(shape, vocabSize: vocab) { s = c.shape } else {
            s = try TransformerShape(configJSON: shape)
        }
        let (flops, bytes): (Double, Double)
        switch work {
        case .train: (flops, bytes) = (Cost.trainStep(s, batch: batch, seq: seq), Cost.trainStepBytes(s))
        case .lora:
            flops = Cost.loraStep(s, batch: batch, seq: seq, rank: rank, adaptedPerLayer: adapted,
                                  headTokens: headTokens)
            bytes = Cost.loraStepBytes(s)
        case .generate: (flops, bytes) = Cost.generate(s, batch: batch, prompt: prompt, newTokens: newTokens)
        case .decode: (flops, bytes) = (Cost.decodeStep(s, batch: batch, context: seq),
                                        Cost.decodeStepBytes(s, batch: batch, context: seq))
        case .grpo:
            (flops, bytes) = Cost.grpoStep(s, completions: batch, prompt: prompt, completion: newTokens, rank: rank,
                                           adaptedPerLayer: adapted, reference: reference)
        }
        let roof = Roofline(flopsPerSecond: gflops * 1e9, bytesPerSecond: gbs * 1e9)
        let bound = roof.bound(flops: flops, bytes: bytes)
        var out: [String: Any] = ["flops": flops, "bytes": bytes, "bound_seconds": bound,
                                  "limit": roof.limit(flops: flops, bytes: bytes)]
        if seconds > 0 { out["seconds"] = seconds; out["fraction"] = bound / seconds }
        let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
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
        let lengths = texts.map { embedder.encode($0).count }
        if let out = vectorsOut {
            try FileSystem.atomicWrite(vecs.withUnsafeBytes { Array($0) }, to: out)
        }
        // The encoder's FLOPs without padding (Core's Cost), for the bound the benchmark prints.
        let flops = Cost.encode(try TransformerShape(configJSON: model + "/config.json"), lengths: lengths)
        print(String(format: "{\"texts\": %d, \"tokens\": %d, \"flops\": %.0f, \"load_seconds\": %.4f, "
                     + "\"embed_seconds\": %.4f}", texts.count, lengths.reduce(0, +), flops,
                     t1.timeIntervalSince(t0), t2.timeIntervalSince(t1)))
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
