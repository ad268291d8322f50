import GraphIR
import LRPTransform
import ModelLang
import Runtime
import TensorFiles
import Testing
import TestSupport

/// The LRP block of the VGG-style net without batch norm against zennit, an independent LRP
/// library: its Epsilon(0.01) and first-layer ZBox(0, 1) rules are the ISNet rules on a
/// network without batch norms or dense skips. The fixture comes from
/// scripts/zennit_fixture.py (float64; weights exact in float16).
@Suite struct ZennitTests {
  @Test func vggHeatmapsMatchZennit() throws {
    let directory = Repository.path("Tests/Fixtures/zennit")
    let weightsPath = "\(directory)/vgg_small_nobn.weights.safetensors"
    let reference = try SafetensorsFile(path: "\(directory)/vgg_small_nobn.zennit.safetensors")
    let classifier = try compileModel("vgg_small_nobn", options: CompileOptions(classes: 3, inputSize: Pair(32, 32)))
    let graph = try classifier.withLRPBlock(LRPOptions(epsilon: 0.01))
    let batch = reference.info("input")!.shape[0]
    let session = try InferenceSession(graph: graph, weights: try WeightFiles.load(path: weightsPath), weightsSource: weightsPath, batchSize: batch, threads: testThreads)
    let logits = try session.run(try reference.floats("input"), samples: batch)
    let heatmaps = session.values(of: graph.outputs[1], samples: batch)
    let logitError = relativeError(logits, try reference.floats("logits"))
    let heatmapError = relativeError(heatmaps, try reference.floats("heatmaps"))
    print("vgg_small_nobn vs zennit: logits error \(logitError) (bound \(Float32Bound.network(classifier))), heatmaps max error relative to the largest |R| \(heatmapError) (bound \(Float32Bound.network(graph)))")
    // float32 rounding of each graph's longest chain of sums; without batch norms and dense
    // skips this network's heatmaps are well conditioned.
    #expect(logitError <= Float32Bound.network(classifier))
    #expect(heatmapError <= Float32Bound.network(graph))
  }
}
