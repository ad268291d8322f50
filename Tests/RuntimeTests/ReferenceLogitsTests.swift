import GraphIR
import Runtime
import Testing
import TestSupport

/// Logits of the fixture models equal the reference implementation's (float64) to float32
/// rounding, for the classifier as written and for its deployment graph, with and without
/// Winograd 3×3 convolutions. Bounds are relative to the largest logit and come from the
/// graph's longest chain of sums (`Float32Bound.network`).
@Suite struct ReferenceLogitsTests {
  @Test(arguments: ["tiny", "deep"]) func logitsMatchReference(_ name: String) throws {
    let fixture = try ReferenceFixture(name)
    let classifier = try compileModel(name)
    let deployed = classifier.deploymentGraph()
    // Each float32 run is within one chain bound of the exact logits; Winograd F(4×4, 3×3)
    // transforms a tile with sums of up to 6 terms on both sides, ×(1 + 2·√6) more terms.
    let bound = Float32Bound.network(classifier)
    let winogradBound = bound * (1 + 2 * 6.0.squareRoot())
    var results: [[Float]] = []
    for (graph, winograd) in [(classifier, false), (deployed, false), (deployed, true)] {
      let session = try InferenceSession(graph: graph, weights: fixture.weights, weightsSource: fixture.weightsPath, batchSize: fixture.batch, threads: testThreads, winograd: winograd)
      let logits = try session.run(try fixture.input(), samples: fixture.batch)
      let error = relativeError(logits, try fixture.logits())
      print("\(name) \(graph == deployed ? "deployment graph" : "classifier")\(winograd ? " (Winograd)" : ""): logits max error relative to the largest logit \(error), bound \(winograd ? winogradBound : bound)")
      #expect(error <= (winograd ? winogradBound : bound))
      results.append(logits)
    }
    // Two float32 runs of the same sums differ by at most the sum of their bounds.
    #expect(relativeError(results[1], results[0]) <= 2 * bound)
    #expect(relativeError(results[2], results[0]) <= bound + winogradBound)
  }

  /// DenseNet-121 itself, when `ISNETC_REFERENCE_DIR` names a folder holding
  /// `densenet121.weights.safetensors` and `densenet121.eval.safetensors`.
  @Test(.enabled(if: ReferenceFixture.externalDirectory != nil))
  func densenet121LogitsMatchReference() throws {
    let fixture = try ReferenceFixture("densenet121", directory: ReferenceFixture.externalDirectory)
    let graph = try compileModel("densenet121", classes: 3).deploymentGraph()
    let session = try InferenceSession(graph: graph, weights: fixture.weights, weightsSource: fixture.weightsPath, batchSize: fixture.batch, threads: testThreads)
    let error = relativeError(try session.run(try fixture.input(), samples: fixture.batch), try fixture.logits())
    print("densenet121 logits: max error relative to the largest logit \(error), bound \(Float32Bound.network(graph))")
    #expect(error <= Float32Bound.network(graph))
  }

  @Test func sameBitsForSameThreadCountAndBatchSplitsAgree() throws {
    let fixture = try ReferenceFixture("tiny")
    let graph = try compileModel("tiny").deploymentGraph()
    let input = try fixture.input()
    func run(threads: Int) throws -> [Float] {
      let session = try InferenceSession(graph: graph, weights: fixture.weights, weightsSource: "tiny", batchSize: 2, threads: threads)
      return try session.run(input, samples: 2)
    }
    #expect(try run(threads: 2) == (try run(threads: 2)))
    // Another thread count may split sums differently: two float32 runs, two bounds.
    let bound = Float32Bound.network(graph)
    #expect(relativeError(try run(threads: 1), try run(threads: 2)) <= 2 * bound)
    // A batch of 2 planned, 1 sample run: the first sample's logits.
    let session = try InferenceSession(graph: graph, weights: fixture.weights, weightsSource: "tiny", batchSize: 2, threads: testThreads)
    let one = try session.run(Array(input.prefix(input.count / 2)), samples: 1)
    #expect(relativeError(one, Array(try fixture.logits().prefix(3))) <= bound)
  }
}
