import GraphIR
import Runtime
import Testing
import TestSupport

@testable import Training

/// The optimizers' updates against PyTorch's formulas, written out: SGD with momentum (the
/// buffer starts at the first gradient), Adam with bias correction, global-norm clipping
/// (`clip_grad_norm_`: scale max / (norm + 1e-6) when below 1), weight decay, and the
/// refusal of a non-finite gradient, which changes nothing.
@Suite struct OptimizerTests {
  static let source = """
    isnet 1;
    model m(input: f32[2, 6, 6] in [0, 1], classes: int = 3) {
      x = conv(input, out: 3, k: 3, pad: 1) @ "conv"; x = relu(x);
      x = global_avgpool(x);
      return linear(x, out: classes) @ "fc";
    }
    """

  /// A session holding a gradient (of a cross-entropy step), and its parameters, at the
  /// suite's thread count.
  func session() throws -> TrainingSession {
    let graph = try compileSource(Self.source)
    let session = try TrainingSession(
      program: try graph.reverseMode(), weights: Initialization.weights(for: graph, seed: 4), weightsSource: "initial",
      batchSize: 2, threads: testThreads)
    var random = SplitMix64(seed: 8)
    let images = (0..<144).map { _ in random.float(0, 1) }
    let objective = Objective(heatmapWeight: 0, heatmapLoss: HeatmapLoss(scale: 1, stabilizer: 1e-4, normalization: .standardDeviation), kind: .softmax)
    _ = try objective.step(session, Batch(images: images, masks: nil, labels: [0, 2], samples: 2))
    return session
  }

  func snapshot(_ session: TrainingSession) -> (values: [String: [Float]], gradients: [String: [Float]]) {
    var values: [String: [Float]] = [:], gradients: [String: [Float]] = [:]
    session.withParametersAndGradients { name, value, gradient, count in
      values[name] = Array(UnsafeBufferPointer(start: value, count: count))
      gradients[name] = Array(UnsafeBufferPointer(start: gradient, count: count))
    }
    return (values, gradients)
  }

  func norm(_ gradients: [String: [Float]]) -> Double {
    gradients.values.flatMap { $0 }.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
  }

  func expectClose(_ a: [String: [Float]], _ b: [String: [Float]], _ what: String) {
    for (name, values) in a {
      let worst = zip(values, b[name]!).map { abs($0 - $1) }.max() ?? 0
      #expect(worst <= 1e-6, "\(what): \(name) differs by \(worst)")
    }
  }

  @Test func sgdWithMomentumTwoSteps() throws {
    let s = try session()
    let (p0, g) = snapshot(s)
    let optimizer = Optimizer(settings: OptimizerSettings(learningRate: 0.1, momentum: 0.9, clipNorm: nil))
    let reported = try optimizer.step(s)
    #expect(abs(reported - norm(g)) <= 1e-9 * max(1, norm(g)))
    let p1 = snapshot(s).values
    let p1Expected = p0.reduce(into: [String: [Float]]()) { out, item in out[item.key] = zip(item.value, g[item.key]!).map { $0 - 0.1 * $1 } }
    expectClose(p1, p1Expected, "first step: p − lr·g")
    // Same gradient again: the buffer is 0.9·g + g.
    let p2Expected = p1.reduce(into: [String: [Float]]()) { out, item in
      out[item.key] = zip(item.value, g[item.key]!).map { $0 - 0.1 * (0.9 * $1 + $1) }
    }
    try optimizer.step(s)
    expectClose(snapshot(s).values, p2Expected, "second step: p − lr·(μ·b + g)")
    #expect(optimizer.steps == 2)
    #expect(Set(optimizer.state.keys) == Set(g.keys.map { "momentum." + $0 }))
  }

