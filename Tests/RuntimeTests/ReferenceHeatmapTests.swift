import GraphIR
import LRPTransform
import Runtime
import Testing
import TestSupport

/// Heatmaps of the LRP block against the reference implementation (float64, with its two
/// defects fixed), computed here in float32.
///
/// Bound: float32 rounding of the LRP graph's longest chain of sums (`Float32Bound.network`)
/// amplified by the heatmaps' condition: ReLU gates and the ε-rule's sign(z) flip for
/// values near zero, so a one-ulp change of the input or the weights moves deep's heatmaps
/// by ~1e-4 of their largest value. `sensitivity` measures that change on the CPU running
/// the test; rounding is a perturbation of the same size, so the bound is the larger of
/// the chain bound and a few times the measured one-ulp change.
@Suite struct ReferenceHeatmapTests {
  struct Run {
    var logits: [Float]
    var heatmaps: [Float]
  }

  func run(_ name: String, weights: WeightTable? = nil, input: [Float]? = nil, directory: String? = nil, classes: Int? = nil, winograd: Bool? = nil) throws -> (Run, ReferenceFixture) {
    let fixture = try ReferenceFixture(name, directory: directory)
    let graph = try compileModel(name, classes: classes).withLRPBlock()
    let session = try InferenceSession(graph: graph, weights: weights ?? fixture.weights, weightsSource: fixture.weightsPath, batchSize: fixture.batch, threads: testThreads, winograd: winograd)
    let logits = try session.run(try input ?? fixture.input(), samples: fixture.batch)
    return (Run(logits: logits, heatmaps: session.values(of: graph.outputs[1], samples: fixture.batch)), fixture)
  }

