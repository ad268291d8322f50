import Datasets
import Foundation
import GraphIR
import Runtime
import SeededRandom
import TensorFiles
import Testing
import TestSupport

@testable import Training

/// The training loop: determinism, bit-exact resume, the best checkpoint, E auto, and what
/// it does with bad data (unreadable samples skipped and named, a NaN stopping the run with
/// the last checkpoint intact).
@Suite final class TrainerTests {
  /// Every directory a test trains into lies under this one, removed with the suite's
  /// instance (one per test).
  let root = NSTemporaryDirectory() + "isnetc-trainer-\(UUID().uuidString)"

  deinit { try? FileManager.default.removeItem(atPath: root) }

  /// Synthetic chest images at the model's input size, 3 channels. Its sets of bad samples
  /// are set before training starts and only read after.
  final class ChestSamples: SampleSource, @unchecked Sendable {
    let samples: [TrainingSample]
    var unreadable: Set<Int> = []
    var poisoned: Set<Int> = []

    init(count: Int, seed: UInt64, size: Int) {
      let task = SyntheticChest(resolution: size)
      samples = (0..<count).map { i in
        let s = task.sample(label: i % 3, shapes: .matching, seed: seed &+ UInt64(i))
        return TrainingSample(image: s.image + s.image + s.image, mask: s.mask, label: s.label)
      }
    }
    var count: Int { samples.count }
    func name(_ index: Int) -> String { "sample\(index).png" }
    func load(_ index: Int) throws -> TrainingSample {
      if unreadable.contains(index) { throw RuntimeError("sample\(index).png: not a PNG or JPEG file") }
      var sample = samples[index]
      if poisoned.contains(index) { sample.image = sample.image.map { _ in .nan } }
      return sample
    }
  }

  static let model = """
    isnet 1;
    import "densenet_blocks.isnet";
    model small(input: f32[3, 32, 32] in [0, 1], classes: int = 3) {
      x = conv(input, out: 8, k: 3, stride: 2, pad: 1, bias: false) @ "conv0"; x = bn(x) @ "norm0"; x = relu(x);
      x = dense_block(x, layers: 2, growth: 4, bn_size: 2) @ "denseblock1";
      x = bn(x) @ "norm5"; x = relu(x); x = global_avgpool(x); x = dropout(x, p: 0.2);
      return linear(x, out: classes) @ "classifier";
    }
    """

  func classifier() throws -> Graph {
    let blocks = try Repository.read("models/densenet_blocks.isnet")
    let compilation = compileSources(["m.isnet": Self.model, "densenet_blocks.isnet": blocks])
    return try #require(compilation.graph, "\(compilation.renderedDiagnostics)")
  }

  /// The paper's loss (E auto is its); `gwrpSettings` the later one.
  func settings(epochs: Int, p: Double = 0.7) -> TrainingSettings {
    TrainingSettings(
      heatmapWeight: p, loss: .paper, heatmapScale: nil, autoScaleBatches: 2, heatmapNormalization: .standardDeviation, epochs: epochs,
      warmupEpochs: 0, batchSize: 4, seed: 5, threads: testThreads)
  }

  func gwrpSettings(epochs: Int, selection: HeatmapSelection) -> TrainingSettings {
    TrainingSettings(loss: .gwrp, selection: selection, autoScaleBatches: 2, epochs: epochs, warmupEpochs: 0, batchSize: 4, seed: 5, threads: testThreads)
  }

  func temporaryDirectory() -> String {
    let path = root + "/\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  func train(_ settings: TrainingSettings, data: ChestSamples, directory: String, validation: ChestSamples? = nil) throws -> (RunState, [TrainingEvent]) {
    let graph = try classifier()
    let trainer = try Trainer(
      classifier: graph, settings: settings, weights: Initialization.weights(for: graph, seed: 1), weightsSource: "initial",
      train: data, validation: validation, directory: directory)
    var events: [TrainingEvent] = []
    let state = try trainer.run { events.append($0) }
    return (state, events)
  }

  func checkpointBits(_ directory: String) throws -> [String: [UInt32]] {
    let (_, weights, optimizer) = try Checkpoint.read(directory: directory)
    var bits: [String: [UInt32]] = [:]
    for (name, tensor) in weights { bits[name] = tensor.values.map(\.bitPattern) }
    for (name, tensor) in optimizer { bits["optimizer." + name] = tensor.values.map(\.bitPattern) }
    return bits
  }

