import ArgumentParser
import Core
import Foundation
import Train

struct EvalLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-loss",
        abstract: "Mean next-token loss and perplexity of a GPT-2 model on a token file.",
        discussion: """
        --model is a model folder (default <workdir>/pretrain); --tokens a PTOK token file such as \
        <workdir>/tokens/tokens.bin.zst (default), streamed in consecutive non-overlapping windows of --seq \
        predictions (--batch windows per pass). Prints loss (mean cross-entropy in nats over all predicted \
        tokens), perplexity (e^loss), tokens and windows; --json prints them as one JSON object.
        """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Model folder (default <workdir>/pretrain).", valueName: "dir")) var model: String?
    @Option(help: ArgumentHelp("Token file (default <workdir>/tokens/tokens.bin.zst).", valueName: "file")) var tokens: String?
    @Option(help: "Predictions per window (default: the model's positions, at most 512).") var seq: Int?
    @Option(help: "Windows per forward pass.") var batch = 8
    @Option(name: .customLong("max-tokens"), help: "Evaluate at most this many predictions.") var maxTokens: Int?
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func validate() throws {
        guard batch >= 1, (seq ?? 1) >= 1, (maxTokens ?? 1) >= 1 else { throw ValidationError("--batch, --seq and --max-tokens must be ≥ 1") }
    }

    func run() throws {
        global.apply()
        Compute.configure(threads: threads ?? Machine.cores)
        let work = global.work
        let m = try ModelSupport.loadModel(model ?? work.stageDir("pretrain"))
        let path = tokens ?? work.stageDir("tokens") + "/tokens.bin.zst"
        let r = try EvalLoss.run(model: m, tokensPath: path, seq: seq ?? min(512, m.config.nPositions), batch: batch, maxTokens: maxTokens)
        if json {
            struct Out: Encodable { let loss: Double; let perplexity: Double; let tokens: Int; let windows: Int }
            print(String(decoding: try JSON.encode(Out(loss: r.loss, perplexity: r.perplexity, tokens: r.tokens, windows: r.windows)), as: UTF8.self))
        } else {
            print("loss: \(String(format: "%.6f", r.loss))")
            print("perplexity: \(String(format: "%.4f", r.perplexity))")
            print("tokens: \(r.tokens)")
            print("windows: \(r.windows)")
        }
    }
}
