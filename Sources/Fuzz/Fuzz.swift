import Core
import Foundation
import Index
import Ingest
import Tokenize
import Train

/// The parsers of untrusted bytes that `make fuzz` runs under libFuzzer, by the name `FUZZ_TARGET` selects.
/// Each takes one input and may throw or return; a trap, an overflow or an unbounded allocation is a finding.
enum FuzzTarget: String, CaseIterable {
    case safetensorsIndex = "safetensors-index"
    case safetensorsTrain = "safetensors-train"
    case tokenizerJSON = "tokenizer-json"
    case jsonl
    case workerProtocol = "worker-protocol"

    /// Runs the target on one input.
    func run(_ bytes: [UInt8]) {
        switch self {
        case .safetensorsIndex: Self.safetensorsIndex(bytes)
        case .safetensorsTrain: Self.safetensorsTrain(bytes)
        case .tokenizerJSON: Self.tokenizerJSON(bytes)
        case .jsonl: Self.jsonl(bytes)
        case .workerProtocol: Self.workerProtocol(bytes)
        }
    }

    /// A private folder for the inputs the path-based readers take (one per process, removed at exit).
    static let scratch: String = {
        let dir = NSTemporaryDirectory() + "/pipeline-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: FuzzTarget.scratch) }
        return dir
    }()

    /// Writes `bytes` to the scratch file `name` and returns its path.
    static func file(_ name: String, _ bytes: [UInt8]) -> String {
        let path = scratch + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// The on-demand reader (Index's embedder uses it) on the input as a file and on the well-formed file
    /// `Structured` builds from it: the header, then every tensor as Floats.
    static func safetensorsIndex(_ bytes: [UInt8]) {
        for input in [bytes, Structured.safetensors(from: bytes)] {
            guard let st = try? Core.SafeTensors(path: file("index.safetensors", input)) else { continue }
            for name in st.entries.keys.sorted() { _ = try? st.floats(name) }
        }
    }

    /// The whole-file and streaming readers (Train's checkpoints use them), on the input and on the file
    /// `Structured` builds from it.
    static func safetensorsTrain(_ bytes: [UInt8]) {
        safetensorsTrainOne(bytes)
        safetensorsTrainOne(Structured.safetensors(from: bytes))
    }

    /// The in-memory parser and the streaming one (into a scratch buffer bounded by the input).
    static func safetensorsTrainOne(_ bytes: [UInt8]) {
        _ = try? Core.SafeTensors.parse(bytes, path: "fuzz")
        let limit = bytes.count
        var scratch: [UnsafeMutablePointer<Float>] = []
        defer { scratch.forEach { $0.deallocate() } }
        _ = try? Core.SafeTensors.stream(path: file("train.safetensors", bytes)) { _, shape in
            // The caller's buffer has exactly shape's elements; a shape larger than the input cannot be filled.
            var count = 1
            for d in shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                if o || p < 0 || p > limit { return nil }
                count = p
            }
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            scratch.append(p)
            return p
        }
    }

    /// A tokenizer.json (the input, and the well-formed one `Structured` builds from it), then an encode and
    /// decode with it.
    static func tokenizerJSON(_ bytes: [UInt8]) {
        for input in [bytes, Structured.tokenizerJSON(from: bytes)] {
            guard let t = try? BPETokenizer(tokenizerJSON: file("tokenizer.json", input)) else { continue }
            let text = "Hello, world! It's 2024 \u{00e9}t\u{00e9} <pad> <s>\n\n  x ab"
            for special in [false, true] {
                let ids = t.encode(text, allowSpecial: special)
                _ = t.decode(ids)
            }
        }
    }

    /// One line of the JSON Lines files the stages read.
    struct Record: Decodable {
        var doc_id: String?
        var page: Int?
        var text: String?
    }

    /// The JSON Lines reader on the input as it is (plain, or zstd when it starts with the magic), and the line
    /// splitter on its zstd compression, which must give the same lines as the plain input.
    static func jsonl(_ bytes: [UInt8]) {
        let plain = file("input.jsonl", bytes)
        _ = try? JSONLReader.forEach(Record.self, path: plain) { _, _ in }
        guard let direct = try? lines(plain) else { return }
        guard !(bytes.starts(with: [0x28, 0xB5, 0x2F, 0xFD])) else { return }
        let compressed = file("input.jsonl.zst", Zstd.compress(bytes))
        guard let viaZstd = try? lines(compressed), viaZstd == direct else {
            fatalError("the lines of a zstd stream differ from the lines of its content")
        }
    }

    static func lines(_ path: String) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        try ByteReader(path: path).forEachLine { line, _ in out.append(Array(line)) }
        return out
    }

    /// The parent's side of the worker protocol: the input is the worker's output stream, cut into frames and
    /// decoded as answers; a decoded answer must survive a round trip. Each frame is also tried as a request.
    static func workerProtocol(_ bytes: [UInt8]) {
        var buffer: [UInt8] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            // Arrives in pieces of up to 64 KiB, as the parent reads them.
            let piece = rest.prefix(1 << 16)
            rest = rest.dropFirst(piece.count)
            buffer.append(contentsOf: piece)
            while true {
                let length: Int?
                do { length = try WorkerMessage.frameLength(buffer) } catch { return }
                guard let len = length else { break }
                let body = Array(buffer[4..<len])
                buffer.removeFirst(len)
                if let response = try? WorkerMessage.decodeResponse(body) {
                    let again = WorkerMessage.encode(response)
                    guard let back = try? WorkerMessage.decodeResponse(Array(again[4...])), back == response else {
                        fatalError("a decoded worker answer does not survive encode + decode")
                    }
                }
                if let request = try? WorkerMessage.decodeRequest(body) {
                    let again = WorkerMessage.encode(request)
                    guard let back = try? WorkerMessage.decodeRequest(Array(again[4...])), back == request else {
                        fatalError("a decoded worker request does not survive encode + decode")
                    }
                }
            }
        }
    }
}