  @Test func sameSeedSameBitsAndResumeContinuesExactly() throws {
    let data = ChestSamples(count: 10, seed: 1, size: 32)
    let straight = temporaryDirectory(), resumed = temporaryDirectory(), again = temporaryDirectory()
    let (state, events) = try train(settings(epochs: 2), data: data, directory: straight)
    #expect(state.epochsDone == 2 && state.history.count == 2)
    #expect(state.optimizerSteps == 6)  // 10 samples in batches of 4, 4 and 2, twice
    #expect(events.contains { if case .autoScale = $0 { true } else { false } })
    _ = try train(settings(epochs: 2), data: data, directory: again)
    #expect(try checkpointBits(straight) == (try checkpointBits(again)), "two runs with one seed differ")

    _ = try train(settings(epochs: 1), data: data, directory: resumed)
    let trainer = try Trainer.resume(classifier: try classifier(), directory: resumed, train: data, validation: nil, epochs: 2)
    let resumedState = try trainer.run { _ in }
    #expect(resumedState.epochsDone == 2)
    #expect(resumedState.heatmapScale == state.heatmapScale)
    #expect(try checkpointBits(straight) == (try checkpointBits(resumed)), "a resumed run differs from one that never stopped")
    #expect(resumedState.history == state.history.enumerated().map { i, r in
      var r = r
      r.seconds = resumedState.history[i].seconds
      r.inputWaitSeconds = resumedState.history[i].inputWaitSeconds
      return r
    })
    let weights = try WeightFiles.load(path: "\(straight)/weights.safetensors")
    #expect(weights.count == (try classifier()).parameters.count)
  }

  /// The later loss with the stochastic selection: the same seed gives the same bits, the
  /// band is measured once and kept on resume, and the guard's measure is recorded.
  @Test func laterLossWithStochasticHeatmapsIsDeterministicAndResumes() throws {
    let data = ChestSamples(count: 10, seed: 3, size: 32)
    let (a, b, resumed) = (temporaryDirectory(), temporaryDirectory(), temporaryDirectory())
    let (state, events) = try train(gwrpSettings(epochs: 2, selection: .stochastic), data: data, directory: a)
    _ = try train(gwrpSettings(epochs: 2, selection: .stochastic), data: data, directory: b)
    #expect(try checkpointBits(a) == (try checkpointBits(b)))
    let band = try #require(state.band)
    #expect(band.count == 2 && band[0] > 0 && abs(band[1] - 25 * band[0]) <= 1e-12 * band[1])
    #expect(events.contains { if case .autoBand = $0 { true } else { false } })
    #expect(state.history.allSatisfy { ($0.foregroundRelevance ?? 0) > 0 })
    _ = try train(gwrpSettings(epochs: 1, selection: .stochastic), data: data, directory: resumed)
    let trainer = try Trainer.resume(classifier: try classifier(), directory: resumed, train: data, validation: nil, epochs: 2)
    let resumedState = try trainer.run { _ in }
    #expect(resumedState.band == state.band)
    #expect(try checkpointBits(a) == (try checkpointBits(resumed)))
    // A different selection trains differently.
    let selective = temporaryDirectory()
    _ = try train(gwrpSettings(epochs: 2, selection: .selective), data: data, directory: selective)
    #expect(try checkpointBits(a) != (try checkpointBits(selective)))
  }

  @Test func autoScaleIsTheInitialMeanBackgroundOverTheDivisor() throws {
    let data = ChestSamples(count: 8, seed: 2, size: 32)
    var s = settings(epochs: 1)
    let (one, _) = try train(s, data: data, directory: temporaryDirectory())
    s.autoScaleDivisor = 10
    let (ten, _) = try train(s, data: data, directory: temporaryDirectory())
    let background = try #require(one.initialMeanBackground)
    #expect(background > 0)
    #expect(one.heatmapScale == background)
    #expect(ten.initialMeanBackground == background)
    #expect(abs(ten.heatmapScale! - background / 10) <= 1e-12 * background)
  }

  /// The normalisation is part of the stored settings; runs stored before it existed read
  /// back as the paper's.
  @Test func heatmapNormalizationIsStoredAndDefaultsToThePapers() throws {
    var s = settings(epochs: 1)
    s.heatmapNormalization = .meanAbsolute
    let encoded = try JSONEncoder().encode(s)
    #expect(try JSONDecoder().decode(TrainingSettings.self, from: encoded).heatmapNormalization == .meanAbsolute)
    var object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
    #expect(object["heatmapNormalization"] as? String == "mean-abs")
    object["heatmapNormalization"] = nil
    let older = try JSONSerialization.data(withJSONObject: object)
    #expect(try JSONDecoder().decode(TrainingSettings.self, from: older).heatmapNormalization == .standardDeviation)
    // And the trainer's loss uses it: E auto measures the share-based u, which averages to
    // at most the elements per map (each share is at most 1), and differs from the paper's.
    let data = ChestSamples(count: 8, seed: 2, size: 32)
    let (share, _) = try train(s, data: data, directory: temporaryDirectory())
    #expect(share.settings.heatmapNormalization == .meanAbsolute)
    let (paper, _) = try train(settings(epochs: 1), data: data, directory: temporaryDirectory())
    let u = try #require(share.initialMeanBackground)
    #expect(u > 0 && u <= Double(3 * 32 * 32))
    #expect(abs(u - paper.initialMeanBackground!) > 1e-3 * u)
    // per-map: each map's own share, so also at most the elements per map, and not the
    // batch's pooled share.
    s.heatmapNormalization = .perMap
    let (perMap, _) = try train(s, data: data, directory: temporaryDirectory())
    let v = try #require(perMap.initialMeanBackground)
    #expect(v > 0 && v <= Double(3 * 32 * 32))
    #expect(abs(v - u) > 1e-3 * u)
  }

  @Test func standardClassifierTrainsWithoutMasksAndKeepsTheBestByValidationLoss() throws {
    let data = ChestSamples(count: 8, seed: 3, size: 32)
    let validation = ChestSamples(count: 5, seed: 40, size: 32)
    let directory = temporaryDirectory()
    let (state, _) = try train(settings(epochs: 3, p: 0), data: data, directory: directory, validation: validation)
    #expect(state.heatmapScale == nil)
    let losses = state.history.map { $0.validationLoss! }
    #expect(state.bestLoss == losses.min())
    #expect(state.bestEpoch == losses.firstIndex(of: losses.min()!)! + 1)
    let best = try SafetensorsFile(path: "\(directory)/best.safetensors").metadata["epoch"]
    #expect(best == state.bestEpoch.map(String.init))
    // Macro F1 is recorded; a standard classifier has no heatmaps, so no background share.
    #expect(state.history.allSatisfy { ($0.validationMacroF1.map { (0...1).contains($0) } ?? false) && $0.validationBackgroundFraction == nil })
  }

  /// An ISNet's validation pass also records the heatmaps' share of |R| outside the masks.
  @Test func isnetValidationRecordsMacroF1AndBackgroundRelevance() throws {
    let data = ChestSamples(count: 8, seed: 6, size: 32)
    let validation = ChestSamples(count: 6, seed: 60, size: 32)
    let (state, _) = try train(settings(epochs: 1), data: data, directory: temporaryDirectory(), validation: validation)
    let record = try #require(state.history.first)
    #expect(record.validationMacroF1.map { (0...1).contains($0) } == true)
    let background = try #require(record.validationBackgroundFraction)
    #expect(background > 0 && background < 1)
    // Records written before these fields existed still read.
    var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(record)) as? [String: Any])
    object["validationMacroF1"] = nil
    object["validationBackgroundFraction"] = nil
    let older = try JSONDecoder().decode(EpochRecord.self, from: JSONSerialization.data(withJSONObject: object))
    #expect(older.validationMacroF1 == nil && older.validationLoss == record.validationLoss)
  }

  /// Per class, one share per sample: |R| outside the mask over all |R|, summed over channels.
  @Test func backgroundFractionsPerClassAndSample() {
    // 2 samples, 2 classes, 1 channel, 2 pixels; masks: pixel 0 foreground.
    let heatmaps: [Float] = [1, 3, /* s0 k1 */ 0, 0, /* s1 k0 */ -2, 2, /* s1 k1 */ 4, 0]
    var lists: [[Double]] = [[], []]
    Trainer.addBackgroundFractions(heatmaps, masks: [1, 0, 1, 0], samples: 2, classes: 2, channels: 1, to: &lists)
    #expect(lists == [[0.75, 0.5], [0]])  // sample 0's class 1 map is all zero: left out
  }

  @Test func unreadableSamplesAreSkippedAndNamed() throws {
    let data = ChestSamples(count: 9, seed: 4, size: 32)
    data.unreadable = [3]
    let (state, events) = try train(settings(epochs: 2), data: data, directory: temporaryDirectory())
    let skipped = events.compactMap { if case .skipped(let name, let reason) = $0 { "\(name): \(reason)" } else { nil } }
    #expect(skipped == ["sample3.png: sample3.png: not a PNG or JPEG file"])
    #expect(state.history.map(\.skippedSamples) == [1, 1])
    #expect(state.epochsDone == 2)
  }

  @Test func nanStopsTheRunNamingTheStepAndKeepsTheLastCheckpoint() throws {
    let data = ChestSamples(count: 8, seed: 5, size: 32)
    let directory = temporaryDirectory()
    _ = try train(settings(epochs: 1), data: data, directory: directory)
    let before = try checkpointBits(directory)
    data.poisoned = Set(0..<8)
    let trainer = try Trainer.resume(classifier: try classifier(), directory: directory, train: data, validation: nil, epochs: 2)
    #expect {
      _ = try trainer.run { _ in }
    } throws: { error in
      "\(error)".contains("step 3 (epoch 2, batch 1 of 2)") && "\(error)".contains("not finite")
    }
    #expect(try checkpointBits(directory) == before)
    #expect(try Checkpoint.read(directory: directory).state.epochsDone == 1)
  }

  @Test func badSettingsAreRejectedByName() throws {
    var s = settings(epochs: 1)
    s.batchSize = 1
    s.heatmapWeight = 1.5
    #expect(s.problems.contains { $0.contains("at least 2 samples") })
    #expect(s.problems.contains { $0.contains("P must be in [0, 1]") })
    #expect(throws: TrainingFailure.self) { try train(s, data: ChestSamples(count: 4, seed: 1, size: 32), directory: temporaryDirectory()) }
  }
}


