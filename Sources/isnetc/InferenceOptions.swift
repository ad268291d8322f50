import ArgumentParser
import Foundation
import GraphIR
import ImageIO
import Runtime

/// What every command that runs a model on inputs shares: weights, threads, batching,
/// class names and the image preprocessing.
struct InferenceOptions: ParsableArguments {
  @Option(help: "Weights named as the model's parameters: safetensors or a PyTorch .pth checkpoint.")
  var weights: String

  @Option(help: "Threads for the kernels.")
  var threads = 2

  @Option(help: "Samples per pass.")
  var batch = 1

  @Option(help: ArgumentHelp("Class names, one per line, for tables, JSON and pictures.", valueName: "FILE"))
  var labels: String?

  @Flag(help: "Run 3×3 convolutions as direct GEMMs instead of Winograd F(4×4, 3×3): a third of the speed, with less float32 rounding in the heatmaps (docs/lrp.md).")
  var directConvolutions = false

  @OptionGroup var preprocessing: PreprocessingFlags

  func validate() throws {
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
  }

  func reader(for graph: Graph) -> InputReader {
    InputReader(graph: graph, options: preprocessing.options)
  }

  func session(for graph: Graph) throws -> InferenceSession {
    do {
      return try InferenceSession(
        graph: graph, weights: try loadWeights(weights), weightsSource: weights,
        batchSize: batch, threads: threads, winograd: directConvolutions ? false : nil)
    } catch {
      throw fail(error)
    }
  }

  func classNames(count: Int) throws -> [String] {
    guard let labels else { return (0..<count).map(String.init) }
    guard let text = try? String(contentsOfFile: labels, encoding: .utf8) else {
      throw fail("cannot read class names from '\(labels)'")
    }
    let names = text.split(separator: "\n", omittingEmptySubsequences: false)
      .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard names.count == count else {
      throw fail("\(labels): \(names.count) class names for a model with \(count) classes")
    }
    return names
  }
}

/// How images are prepared before resizing (shared by inference and training).
struct PreprocessingFlags: ParsableArguments {
  @Flag(help: "Pad images to a square with zeros before resizing (the paper's preprocessing).")
  var padSquare = false

  @Flag(help: "Equalize each image's histogram before resizing.")
  var equalize = false

  var options: PreprocessOptions { PreprocessOptions(padToSquare: padSquare, equalizeHistogram: equalize) }
}

/// The options of the LRP block and of the heatmap files.
struct HeatmapOptions: ParsableArguments {
  @OptionGroup var lrp: LRPFlags

  @Option(help: ClassSelection.help)
  var explain: ClassSelection = .all

  @Option(help: "Raw heatmap files: npy (one per class) or safetensors (one per input).")
  var format: RawFormat = .npy

  @Flag(help: "Lay each class's heatmap PNG over the input image (the sheet shows both).")
  var overlay = false
}
