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
    @Option(help: ArgumentHelp("Tokenizer folder to copy tokenizer.json from.", valueName: "dir"))
    var tokenizer: String?
    @Argument(help: ArgumentHelp("Destination folder (created).", valueName: "dir")) var dir: String

    func run() throws {
        global.apply()
        let work = global.work
        let m = try ModelSupport.loadModel(model ?? work.stageDir("pretrain"))
        try ModelSupport.writeFolder(m, to: dir, tokenizer: tokenizer ?? work.stageDir("tokenize"))
        print("wrote config.json, model.safetensors to \(dir)")
    }
}

struct ExportMerged: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merged",
        abstract: "Merge a LoRA adapter into its base model and write the plain model folder transformers loads.",
        discussion: """
        Loads --model (default <workdir>/pretrain) and the PEFT-layout adapter --adapter (default <workdir>/sft; \
        adapter_config.json + adapter_model.safetensors, ours or PEFT's), adds scaling·(B·A)ᵀ to each targeted \
        Conv1D weight (PEFT's merge_and_unload with fan_in_fan_out) and writes DIR/config.json and \
        DIR/model.safetensors, loadable with GPT2LMHeadModel.from_pretrained(DIR) (and by --model of every \
        command). tokenizer.json is copied from --tokenizer (default <workdir>/tokenize) when present.
        """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Base model folder (default <workdir>/pretrain).", valueName: "dir")) var model: String?
    @Option(help: ArgumentHelp("LoRA adapter folder (default <workdir>/sft).", valueName: "dir")) var adapter: String?
    @Option(help: ArgumentHelp("Tokenizer folder to copy tokenizer.json from.", valueName: "dir"))
    var tokenizer: String?
    @Argument(help: ArgumentHelp("Destination folder (created).", valueName: "dir")) var dir: String

    func run() throws {
        global.apply()
        let work = global.work
        let m = try ModelSupport.loadModel(model ?? work.stageDir("pretrain"))
        let adapterDir = adapter ?? work.stageDir("sft")
        guard FileSystem.isDirectory(adapterDir) else { throw CoreError.notFound(path: adapterDir) }
        let lora = try LoRA.load(directory: adapterDir, into: m)
        LoRA.merge(into: m)
        try ModelSupport.writeFolder(m, to: dir, tokenizer: tokenizer ?? work.stageDir("tokenize"))
        print("merged \(lora.adapters.count) LoRA adapters (r \(lora.r), scaling \(lora.scaling)); "
              + "wrote config.json, model.safetensors to \(dir)")
    }
}

extension ModelSupport {
    /// A plain model folder transformers loads: config.json, model.safetensors, and tokenizer.json (decompressed)
    /// when the tokenizer folder has one.
    static func writeFolder(_ m: GPT2, to dir: String, tokenizer tokDir: String) throws {
        try Checkpoint.save(m, directory: dir, compressed: false)
        for name in ["tokenizer.json.zst", "tokenizer.json"] where FileSystem.exists(tokDir + "/" + name) {
            try FileSystem.atomicWrite(try ByteReader(path: tokDir + "/" + name).readAll(), to: dir + "/tokenizer.json")
            break
        }
    }
}