  /// The change of the heatmaps (relative to their largest |R|) when every input value, or
  /// every weight, moves by one float32 ulp with a random sign: the larger of the two.
  func sensitivity(_ name: String, directory: String? = nil, classes: Int? = nil) throws -> (heatmaps: Double, logits: Double) {
    let (base, fixture) = try run(name, directory: directory, classes: classes, winograd: false)
    var state: UInt64 = 1
    func nudge(_ v: Float) -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return v * (1 + ((state >> 63) == 0 ? 1.2e-7 : -1.2e-7))
    }
    let (nudgedInput, _) = try run(name, input: try fixture.input().map(nudge), directory: directory, classes: classes, winograd: false)
    var weights = fixture.weights
    // In name order: a dictionary's own order changes from process to process, and with it
    // which weight takes which sign (and so the bound).
    for key in weights.keys.sorted() { weights[key]!.values = weights[key]!.values.map(nudge) }
    let (nudgedWeights, _) = try run(name, weights: weights, directory: directory, classes: classes, winograd: false)
    return (
      max(relativeError(nudgedInput.heatmaps, base.heatmaps), relativeError(nudgedWeights.heatmaps, base.heatmaps)),
      max(relativeError(nudgedInput.logits, base.logits), relativeError(nudgedWeights.logits, base.logits))
    )
  }

  /// The heatmap bound: the LRP graph's chain bound, or 4× the measured one-ulp change
  /// (rounding of a whole pass perturbs like a few ulps), whichever is larger; Winograd's
  /// transforms sum up to 6 terms on each side, ×(1 + 2·√6).
  func heatmapBound(_ name: String, directory: String? = nil, classes: Int? = nil, winograd: Bool = false) throws -> Double {
    let chain = Float32Bound.network(try compileModel(name, classes: classes).withLRPBlock())
    let bound = max(chain, 4 * (try sensitivity(name, directory: directory, classes: classes).heatmaps))
    return winograd ? bound * (1 + 2 * 6.0.squareRoot()) : bound
  }

  /// With direct forward convolutions (`winograd: false`): the bound without Winograd's
  /// factor.
  @Test(arguments: ["tiny", "deep"]) func heatmapsMatchReference(_ name: String) throws {
    let (ours, fixture) = try run(name, winograd: false)
    let logitError = relativeError(ours.logits, try fixture.logits())
    let heatmapError = relativeError(ours.heatmaps, try fixture.eval.floats("heatmaps"))
    let bound = try heatmapBound(name)
    print("\(name) LRP block: logits error \(logitError), heatmaps max error relative to the largest |R| \(heatmapError), bound \(bound)")
    #expect(logitError <= Float32Bound.network(try compileModel(name)))
    #expect(heatmapError <= bound)
  }

  @Test(.enabled(if: ReferenceFixture.externalDirectory != nil))
  func densenet121WinogradHeatmapsMatchReference() throws {
    let directory = ReferenceFixture.externalDirectory
    let (ours, fixture) = try run("densenet121", directory: directory, classes: 3)
    let heatmapError = relativeError(ours.heatmaps, try fixture.eval.floats("heatmaps"))
    let bound = try heatmapBound("densenet121", directory: directory, classes: 3, winograd: true)
    print("densenet121 LRP block with Winograd: heatmaps max error relative to the largest |R| \(heatmapError), bound \(bound)")
    #expect(heatmapError <= bound)
  }

  @Test(.enabled(if: ReferenceFixture.externalDirectory != nil))
  func densenet121HeatmapsMatchReference() throws {
    let directory = ReferenceFixture.externalDirectory
    let (ours, fixture) = try run("densenet121", directory: directory, classes: 3, winograd: false)
    let heatmapError = relativeError(ours.heatmaps, try fixture.eval.floats("heatmaps"))
    let bound = try heatmapBound("densenet121", directory: directory, classes: 3)
    print("densenet121 LRP block: heatmaps max error relative to the largest |R| \(heatmapError), bound \(bound)")
    #expect(relativeError(ours.logits, try fixture.logits()) <= Float32Bound.network(try compileModel("densenet121", classes: 3)))
    #expect(heatmapError <= bound)
  }

  /// With Winograd 3×3 convolutions (forward and transposed; a session's default) the
  /// heatmaps carry its larger float32 rounding.
  @Test(arguments: ["tiny", "deep"]) func winogradHeatmapsMatchReference(_ name: String) throws {
    let (ours, fixture) = try run(name)
    #expect(try InferenceSession(graph: compileModel(name).withLRPBlock(), weights: fixture.weights, weightsSource: fixture.weightsPath, batchSize: 1, threads: 1).winograd)
    let heatmapError = relativeError(ours.heatmaps, try fixture.eval.floats("heatmaps"))
    let bound = try heatmapBound(name, winograd: true)
    print("\(name) LRP block with Winograd: heatmaps max error relative to the largest |R| \(heatmapError), bound \(bound)")
    #expect(heatmapError <= bound)
  }

  /// The fused multiply → ε-divide → batch-norm transpose kernel, and the relevance slices
  /// read in place (deep's dense blocks slice their relevance at every layer), change no bit.
  @Test func fusedChainsGiveTheSameBits() throws {
    let fixture = try ReferenceFixture("deep")
    let graph = try compileModel("deep").withLRPBlock()
    let slices = graph.nodes.filter { if case .sliceChannels = $0.op { true } else { false } }.count
    var heatmaps: [[Float]] = []
    for fuse in [false, true] {
      let session = try InferenceSession(graph: graph, weights: fixture.weights, weightsSource: fixture.weightsPath, batchSize: fixture.batch, threads: testThreads, fuseLRPChains: fuse)
      #expect(session.sliceViews.count == (fuse ? slices : 0), "every slice of deep is read in place")
      _ = try session.run(try fixture.input(), samples: fixture.batch)
      heatmaps.append(session.values(of: graph.outputs[1], samples: fixture.batch))
    }
    let differing = zip(heatmaps[0], heatmaps[1]).filter { $0.bitPattern != $1.bitPattern }.count
    #expect(differing == 0, "\(differing) of \(heatmaps[0].count) values differ")
  }

  /// One float32 ulp of change in the input (or the weights) moves deep's heatmaps far more
  /// than float32 rounding of one chain of sums would: the ε-rule's condition, which the
  /// heatmap bound above takes into account. The logits, by contrast, stay within it.
  @Test func float32Sensitivity() throws {
    let change = try sensitivity("deep")
    let chain = Float32Bound.network(try compileModel("deep"))
    print("deep after one-ulp perturbations: heatmaps \(change.heatmaps), logits \(change.logits), chain bound \(chain)")
    #expect(change.heatmaps > chain)
    #expect(change.logits < chain)
  }
}
