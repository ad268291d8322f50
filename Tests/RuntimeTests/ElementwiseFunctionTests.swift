import Foundation
import GraphIR
import Testing
import TestSupport

@testable import Runtime

/// The element-wise functions written in the language, compiled, and run by the inference
/// session against the formula in double precision.
@Suite struct ElementwiseFunctionTests {
  @Test func sigmoidRunsAsItsFormula() throws {
    let graph = try compileSource(
      """
      isnet 1;
      model m(input: f32[2, 3, 5] in [-1, 1]) { return flatten(sigmoid(input)); }
      """)
    #expect(graph.text.contains("= sigmoid(%0)"))
    let samples = 3
    let input = (0..<(samples * 30)).map { Float($0 - 45) * 0.7 }  // −31.5 … 30.8: both tails
    let session = try InferenceSession(graph: graph, weights: [:], weightsSource: "none", batchSize: samples, threads: testThreads)
    let output = try session.run(input, samples: samples)
    for (x, y) in zip(input, output) {
      let expected = 1 / (1 + exp(-Double(x)))
      #expect(abs(Double(y) - expected) <= 4 * Double(Float.ulpOfOne) * expected, "σ(\(x)) = \(y), expected \(expected)")
    }
  }

  /// The step is exact, 0 at 0 (ONNX's Relu(Sign(x)) agrees), and passes no gradient.
  @Test func stepThresholdsAtZeroAndIsFlat() throws {
    let graph = try compileSource(
      """
      isnet 1;
      model m(input: f32[1, 2, 3] in [-1, 1]) { return flatten(step(input)); }
      """)
    let input: [Float] = [-1, -1e-30, 0, 1e-30, 0.5, 1, -0.5, 0, 2, -2, 3, -3]
    let session = try InferenceSession(graph: graph, weights: [:], weightsSource: "none", batchSize: 2, threads: testThreads)
    #expect(try session.run(input, samples: 2) == input.map { $0 > 0 ? 1 : 0 })
    let program = try graph.reverseMode()
    #expect(program.gradients.isEmpty)
  }
}
