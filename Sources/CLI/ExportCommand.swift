import ArgumentParser
import Core
import Foundation
import Train

struct ExportModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Write a model as the plain folder transformers loads (config.json + model.safetensors).",
        discussion: """
        Reads --model (default <workdir>/pretrain; any model folder `generate` reads) and writes DIR/config.json \
        and DIR/model.safetensors (F32, transformers' tensor names, no lm_head.weight: the head is tied to \
        transformer.wte.weight), loadable with GPT2LMHeadModel.from_pretrained(DIR). With --tokenizer (default \
        <workdir>/tokenize when present) its tokenizer.json is copied too, for AutoTokenizer.
        """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Model folder (default <workdir>/pretrain).", valueName: "dir")) var model: String?
    @Option(help: ArgumentHelp("Tokenizer folder to copy tokenizer.json from.", valueName: "dir")) var tokenizer: String?
    @Argument(help: ArgumentHelp("Destination folder (created).", valueName: "dir")) var dir: String

    func run() throws {
        global.apply()
        let work = global.work
        let m = try ModelSupport.loadModel(model ?? work.stageDir("pretrain"))
        try Checkpoint.save(m, directory: dir, compressed: false)
        let tokDir = tokenizer ?? work.stageDir("tokenize")
        for name in ["tokenizer.json.zst", "tokenizer.json"] where FileSystem.exists(tokDir + "/" + name) {
            try FileSystem.atomicWrite(try ByteReader(path: tokDir + "/" + name).readAll(), to: dir + "/tokenizer.json")
            break
        }
        print("wrote config.json, model.safetensors to \(dir)")
    }
}
