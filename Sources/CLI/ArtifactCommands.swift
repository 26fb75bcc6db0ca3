import ArgumentParser
import Core
import Foundation

/// `pipeline cat`: print artifacts (plain or zstd) to stdout, like zstdcat but for any of the pipeline's files.
struct Cat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print files to stdout, decompressing zstd ones (detected by their magic bytes).",
        discussion: "Example: pipeline cat artifacts/ingest/pages.jsonl.zst | head. "
            + "A corrupt or truncated stream is an error (exit 1), never silent garbage.")

    @Argument(help: "Files, plain or .zst.") var files: [String]

    func run() throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let out = FileHandle.standardOutput
        for file in files {
            let reader = try ByteReader(path: file)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                if n == 0 { break }
                out.write(Data(buffer[0..<n]))
            }
        }
    }
}

/// `pipeline pack`: compress a file the way every stage writes its artifacts.
struct Pack: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compress a file to .zst as the stages do (level 3, checksum, multi-threaded when large).",
        discussion: "The output is written to a temporary file, fsync'ed and renamed into place, so an interrupted "
            + "run never leaves a partial OUTPUT. A compressed INPUT is decompressed first (re-packing).")

    @Argument(help: "Input file (plain or .zst).") var input: String
    @Argument(help: "Output file (default: INPUT.zst).") var output: String?
    @Option(help: "zstd level (1-19).") var level: Int32 = 3
    @Flag(name: [.short, .long], help: "No progress lines.") var quiet = false

    func validate() throws {
        guard (1...19).contains(level) else { throw ValidationError("--level must be between 1 and 19") }
    }

    func run() throws {
        if quiet { Progress.enabled = false }
        let target = output ?? input + ".zst"
        let dir = (try FileSystem.replaceableTarget(target) as NSString).deletingLastPathComponent
        let source = try Spool.readable(input, in: dir.isEmpty ? "." : dir)  // a pipe is read once, here
        let size = (try? ByteReader(path: source).isCompressed) == false ? Int(try FileSystem.fileSize(source)) : nil
        let progress = Progress("pack", total: size, unit: "bytes")
        try Zstd.compressFile(source, to: target, level: level) { progress.advance(by: $0) }
        progress.finish()
    }
}