  @Test func clippingScalesTheWholeGradient() throws {
    let s = try session()
    let (p0, g) = snapshot(s)
    let total = norm(g)
    let limit = total / 4
    try Optimizer(settings: OptimizerSettings(learningRate: 1, momentum: 0, clipNorm: limit)).step(s)
    let scale = Float(limit / (total + 1e-6))
    let expected = p0.reduce(into: [String: [Float]]()) { out, item in out[item.key] = zip(item.value, g[item.key]!).map { $0 - scale * $1 } }
    expectClose(snapshot(s).values, expected, "clipped step")
  }

  @Test func adamFirstStepAndWeightDecay() throws {
    let s = try session()
    let (p0, g) = snapshot(s)
    let (lr, decay): (Float, Float) = (0.01, 0.5)
    try Optimizer(settings: OptimizerSettings(kind: .adam, learningRate: Double(lr), weightDecay: Double(decay), clipNorm: nil)).step(s)
    // Step 1: m̂ = d and v̂ = d² (d = g + decay·p), so p − lr·d / (|d| + 1e-8).
    let expected = p0.reduce(into: [String: [Float]]()) { out, item in
      out[item.key] = zip(item.value, g[item.key]!).map { p, gradient in
        let d = gradient + decay * p
        return p - lr * d / (abs(d) + 1e-8)
      }
    }
    expectClose(snapshot(s).values, expected, "Adam's first step")
  }

  @Test func aNonFiniteGradientChangesNothing() throws {
    let s = try session()
    s.withParametersAndGradients { name, _, gradient, _ in if name == "fc.weight" { gradient[1] = .nan } }
    let before = snapshot(s).values
    let optimizer = Optimizer(settings: OptimizerSettings())
    #expect(throws: NonFiniteGradient.self) { try optimizer.step(s) }
    #expect(snapshot(s).values == before)
    #expect(optimizer.steps == 0)
  }

  @Test func restoredStateIsCheckedAgainstTheParameters() throws {
    let s = try session()
    let optimizer = Optimizer(settings: OptimizerSettings())
    try optimizer.restore(["momentum.fc.weight": HostTensor(shape: [2], values: [0, 0])], steps: 3, source: "ckpt")
    #expect(throws: RuntimeError.self) { try optimizer.validate(against: s, source: "ckpt") }
    #expect(throws: RuntimeError.self) { try optimizer.restore(["adam.v.fc.weight": HostTensor(shape: [1], values: [0])], steps: 1, source: "ckpt") }
  }
  /// The cosine schedule: the full rate in epoch 1, half at the middle, nearly none in the
  /// last, never negative; SGD's step taken at a scale moves the weights by that share.
  @Test func cosineScheduleScalesTheStep() throws {
    let cosine = LearningRateSchedule.cosine
    #expect(cosine.scale(epoch: 1, of: 40) == 1)
    #expect(abs(cosine.scale(epoch: 21, of: 40) - 0.5) < 1e-12)
    let last = cosine.scale(epoch: 40, of: 40)
    #expect(last > 0 && last < 0.002)
    #expect((1...40).map { cosine.scale(epoch: $0, of: 40) }.adjacentPairsDecrease)
    #expect(LearningRateSchedule.constant.scale(epoch: 17, of: 40) == 1)

    let (full, half) = (try session(), try session())
    let (p0, g) = snapshot(full)
    _ = try Optimizer(settings: OptimizerSettings(learningRate: 0.1, momentum: 0, clipNorm: nil)).step(full)
    let scaled = Optimizer(settings: OptimizerSettings(learningRate: 0.1, momentum: 0, clipNorm: nil))
    scaled.learningRateScale = 0.5
    _ = try scaled.step(half)
    for (name, values) in snapshot(half).values {
      let expected = zip(p0[name]!, g[name]!).map { $0 - Float(0.1 * 0.5) * $1 }
      let worst = zip(values, expected).map { abs($0 - $1) }.max() ?? 0
      #expect(worst <= 1e-6, "\(name): the half-rate step is off by \(worst)")
      #expect(values != snapshot(full).values[name]!)
    }
  }
}

extension Array where Element == Double {
  fileprivate var adjacentPairsDecrease: Bool { zip(self, dropFirst()).allSatisfy { $0 > $1 } }
}