/// The warm-up: the first epochs train the standard classifier, then the heatmap loss joins,
/// with E measured on the warmed-up model; the ISNet phase picks its own best epoch, and a
/// run resumed across the switch gives the same bits.
@Suite struct WarmupTests {
  let base = TrainerTests()

  /// A constant rate: the test extends a 2-epoch run to 3 by resuming, and a cosine
  /// schedule is a function of the total, so the extended run would take other steps.
  func settings(epochs: Int) -> TrainingSettings {
    var s = base.settings(epochs: epochs)
    s.warmupEpochs = 2
    s.learningRateSchedule = .constant
    return s
  }

  @Test func theHeatmapLossJoinsAfterTheWarmup() throws {
    let data = TrainerTests.ChestSamples(count: 10, seed: 2, size: 32)
    let validation = TrainerTests.ChestSamples(count: 6, seed: 9, size: 32)
    let (straight, resumed) = (base.temporaryDirectory(), base.temporaryDirectory())
    let (state, events) = try base.train(settings(epochs: 3), data: data, directory: straight, validation: validation)
    #expect(state.history.map { $0.trainHeatmapLoss == 0 } == [true, true, false])
    #expect(state.history.map { $0.foregroundRelevance == nil } == [true, true, false])
    #expect(state.heatmapScale != nil && events.contains { if case .autoScale = $0 { true } else { false } })
    #expect(state.bestEpoch == 3)

    _ = try base.train(settings(epochs: 2), data: data, directory: resumed, validation: validation)
    let trainer = try Trainer.resume(classifier: try base.classifier(), directory: resumed, train: data, validation: validation, epochs: 3)
    _ = try trainer.run { _ in }
    #expect(try base.checkpointBits(straight) == (try base.checkpointBits(resumed)))
  }
}

