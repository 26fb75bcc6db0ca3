import XCTest
@testable import Train

/// The reference course's figures for its GPT-2 (vocab 46,744, 1,024 positions, 1,024 wide, 24 layers,
/// 16 heads), as PEFT's print_trainable_parameters() printed them.
final class PeftInfoTests: XCTestCase {
    func testCourseFigures() throws {
        let c = try XCTUnwrap(PeftInfo.named("course"))
        XCTAssertEqual(PeftInfo.baseCount(c), 351_225_856)
        XCTAssertEqual(PeftInfo.line(c, .lora(r: 8, targets: [.cAttn])),
                       "trainable params: 786,432 || all params: 352,012,288 || trainable%: 0.2234")
        XCTAssertEqual(PeftInfo.line(c, .prefix(tokens: 20)),
                       "trainable params: 983,040 || all params: 352,208,896 || trainable%: 0.2791")
        XCTAssertEqual(PeftInfo.line(c, .prompt(tokens: 20)),
                       "trainable params: 20,480 || all params: 351,246,336 || trainable%: 0.0058")
        // the same shape named as gpt2-medium with --vocab
        var m = try XCTUnwrap(PeftInfo.named("gpt2-medium"))
        m.vocabSize = 46744
        XCTAssertEqual(PeftInfo.baseCount(m), 351_225_856)
    }

    func testCountsAgreeWithTheModelAndLoRA() throws {
        let c = GPT2Config(vocabSize: 300, nPositions: 32, nEmbd: 48, nLayer: 3, nHead: 4, nInner: 100)
        let model = GPT2(config: c)
        XCTAssertEqual(PeftInfo.baseCount(c), model.parameterCount)
        XCTAssertEqual(c.parameterCount, model.parameterCount)
        var huge = c
        huge.vocabSize = 1 << 40; huge.nEmbd = 1 << 30; huge.nHead = 1
        XCTAssertNil(huge.parameterCount, "overflow is nil, not a trap")
        XCTAssertThrowsError(try huge.validate(path: "config.json")) { XCTAssertTrue("\($0)".contains("overflows"), "\($0)") }
        let lora = try LoRA.attach(to: model, r: 5, targets: LoRATarget.allCases)
        XCTAssertEqual(PeftInfo.trainableCount(c, .lora(r: 5, targets: LoRATarget.allCases)), lora.parameterCount)
        XCTAssertEqual(try LoRATarget.parse("c_proj"), [.attnProj, .fcProj])
        XCTAssertEqual(PeftInfo.grouped(124_439_808), "124,439,808")
        XCTAssertEqual(PeftInfo.grouped(7), "7")
    }
}
