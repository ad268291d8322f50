import ArgumentParser
import Foundation
import GraphIR
import ImageIO
import Runtime

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Classify images or tensors with a model and its weights.",
    discussion: """
      Prints each input's class scores: softmax probabilities for a single-label model, \
      sigmoid probabilities for a multi-label one, as a table or as JSON. Inputs are PNG or \
      JPEG images (resized to the model's input size and scaled to its declared range), \
      .npy arrays or safetensors files holding [C,H,W] or [N,C,H,W].

      --strip-lrp runs the deployment graph: no LRP block, dropout removed, batch norms \
      folded into the convolutions before them, ReLUs fused. Heatmaps (the LRP block) are \
      not available in this version, so the default runs the same deployment graph.

      Examples:
        isnetc run models/densenet121.isnet --weights w.safetensors --strip-lrp xray.png
        isnetc run models/tiny.isnet --weights tiny.safetensors --json --batch 8 images/*.png
      """
  )

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "Weights (safetensors) named as the model's parameters.")
  var weights: String

  @Flag(help: "Run the deployment graph without the LRP block.")
  var stripLrp = false

  @Option(help: "Threads for the kernels.")
  var threads = 2

  @Option(help: "Samples per forward pass.")
  var batch = 1

  @Flag(help: "Print JSON instead of a table.")
  var json = false

  @Option(help: ArgumentHelp("Class names, one per line, for the table and JSON.", valueName: "FILE"))
  var labels: String?

  @Flag(help: "Pad images to a square with zeros before resizing (the paper's preprocessing).")
  var padSquare = false

  @Flag(help: "Equalize each image's histogram before resizing.")
  var equalize = false

  @Argument(help: "Images (PNG, JPEG) or tensors (.npy, .safetensors).")
  var inputs: [String]

  func validate() throws {
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    guard !inputs.isEmpty else { throw ValidationError("give at least one input") }
  }

  func run() throws {
    let graph = try modelOptions.compile().deploymentGraph()
    let classes = graph[graph.outputs[0]].type.dims[0]
    let names = try classNames(count: classes)
    let reader = InputReader(graph: graph, options: PreprocessOptions(padToSquare: padSquare, equalizeHistogram: equalize))
    let session: InferenceSession
    do {
      session = try InferenceSession(
        graph: graph, weights: try WeightFiles.load(path: weights), weightsSource: weights,
        batchSize: batch, threads: threads)
    } catch {
      throw fail(error)
    }
    var results: [(name: String, logits: [Float])] = []
    var pending: [LoadedSample] = []
    let progress = Progress(total: inputs.count, label: "classifying")
    func flush() throws {
      guard !pending.isEmpty else { return }
      let logits = try session.run(pending.flatMap(\.values), samples: pending.count)
      for (i, sample) in pending.enumerated() {
        results.append((sample.name, Array(logits[i * classes..<(i + 1) * classes])))
      }
      pending.removeAll()
    }
    for (index, path) in inputs.enumerated() {
      do {
        for sample in try reader.read(path) {
          pending.append(sample)
          if pending.count == batch { try flush() }
        }
      } catch {
        throw fail(error)
      }
      progress.update(index + 1)
    }
    do { try flush() } catch { throw fail(error) }
    progress.finish()
    let scores = results.map { Scores(name: $0.name, logits: $0.logits, kind: graph.outputKind) }
    print(json ? Scores.json(scores, classNames: names) : Scores.table(scores, classNames: names), terminator: "")
  }

  private func classNames(count: Int) throws -> [String] {
    guard let labels else { return (0..<count).map(String.init) }
    guard let text = try? String(contentsOfFile: labels, encoding: .utf8) else {
      throw fail("cannot read class names from '\(labels)'")
    }
    let names = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      .filter { !$0.isEmpty }
    guard names.count == count else {
      throw fail("\(labels): \(names.count) class names for a model with \(count) classes")
    }
    return names
  }
}
