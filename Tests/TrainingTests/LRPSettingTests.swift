import Foundation
import GraphIR
import Testing
import TestSupport

@testable import Training

/// The LRP block's ε is a training setting like the others: validated in one place, stored
/// in checkpoints and run.json, and the block the trainer builds is the pipeline's for it.
@Suite struct LRPSettingTests {
  @Test func epsilonIsStoredAndOlderRunsReadTheDefault() throws {
    var settings = TrainingSettings()
    settings.lrp = LRPOptions(epsilon: 0.05)
    let data = try JSONEncoder().encode(settings)
    #expect(try JSONDecoder().decode(TrainingSettings.self, from: data) == settings)
    var object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    object.removeValue(forKey: "lrp")
    let older = try JSONDecoder().decode(TrainingSettings.self, from: try JSONSerialization.data(withJSONObject: object))
    #expect(older.lrp == LRPOptions())
  }

  /// The input rule is stored with ε; options written before it existed read as Zᴮ, the
  /// rule those runs trained with.
  @Test func theInputRuleIsStoredAndOlderOptionsReadZBeta() throws {
    let options = LRPOptions(epsilon: 0.05, inputRule: .epsilon)
    #expect(try JSONDecoder().decode(LRPOptions.self, from: JSONEncoder().encode(options)) == options)
    let older = try JSONDecoder().decode(LRPOptions.self, from: Data(#"{"epsilon": 0.05}"#.utf8))
    #expect(older == LRPOptions(epsilon: 0.05, inputRule: .zb))
    var settings = TrainingSettings()
    settings.lrp = options
    var object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(settings)) as! [String: Any]
    #expect((object["lrp"] as? [String: Any])?["inputRule"] as? String == "epsilon")
    object["lrp"] = ["epsilon": 0.05]
    let run = try JSONDecoder().decode(TrainingSettings.self, from: try JSONSerialization.data(withJSONObject: object))
    #expect(run.lrp == LRPOptions(epsilon: 0.05))
    #expect(throws: DecodingError.self) { try JSONDecoder().decode(LRPOptions.self, from: Data(#"{"epsilon": 0.05, "inputRule": "z+"}"#.utf8)) }
  }

  @Test func aBadEpsilonIsOneProblemWithThePipelinesMessage() {
    var settings = TrainingSettings()
    settings.lrp = LRPOptions(epsilon: 0)
    #expect(settings.problems == ["--epsilon: the LRP ε must be positive and finite, got 0.0"])
  }

  @Test func theTrainerBuildsTheBlockForItsEpsilon() throws {
    let tiny = try compileModel("tiny")
    let options = LRPOptions(epsilon: 0.1)
    #expect(try Trainer.trainingGraph(tiny, heatmapWeight: 0.7, lrp: options) == (try tiny.withLRPBlock(options)))
    #expect(try Trainer.trainingGraph(tiny, heatmapWeight: 0, lrp: options) == tiny)
    let epsilonInput = LRPOptions(epsilon: 0.1, inputRule: .epsilon)
    #expect(try Trainer.trainingGraph(tiny, heatmapWeight: 0.7, lrp: epsilonInput) == (try tiny.withLRPBlock(epsilonInput)))
  }
}
