import ArgumentParser
import CKernels
import Foundation
import Training
import GraphIR
import Runtime

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure how fast the deployment graph (or the LRP block) runs on this machine.",
    discussion: """
      Runs the deployment graph (with --lrp: the classifier and its LRP block, every \
      class's heatmap; with --train: whole training steps, --P setting the heatmap loss's \
      weight) on seeded random inputs in the model's range: a warm-up, \
      then --iterations timed runs. Prints the median milliseconds per batch and per image, \
      images per second, GFLOP/s (2 × multiply-accumulates of convolutions and linear \
      layers), the planned activation memory and the process's peak resident memory. \
      --profile adds the time per op kind. Without --weights, seeded initial weights are used.
      """
  )

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "Weights (safetensors or a PyTorch .pth checkpoint); default: initial weights from --seed.")
  var weights: String?

  @Option(help: "Samples per forward pass.")
  var batch = 1

  @Option(help: "Threads for the kernels.")
  var threads = 2

  @Option(help: "Timed runs.")
  var iterations = 10

  @Option(help: "Seed for inputs and initial weights.")
  var seed: UInt64 = 0

  @Flag(help: "Also print the time per op kind.")
  var profile = false

  @Flag(help: "Also measure OpenBLAS's SGEMM rate (1024³, --threads threads), the ceiling.")
  var gemm = false

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  @Flag(help: "Run the classifier with its LRP block: logits and every class's heatmap.")
  var lrp = false

  @OptionGroup var lrpFlags: LRPFlags

  @Flag(help: "Run 3×3 convolutions as direct GEMMs instead of Winograd F(4×4, 3×3) (not with --train: training chooses its own).")
  var directConvolutions = false

  func validate() throws {
    if train && directConvolutions {
      throw ValidationError("--direct-convolutions times inference; a training step chooses its own (direct where the graph has an LRP block)")
    }
  }

  @Flag(help: "Time training steps instead: forward, loss, backward and the optimizer's update.")
  var train = false

  @Option(name: .customLong("P"), help: "With --train: the heatmap loss's weight (0: the standard classifier, no LRP block).")
  var heatmapWeight = TrainingSettings().heatmapWeight

  @Option(help: "With --train: which heatmaps the loss sees, all, selective or stochastic (default \(TrainingSettings().selection.rawValue)). With selective or stochastic the LRP block explains one class per sample, as training builds it.")
  var heatmaps: HeatmapSelection = TrainingSettings().selection

  @Option(help: "With --train: the heatmap loss the step evaluates, paper or gwrp (default \(TrainingSettings().loss.rawValue)).")
  var loss: TrainingSettings.Loss = TrainingSettings().loss

  @Option(help: "With --train: which relevance tensors the reverse recomputes instead of keeping: auto, none, norm-transposes, element-wise or relevance (docs/training.md) (default \(TrainingSettings().recompute.rawValue)).")
  var recompute: TrainingSession.Recomputation = TrainingSettings().recompute

  @Flag(help: "With --train: the explanation-distillation step instead (the teacher, this model with the same weights, runs forward and its LRP block on masked images; the student forward, LRP block and reverse).")
  var distill = false

  func run() throws {
    let classifier = try modelOptions.compile()
    if train { return try runTrainingSteps(classifier) }
    let graph: Graph
    do { graph = try classifier.lowered(for: lrp ? .explain(lrpFlags.options) : .deploy) } catch { throw fail("\(modelOptions.model): \(error)") }
    let session: InferenceSession
    do {
      let table = try weights.map(loadWeights) ?? Initialization.weights(for: classifier, seed: seed)
      session = try InferenceSession(
        graph: graph, weights: table, weightsSource: weights ?? "initial weights", batchSize: batch, threads: threads,
        winograd: directConvolutions ? false : nil)
    } catch {
      throw fail(error)
    }
    let input = graph[graph.inputIDs[0]]
    guard case .input(let range) = input.op else { return }
    var state = seed &+ 1
    let count = (input.type.elementCount ?? 0) * batch
    let values = (0..<count).map { _ -> Float in
      state = state &* 6364136223846793005 &+ 1442695040888963407
      return Float(range.low + (range.high - range.low) * Double(state >> 11) * 0x1p-53)
    }
    _ = try session.run(values, samples: batch)
    session.profiling = profile
    var times: [Double] = []
    for _ in 0..<max(1, iterations) {
      let start = ContinuousClock.now
      _ = try session.run(values, samples: batch)
      let d = ContinuousClock.now - start
      times.append(d.seconds)
    }
    let median = times.sorted()[times.count / 2]
    let flops = 2 * Double(graph.nodes.indices.reduce(0) { total, i in
      switch graph.nodes[i].op {
      case .conv2d, .linear: total + graph.multiplyAccumulates(of: NodeID(i))
      default: total
      }
    }) * Double(batch)
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let peakMiB = Double(usage.ru_maxrss) / 1024
    let gemmRate = gemm ? measureSGEMM(threads: threads) : nil
    let blasCore = String(cString: isn_blas_core())
    let heatmapsPerImage = lrp ? graph[graph.outputs[0]].type.dims[0] : 0
    if json {
      print(String(format: "{\"model\": \"%@\", \"batch\": %d, \"threads\": %d, \"ms_per_batch\": %.3f, \"ms_per_image\": %.3f, \"images_per_second\": %.2f, \"gflops\": %.2f, \"sgemm_gflops\": %.2f, \"arena_mib\": %.1f, \"peak_rss_mib\": %.1f, \"blas_core\": \"%@\", \"heatmaps_per_image\": %d}",
        graph.name, batch, threads, median * 1e3, median * 1e3 / Double(batch), Double(batch) / median, flops / median / 1e9, gemmRate ?? 0, Double(session.arenaBytes) / 1048576, peakMiB, blasCore, heatmapsPerImage))
    } else {
      print("\(graph.name)\(lrp ? " with its LRP block (\(heatmapsPerImage) heatmaps per image)" : ""), batch \(batch), \(threads) threads, input \(input.type): median of \(times.count) runs")
      print(String(format: "  %.2f ms per batch, %.2f ms per image, %.1f images/s, %.1f GFLOP/s", median * 1e3, median * 1e3 / Double(batch), Double(batch) / median, flops / median / 1e9))
      print(String(format: "  activation arena %.1f MiB, peak resident %.1f MiB", Double(session.arenaBytes) / 1048576, peakMiB))
      print("  OpenBLAS kernels: \(BLASKernels.description)")
      if let gemmRate { print(String(format: "  OpenBLAS SGEMM 1024³: %.1f GFLOP/s (this run reaches %.0f%% of it)", gemmRate, flops / median / 1e9 / gemmRate * 100)) }
    }
    if profile { print(profileTable(session, graph: graph, runs: times.count), terminator: "") }
  }

  /// Seconds per op kind (convolutions split by kernel size), largest first.
  private func profileTable(_ session: InferenceSession, graph: Graph, runs: Int) -> String {
    var byKind: [String: (seconds: Double, macs: Int)] = [:]
    for (index, node) in graph.nodes.enumerated() {
      var key = node.op.name
      let convolution: Conv2DAttributes? =
        switch node.op {
        case .conv2d(let a): a
        case .conv2dTranspose(let t): t.forward
        default: nil
        }
      if let a = convolution { key += " \(a.kernel.h)x\(a.kernel.w)/\(a.stride.h)" }
      let macs = graph.multiplyAccumulates(of: NodeID(index)) * batch
      byKind[key, default: (0, 0)].seconds += session.stepSeconds[index] / Double(runs)
      byKind[key, default: (0, 0)].macs += macs
    }
    var out = "  op                  ms/run   GFLOP/s\n"
    for (key, value) in byKind.sorted(by: { $0.value.seconds > $1.value.seconds }) where value.seconds > 0 {
      out += String(format: "  %-18@ %8.2f  %8.1f\n", key as NSString, value.seconds * 1e3, value.macs > 0 ? 2 * Double(value.macs) / value.seconds / 1e9 : 0)
    }
    return out
  }
}

extension TrainingSession.Recomputation: ExpressibleByArgument {}
