import Foundation
import GraphIR
import Testing
import TestSupport

@testable import Runtime
@testable import Training

/// An LRP block compiled with one explained class per sample (`LRPOptions.onePerSample`,
/// what training builds for selective and stochastic heatmaps and for distillation) against
/// the block that explains every class: its map of a sample is the full block's map of the
/// chosen class, and a training step under the loss (which reads only the chosen maps) has
/// the full block's loss and gradients. Every relevance row is computed alone, so the maps
/// and the loss agree bit for bit, the gradients to rounding.
@Suite struct OneClassPerSampleTests {
  static let kinds = ["densenet", "resnet", "vgg"]

  func setups(_ kind: String) throws -> (all: GradientCheckTests.Setup, one: GradientCheckTests.Setup) {
    var one = GradientCheckTests.lrp
    one.onePerSample = true
    return (try GradientCheckTests().setup(kind, heatmaps: GradientCheckTests.lrp), try GradientCheckTests().setup(kind, heatmaps: one))
  }

  func batch(_ s: GradientCheckTests.Setup) -> Batch {
    let dims = s.session.graph[s.session.graph.inputIDs[0]].type.dims
    let plane = dims[1] * dims[2]
    // A centred square as each sample's foreground.
    let mask = (0..<plane).map { i -> Float in abs(i / dims[2] - dims[1] / 2) < dims[1] / 4 && abs(i % dims[2] - dims[2] / 2) < dims[2] / 4 ? 1 : 0 }
    return Batch(images: s.input, masks: Array((0..<s.samples).map { _ in mask }.joined()), labels: [2, 0, 1], samples: s.samples)
  }

  /// The parameters' gradients sum over the relevance rows: the full block's have the other
  /// classes' rows in them (zero adjoints), which regroups the sums; the network's chain of
  /// sums bounds the difference (relative L2 per tensor).
  func expectGradientsAgree(_ all: GradientCheckTests.Setup, _ one: GradientCheckTests.Setup, _ kind: String) {
    let bound = Float32Bound.network(all.session.graph)
    for (name, gradient) in all.session.gradients {
      let other = one.session.gradients[name]!
      let difference = zip(other, gradient).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }.squareRoot()
      let size = gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
      #expect(difference <= bound * size, "\(kind): gradient of \(name): \(difference / size) relative, bound \(bound)")
    }
  }

  @Test(arguments: kinds, [HeatmapSelection.selective, .stochastic])
  func oneMapPerSampleTrainsAsTheChosenMapOfAll(_ kind: String, selection: HeatmapSelection) throws {
    let (all, one) = try setups(kind)
    #expect(!all.session.graph.explainsOneClassPerSample && one.session.graph.explainsOneClassPerSample)
    let term = HeatmapTerm.gwrp(
      GWRPHeatmapLoss(decay: 0.9, scale: 1, backgroundWeight: 1, foregroundWeight: 1, lower: 0.01, upper: 10, penalty: .hybrid))
    var objective = Objective(heatmapWeight: 0.7, heatmapTerm: term, selection: selection, kind: .softmax)
    objective.selectionSeed = 5
    let full = try objective.step(all.session, batch(all))
    let single = try objective.step(one.session, batch(one))
    #expect(full.total.bitPattern == single.total.bitPattern, "\(kind): loss \(full.total) against \(single.total)")
    // The single map of each sample is the full block's map of its chosen class.
    let classes = full.logits.count / all.samples
    let chosen = try #require(selection.choose(logits: full.logits, labels: [2, 0, 1], classes: classes, seed: 5))
    let maps = try #require(full.heatmaps), picked = try #require(single.heatmaps)
    let perClass = picked.count / all.samples
    #expect(maps.count == picked.count * classes)
    for b in 0..<all.samples {
      let start = (b * classes + chosen[b]) * perClass
      #expect(bitwiseDifferences(Array(maps[start..<start + perClass]), Array(picked[b * perClass..<(b + 1) * perClass])) == 0, "\(kind): sample \(b)")
    }
    expectGradientsAgree(all, one, kind)
  }

  /// Distillation with one class per sample (the teacher chooses from its logits, the
  /// student explains the same classes) against both blocks explaining every class.
  @Test(arguments: ["densenet", "resnet"])
  func distillationTrainsAsWithEveryClass(_ kind: String) throws {
    let (all, one) = try setups(kind)
    let blocks = try Repository.read("models/densenet_blocks.isnet")
    let compilation = compileSources(["m.isnet": GradientCheckTests.models[kind]!, "densenet_blocks.isnet": blocks])
    let classifier = try #require(compilation.graph)
    let weights = Initialization.weights(for: classifier, seed: 12)
    var single = GradientCheckTests.lrp
    single.onePerSample = true
    let teacherOfAll = try Teacher(classifier: classifier, weights: weights, source: "t", lrp: GradientCheckTests.lrp, batchSize: 3, threads: testThreads)
    let teacherOfOne = try Teacher(classifier: classifier, weights: weights, source: "t", lrp: single, batchSize: 3, threads: testThreads)
    var data = batch(all)
    data.teacherImages = data.images.map { $0 * 0.5 }
    let objective = DistillationObjective(
      settings: DistillationSettings(teacherModel: "t.isnet", teacherWeights: "t.safetensors"), kind: .softmax, lrp: GradientCheckTests.lrp)
    let full = try objective.step(all.session, teacher: teacherOfAll, data, seed: 4)
    let picked = try objective.step(one.session, teacher: teacherOfOne, data, seed: 4)
    #expect(full.total.bitPattern == picked.total.bitPattern, "\(kind): loss \(full.total) against \(picked.total)")
    expectGradientsAgree(all, one, kind)
  }

  /// A block that explains one class per sample needs the run's choice; a choice out of
  /// range is refused by name.
  @Test func refusesARunWithoutItsClasses() throws {
    let (_, one) = try setups("densenet")
    #expect(throws: RuntimeError.self) { _ = try one.session.forward(one.input, samples: one.samples) }
    one.session.explainedClasses = { _ in [0, 7, 1] }
    do {
      _ = try one.session.forward(one.input, samples: one.samples)
      Issue.record("a class out of range was accepted")
    } catch {
      #expect("\(error)".contains("class 7 for sample 1"))
    }
    one.session.explainedClasses = { _ in [0, 2, 1] }
    _ = try one.session.forward(one.input, samples: one.samples)
  }

  /// The text form prints the attribute and reads it back.
  @Test func theTextFormKeepsTheChoice() throws {
    let (_, one) = try setups("resnet")
    let text = one.session.graph.text
    #expect(text.contains("{one_per_sample=true} : f32[N,1,"))
    #expect(try Graph(parsing: text) == one.session.graph)
  }
}
