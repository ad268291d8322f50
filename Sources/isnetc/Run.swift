import ArgumentParser
import Foundation
import GraphIR
import LRPTransform
import Runtime

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Classify images or tensors with a model and its weights, with heatmaps.",
    discussion: """
      Prints each input's class scores: softmax probabilities for a single-label model, \
      sigmoid probabilities for a multi-label one, as a table or as JSON. Inputs are PNG or \
      JPEG images (resized to the model's input size and scaled to its declared range), \
      .npy arrays or safetensors files holding [C,H,W] or [N,C,H,W].

      By default the classifier runs with its LRP block and each input's heatmaps are \
      written to --out (see `isnetc heatmap`); the table and JSON name the files. \
      A segmentation model (-> segmentation) writes each input's predicted mask to --out \
      (NAME.mask.png, and NAME.segmentation.png: the input with the mask tinted and \
      outlined) and prints its foreground share.

      --strip-lrp runs the deployment graph instead, what a trained ISNet costs after \
      deployment: no LRP block, dropout removed, batch norms folded into the convolutions \
      before them, ReLUs fused.

      Examples:
        isnetc run models/densenet121.isnet --weights w.safetensors --strip-lrp xray.png
        isnetc run models/tiny.isnet --weights tiny.safetensors --json --batch 8 images/*.png
      """
  )

  @OptionGroup var modelOptions: ModelOptions
  @OptionGroup var inference: InferenceOptions
  @OptionGroup var heatmapOptions: HeatmapOptions

  @Flag(help: "Run the deployment graph without the LRP block (no heatmaps).")
  var stripLrp = false

  @Option(help: ArgumentHelp("Where heatmaps go (without --strip-lrp), or a segmentation model's masks.", valueName: "DIR"))
  var out = "heatmaps"

  @Flag(help: "Print JSON instead of a table.")
  var json = false

  @Argument(help: "Images (PNG, JPEG) or tensors (.npy, .safetensors).")
  var inputs: [String]

  func validate() throws {
    guard !inputs.isEmpty else { throw ValidationError("give at least one input") }
  }

  func run() throws {
    let model = try modelOptions.compile()
    if model.outputKind == .segmentation {
      try segment(try modelOptions.lowered(model, for: .deploy), inference: inference, out: out, json: json, inputs: inputs)
      return
    }
    let outcome = try classify(
      model, modelOptions: modelOptions, inference: inference, heatmaps: stripLrp ? nil : heatmapOptions,
      out: out, inputs: inputs)
    let table = json ? Scores.json(outcome.scores, classNames: outcome.classNames, files: outcome.files)
      : Scores.table(outcome.scores, classNames: outcome.classNames, files: outcome.files)
    print(table, terminator: "")
  }
}

/// What `run` and `heatmap` share: lowers the compiled `model` (with its LRP block when
/// `heatmaps` is given, else its deployment graph), runs every input, and writes heatmaps
/// to `out`. Returns each input's scores and, with heatmaps, the files written for it.
func classify(
  _ model: Graph, modelOptions: ModelOptions, inference: InferenceOptions, heatmaps heatmapOptions: HeatmapOptions?,
  out: String, inputs: [String]
) throws -> (scores: [Scores], files: [[String]]?, classNames: [String]) {
  let graph = try modelOptions.lowered(model, for: heatmapOptions.map { .explain($0.lrp.options) } ?? .deploy)
  let classes = graph[graph.outputs[0]].type.dims[0]
  let names = try inference.classNames(count: classes)
  try heatmapOptions?.explain.validate(classCount: classes)
  let session = try inference.session(for: graph)
  let reader = inference.reader(for: graph)
  let writer = heatmapOptions.map {
    HeatmapWriter(
      directory: out, format: $0.format, overlay: $0.overlay, classNames: names,
      inputDims: reader.dims, range: reader.range)
  }
  try writer?.prepare()
  var stems = StemNamer()
  var results: [Scores] = []
  var files: [[String]] = []
  try forEachBatch(inputs, reader: reader, batch: inference.batch, label: heatmapOptions == nil ? "classifying" : "explaining") { batch in
    let logits = try session.run(batch.flatMap(\.values), samples: batch.count)
    let maps = writer == nil ? [] : session.values(of: graph.outputs[1], samples: batch.count)
    let perSample = maps.count / batch.count
    for (i, sample) in batch.enumerated() {
      let scores = Scores(name: sample.name, logits: Array(logits[i * classes..<(i + 1) * classes]), kind: graph.outputKind)
      results.append(scores)
      guard let writer, let heatmapOptions else { continue }
      files.append(try writer.write(
        stem: stems.stem(for: sample.name), sample: sample, scores: scores,
        heatmaps: Array(maps[i * perSample..<(i + 1) * perSample]),
        classes: heatmapOptions.explain.classes(for: scores)))
    }
  }
  return (results, writer == nil ? nil : files, names)
}
