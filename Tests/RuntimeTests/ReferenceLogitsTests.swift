import GraphIR
import Runtime
import Testing
import TestSupport

/// Logits of the fixture models equal the reference implementation's (float64) within
/// 1e-4 of the largest logit, in float32, for the classifier as written and for its
/// deployment graph; and the two graphs agree within 1e-5 (3e-5 with Winograd 3×3 convolutions).
@Suite struct ReferenceLogitsTests {
  @Test(arguments: ["tiny", "deep"]) func logitsMatchReference(_ name: String) throws {
    let fixture = try ReferenceFixture(name)
    let classifier = try compileModel(name)
    let deployed = classifier.deploymentGraph()
    var results: [[Float]] = []
    for (graph, winograd) in [(classifier, false), (deployed, false), (deployed, true)] {
      let session = try InferenceSession(graph: graph, weights: fixture.weights, weightsSource: fixture.weightsPath, batchSize: fixture.batch, threads: 2, winograd: winograd)
      let logits = try session.run(try fixture.input(), samples: fixture.batch)
      let error = relativeError(logits, try fixture.logits())
      print("\(name) \(graph == deployed ? "deployment graph" : "classifier")\(winograd ? " (Winograd)" : ""): logits max error relative to the largest logit \(error)")
      #expect(error <= 1e-4)
      results.append(logits)
    }
    // Pruning changes nothing but rounding; Winograd's rounding is a little larger.
    #expect(relativeError(results[1], results[0]) <= 1e-5)
    #expect(relativeError(results[2], results[0]) <= 3e-5)
  }

  /// DenseNet-121 itself, when `ISNETC_REFERENCE_DIR` names a folder holding
  /// `densenet121.weights.safetensors` and `densenet121.eval.safetensors`.
  @Test(.enabled(if: ReferenceFixture.externalDirectory != nil))
  func densenet121LogitsMatchReference() throws {
    let fixture = try ReferenceFixture("densenet121", directory: ReferenceFixture.externalDirectory)
    let graph = try compileModel("densenet121", classes: 3).deploymentGraph()
    let session = try InferenceSession(graph: graph, weights: fixture.weights, weightsSource: fixture.weightsPath, batchSize: fixture.batch, threads: 2)
    let error = relativeError(try session.run(try fixture.input(), samples: fixture.batch), try fixture.logits())
    print("densenet121 logits: max error relative to the largest logit \(error)")
    #expect(error <= 1e-4)
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
    #expect(relativeError(try run(threads: 1), try run(threads: 2)) <= 1e-6)
    // A batch of 2 planned, 1 sample run: the first sample's logits.
    let session = try InferenceSession(graph: graph, weights: fixture.weights, weightsSource: "tiny", batchSize: 2, threads: 2)
    let one = try session.run(Array(input.prefix(input.count / 2)), samples: 1)
    #expect(relativeError(one, Array(try fixture.logits().prefix(3))) <= 1e-4)
  }
}