/// The background exchange in the loop: where only the background tells the class (its
/// brightness; the foreground square is noise), a standard classifier learns it from the
/// images as they are and cannot with every background exchanged, since the background it
/// then sees belongs to other samples, drawn independently of the label.
@Suite struct BackgroundExchangeTrainingTests {
  final class BackgroundOnly: SampleSource, @unchecked Sendable {
    let samples: [TrainingSample]
    init(count: Int, seed: UInt64) {
      var random = SplitMix64(seed: seed)
      let side = 32
      let mask = (0..<(side * side)).map { p -> Float in (10..<22).contains(p / side) && (10..<22).contains(p % side) ? 1 : 0 }
      samples = (0..<count).map { i in
        let label = i % 3
        let plane = mask.map { m -> Float in m > 0 ? Float(random.unit()) : 0.2 + 0.3 * Float(label) + 0.05 * Float(random.unit()) }
        return TrainingSample(image: plane + plane + plane, mask: mask, label: label)
      }
    }
    var count: Int { samples.count }
    func name(_ index: Int) -> String { "sample\(index).png" }
    func load(_ index: Int) throws -> TrainingSample { samples[index] }
  }

  func trainAccuracy(exchange: Double) throws -> Double {
    let t = TrainerTests()
    let settings = TrainingSettings(
      heatmapWeight: 0, epochs: 12, warmupEpochs: 0, batchSize: 6, optimizer: OptimizerSettings(kind: .adam, learningRate: 1e-3), seed: 2,
      threads: testThreads, backgroundExchange: exchange)
    let graph = try t.classifier()
    let trainer = try Trainer(
      classifier: graph, settings: settings, weights: Initialization.weights(for: graph, seed: 1), weightsSource: "initial",
      train: BackgroundOnly(count: 36, seed: 9), validation: nil, directory: t.temporaryDirectory())
    let state = try trainer.run { _ in }
    // The last three epochs' training accuracy, on the pictures the classifier trained on.
    return state.history.suffix(3).map { $0.trainAccuracy }.reduce(0, +) / 3
  }

  @Test func exchangedBackgroundsCarryNoLabel() throws {
    let plain = try trainAccuracy(exchange: 0)
    let exchanged = try trainAccuracy(exchange: 1)
    #expect(plain > 0.75, "the background alone is learnable: training accuracy \(plain)")
    #expect(exchanged < 0.55, "with exchanged backgrounds the background predicts nothing: training accuracy \(exchanged)")
  }
}