/// Well-formed files whose numbers come from the fuzzer's bytes: random bytes rarely make valid JSON, so the
/// checks behind the JSON parser (sizes, offsets, ids) are reached through these.
struct Structured {
    var bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func safetensors(from bytes: [UInt8]) -> [UInt8] { var s = Structured(bytes); return s.safetensors() }
    static func tokenizerJSON(from bytes: [UInt8]) -> [UInt8] { var s = Structured(bytes); return s.tokenizerJSON() }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A number: small most of the time, else one of the edges of Int or 8 raw bytes.
    mutating func number() -> Int64 {
        let b = byte()
        switch b {
        case 0..<160: return Int64(b % 10)
        case 160..<192: return [Int64.max, Int64.min, -1, 1 << 32, 1 << 40, 1 << 62, 1 << 24, 1 << 31][Int(b % 8)]
        default:
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(byte()) << (8 * UInt64(i)) }
            return Int64(bitPattern: v)
        }
    }

    /// Up to 3 tensors with fuzzed dtype, shape and offsets, then the rest of the input as data.
    mutating func safetensors() -> [UInt8] {
        let dtypes = ["F32", "F16", "BF16", "I64", "U8", "Q4"]
        var entries: [String] = []
        for t in 0..<Int(byte() % 4) {
            let dtype = dtypes[Int(byte()) % dtypes.count]
            let shape = (0..<Int(byte() % 4)).map { _ in String(number()) }
            let offsets = [number(), number()].map(String.init)
            entries.append("\"t\(t)\":{\"dtype\":\"\(dtype)\",\"shape\":[\(shape.joined(separator: ","))],"
                + "\"data_offsets\":[\(offsets.joined(separator: ","))]}")
        }
        let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        var out: [UInt8] = []
        var n = UInt64(header.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
        return out + header + bytes[min(offset, bytes.count)...]
    }

    /// A ByteLevel BPE tokenizer.json: the 256 byte symbols and a few more tokens with fuzzed ids, merges of
    /// fuzzed pairs, added tokens with fuzzed ids.
    mutating func tokenizerJSON() -> [UInt8] {
        func quoted(_ s: String) -> String {
            String(decoding: (try? JSONSerialization.data(withJSONObject: [s])) ?? Data("[\"\"]".utf8), as: UTF8.self)
                .dropFirst().dropLast().description
        }
        let symbols = ByteLevel.byteToUTF8.map { String(decoding: $0, as: UTF8.self) }
        var vocab: [String] = []
        var tokens = symbols
        for (i, sym) in symbols.enumerated() { vocab.append("\(quoted(sym)):\(i)") }
        for _ in 0..<Int(byte() % 6) {
            let t = symbols[Int(byte())] + symbols[Int(byte())]
            tokens.append(t)
            vocab.append("\(quoted(t)):\(number() &+ 256)")
        }
        var merges: [String] = []
        for _ in 0..<Int(byte() % 6) {
            merges.append(quoted(tokens[Int(byte()) % tokens.count] + " " + tokens[Int(byte()) % tokens.count]))
        }
        var added: [String] = []
        for _ in 0..<Int(byte() % 3) {
            added.append("{\"id\":\(number()),\"content\":\(quoted(tokens[Int(byte()) % tokens.count]))," +
                         "\"special\":true}")
        }
        let json = "{\"added_tokens\":[\(added.joined(separator: ","))],\"normalizer\":null,"
            + "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":\(byte() & 1 == 1),\"use_regex\":true},"
            + "\"post_processor\":null,\"model\":{\"type\":\"BPE\",\"vocab\":{\(vocab.joined(separator: ","))},"
            + "\"merges\":[\(merges.joined(separator: ","))]}}"
        return Array(json.utf8)
    }
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// The target `FUZZ_TARGET` names, read once.
let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
    guard let t = FuzzTarget(rawValue: name) else {
        let all = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        fputs("FUZZ_TARGET must be one of: \(all) (got \"\(name)\")\n", stderr)
        exit(2)
    }
    return t
}()

/// libFuzzer's entry: one input to the selected target.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected.run(bytes)
    return 0
}

@main
enum FuzzMain {
    /// Hands the command line to libFuzzer (its own `main` is not linked: SwiftPM names the program's entry).
    static func main() {
        _ = selected
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzTestOneInput))
    }
}
#else
@main
enum FuzzMain {
    /// Without the fuzzer: say how to build and run it, or run the given files through a target once each
    /// (to replay a crash input under a debugger or in a normal build).
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name), !args.isEmpty else {
            let all = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            print("""
            pipeline-fuzz: built without libFuzzer. `make fuzz` builds it with -sanitize=fuzzer -DFUZZING and runs
            each target (FUZZ_TARGET=\(all)) from Tests/Fuzz/corpus/<target>/.
            Replay inputs in this build: FUZZ_TARGET=<target> pipeline-fuzz FILE...
            """)
            exit(args.isEmpty ? 0 : 2)
        }
        for path in args {
            guard let data = FileManager.default.contents(atPath: path) else {
                fputs("error: \(path): cannot read\n", stderr)
                exit(1)
            }
            target.run(Array(data))
            print("\(path): ok")
        }
    }
}
#endif
