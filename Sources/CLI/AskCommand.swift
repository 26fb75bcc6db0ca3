import ArgumentParser
import Core
import Foundation
import Index
import Tokenize
import Train

struct AskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Answer a question from the index: retrieve chunks, build a prompt, generate with the GPT-2.",
        discussion: """
        Retrieves the top -k chunks of <workdir>/index as `pipeline search` does (--mode; the query embedded by \
        the index's own model, or --embedding-model), renders the prompt and generates the answer with the GPT-2 \
        --model (default <workdir>/pretrain; --adapter applies a LoRA adapter), greedy unless --temperature > 0.

        The prompt: --template FILE (default "{context}\\n\\nQuestion: {question}\\nAnswer:") with {context} \
        replaced by the chunks as numbered blocks "[n] (source, page P)\\n<text>" in rank order, separated by \
        blank lines (the page as the index records it, 0-based), and {question} by the question. When the prompt \
        and --max-new-tokens exceed the model's positions, context is dropped from the lowest-ranked chunk up, \
        whole chunks; when even the best chunk alone does not fit, its text is cut; the question is never cut.

        Output: the answer, then the numbered sources; --json one object {question, answer, prompt_tokens, \
        prompt, sources: [{rank, chunk_id, source, page, score}]}. --file QUESTIONS.jsonl ({id, question} \
        records) answers them all, --batch at a time in one generation batch, and writes {id, question, \
        answer, prompt_tokens, sources} JSON Lines to stdout or --output (written atomically): `pipeline score \
        --predictions` takes them as they are (it reads `answer` as the prediction).
        """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The question.") var question: String?
    @Option(help: ArgumentHelp("JSON Lines of {id, question} to answer (plain or .zst).", valueName: "file"))
    var file: String?
    @Option(help: ArgumentHelp("With --file: write the answers here instead of stdout.", valueName: "file"))
    var output: String?
    @Option(name: .short, help: "Chunks to retrieve (default 4).") var k = 4
    @Option(help: "hybrid, dense or bm25 (default hybrid).") var mode: SearchMode = .hybrid
    @Option(help: ArgumentHelp("GPT-2 model folder (default <workdir>/pretrain).", valueName: "dir")) var model: String?
    @Option(help: ArgumentHelp("PEFT LoRA adapter applied to the model.", valueName: "dir")) var adapter: String?
    @Option(help: ArgumentHelp("Tokenizer of the GPT-2 (default <workdir>/tokenize).", valueName: "path"))
    var tokenizer: String?
    @Option(name: .customLong("embedding-model"),
            help: ArgumentHelp("The index's embedding model folder (default: the one its stage recorded).",
                               valueName: "dir"))
    var embeddingModel: String?
    @Option(help: ArgumentHelp("Prompt template with {context} and {question}.", valueName: "file"))
    var template: String?
    @Option(name: .customLong("max-new-tokens"), help: "Tokens to generate at most.") var maxNewTokens = 64
    @Option(help: "Sampling temperature (0: greedy, the default).", transform: Finite.float) var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Keep the K most likely tokens (0: all).") var topK = 0
    @Option(name: .customLong("top-p"), help: "Keep the smallest set with this much probability (1: all).",
            transform: Finite.float) var topP: Float = 1
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Option(help: "With --file: questions per generation batch.") var batch = 8
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func validate() throws {
        guard (question == nil) != (file == nil) else { throw ValidationError("give a question or --file, not both") }
        if output != nil, file == nil { throw ValidationError("--output goes with --file") }
        guard k >= 1 else { throw ValidationError("-k must be at least 1") }
        guard maxNewTokens >= 1, batch >= 1 else { throw ValidationError("--max-new-tokens and --batch must be ≥ 1") }
        guard temperature >= 0, topK >= 0, topP > 0, topP <= 1 else {
            throw ValidationError("--temperature ≥ 0, --top-k ≥ 0, 0 < --top-p ≤ 1")
        }
    }

    func run() throws {
        global.apply()
        Compute.configure(threads: threads ?? Machine.cores)
        let work = global.work
        var prompt = AskPrompt()!
        if let template {
            let text = String(decoding: try ByteReader(path: template).readAll(), as: UTF8.self)
            if let problem = AskPrompt.problem(template: text) {
                throw ValidationError("--template \(template): \(problem)")
            }
            prompt = AskPrompt(template: text)!
        }
        var questions: [AskQuestion] = []
        if let file {
            questions = try JSONLReader.readAll(AskQuestion.self, path: file)
        } else {
            questions = [AskQuestion(id: "", question: question!)]
        }
        let index = try SearchIndex(path: work.stageDir("index") + "/" + IndexBuilder.databaseName)
        let embedder = QueryEmbedder(index: index, work: work, model: embeddingModel)
        let m = try ModelSupport.loadModel(model ?? work.stageDir("pretrain"))
        if let adapter { try LoRA.load(directory: adapter, into: m) }
        let tok = try BPETokenizer(path: tokenizer ?? work.stageDir("tokenize"))
        let budget = m.config.nPositions - maxNewTokens
        guard budget >= 1 else {
            throw ValidationError("--max-new-tokens \(maxNewTokens) leaves no room for a prompt in the model's "
                                  + "\(m.config.nPositions) positions")
        }
        var o = SamplingOptions()
        o.maxNewTokens = maxNewTokens; o.greedy = temperature == 0; o.temperature = temperature
        o.topK = topK; o.topP = topP; o.seed = seed; o.eosTokenId = m.config.eosTokenId

        var answers: [AskAnswer] = []
        var start = 0
        while start < questions.count {
            let group = questions[start..<min(start + batch, questions.count)]
            var fitted: [AskPrompt.Fitted] = [], ids: [[Int]] = []
            for q in group {
                let hits = try index.search(q.question, k: k, mode: mode, embed: embedder.embed)
                let f = try prompt.fit(question: q.question, hits: hits, budget: budget) { tok.encode($0).count }
                fitted.append(f)
                ids.append(tok.encode(f.prompt))
            }
            let out = try Generator.generate(model: m, prompts: ids, options: o)
            for (i, q) in group.enumerated() {
                let gen = out[i].last == o.eosTokenId ? Array(out[i].dropLast()) : out[i]
                let text = tok.decode(gen).trimmingCharacters(in: .whitespacesAndNewlines)
                answers.append(AskAnswer(id: file == nil ? nil : q.id, question: q.question, answer: text,
                                         promptTokens: fitted[i].tokens, sources: fitted[i].hits.map(AskSource.init),
                                         prompt: file == nil && json ? fitted[i].prompt : nil))
            }
            start += group.count
        }

        if file != nil {
            var lines = ""
            for a in answers { lines += String(decoding: try JSON.encode(a), as: UTF8.self) + "\n" }
            if let output { try FileSystem.atomicWrite(lines, to: output) } else { print(lines, terminator: "") }
            return
        }
        let a = answers[0]
        if json {
            print(String(decoding: try JSON.encode(a), as: UTF8.self))
            return
        }
        print(a.answer.isEmpty ? "(no answer: the model's continuation is empty or only whitespace)" : a.answer)
        print("")
        print("Sources:")
        if a.sources.isEmpty { print("(none fit the model's positions)") }
        for s in a.sources {
            let place = s.page.map { "\(s.source), page \($0)" } ?? s.source
            print("[\(s.rank)] \(place)  [\(s.chunkId)]  " + String(format: "%.4f", s.score))
        }
    }
}
