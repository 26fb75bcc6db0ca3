import ArgumentParser
import XCTest
@testable import Core
import Index
import GSM8K
import Ingest
import Train
@testable import Orchestration

/// The config keys of every stage are derived from its declared options: each key parses through the stage's own
/// options type, and the default `pipeline run` passes is the one the command has.
final class StageCatalogTests: XCTestCase {
    func testChunkKeys() {
        let p = StageSpec(ChunkStage.self).parameters
        XCTAssertEqual(p.map(\.key), ["size", "overlap", "unit"])
        XCTAssertEqual(p.map(\.defaultValue), [.int(1024), .int(128), .string("page")])
    }

    /// Parses `args` (plus the wired positional arguments a run would give) as `S.Arguments`.
    func parse<S: Stage>(_ stage: S.Type, _ args: [String]) throws -> String {
        let wired = S.runArguments(inputs: Self.inputs, workdir: Workdir(path: "/nonexistent"))
        return String(describing: try S.Arguments.parse(wired + args))
    }

    static var inputs: RunInputs {
        var i = RunInputs()
        i.pdfs = ["papers"]; i.gsm8k = ["train.jsonl"]; i.baseModel = "base"
        return i
    }

    func checkDefaults<S: Stage>(_ stage: S.Type) throws {
        let spec = StageSpec(stage)
        let plain = try parse(stage, [])
        XCTAssertFalse(spec.parameters.isEmpty, S.name)
        for p in spec.parameters {
            guard let value = p.defaultValue else { continue }
            // The key with its default, as `pipeline run` passes it, parses to the same options as no flag at all.
            let args = spec.arguments(values: [p.key: value], inputs: RunInputs(), workdir: "w", force: false)
            let own = Array(args.dropFirst().prefix { $0 != "--workdir" })
            XCTAssertEqual(try parse(stage, own), plain, "\(S.name).\(p.key) = \(value)")
        }
        // A non-default value reaches the option it names.
        for p in spec.parameters {
            let other: ConfigValue
            switch p.kind {
            case .int: other = .int(7)
            case .double: other = .double(0.5)
            case .bool: other = .bool(!(p.defaultValue == .bool(true)))
            default: continue
            }
            let args = spec.arguments(values: [p.key: other], inputs: RunInputs(), workdir: "w", force: false)
            let own = Array(args.dropFirst().prefix { $0 != "--workdir" })
            XCTAssertNotEqual(try? parse(stage, own), plain, "\(S.name).\(p.key) = \(other) changed nothing")
        }
    }

    func testEveryConfigKeyParsesThroughItsCommandWithTheCommandsDefault() throws {
        for stage in RunStages.registered { try checkDefaults(stage) }
    }

    func testKeysAreTheLongFlagNamesAndWiredOptionsAreLeftOut() {
        for spec in RunStages.all {
            for p in spec.parameters {
                if case .option(let flag) = p.passing {
                    XCTAssertEqual(flag, "--" + p.key.replacingOccurrences(of: "_", with: "-"), spec.name)
                }
            }
        }
        let keys = Dictionary(uniqueKeysWithValues: RunStages.all.map { ($0.name, Set($0.parameters.map(\.key))) })
        XCTAssertFalse(keys["eval"]!.contains("model") || keys["eval"]!.contains("adapter"))
        XCTAssertFalse(keys["grpo"]!.contains("adapter"))
        XCTAssertFalse(keys["ingest"]!.contains("paths"))
        XCTAssertTrue(keys["bpe-train"]!.contains("files"))
        // Drifted defaults are gone: the run passes what the command declares.
        let grpo = RunStages.spec("grpo")!.parameters.first { $0.key == "max_completion_length" }
        XCTAssertEqual(grpo?.defaultValue, .int(200))
        XCTAssertNil(RunStages.spec("pretrain")!.parameters.first { $0.key == "warmup" }?.defaultValue)
    }

    func testTypedChoicesAreRefusedAtParse() {
        XCTAssertThrowsError(try GRPOStage.Arguments.parse(["--loss-type", "ppo"]))
        XCTAssertThrowsError(try GRPOStage.Arguments.parse(["--scale-rewards", "some"]))
        XCTAssertThrowsError(try IngestStage.Arguments.parse(["x", "--normalize", "nfc"]))
        XCTAssertNoThrow(try GRPOStage.Arguments.parse(["--loss-type", "dr_grpo", "--scale-rewards", "none"]))
    }

    func testFoldersAndNamesAreUniqueAndMatchTheWorkDirectory() {
        XCTAssertEqual(Set(RunStages.all.map(\.name)).count, RunStages.all.count)
        XCTAssertEqual(RunStages.all.map(\.folder), Workdir.stages)
    }
}

extension StageCatalogTests {
    /// `pipeline config` prints a config that parses, with every default at the command's value.
    func testDefaultConfigParsesToTheDefaults() throws {
        let c = try RunConfig.parse(RunStages.defaultConfig(), path: "defaults.toml")
        for spec in RunStages.all {
            for p in spec.parameters {
                XCTAssertEqual(c.values[spec.name]?[p.key], p.defaultValue, "\(spec.name).\(p.key)")
            }
        }
    }
}
