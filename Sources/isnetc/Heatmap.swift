import ArgumentParser
import Foundation

struct Heatmap: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write each input's LRP heatmaps: raw maps, PNG pictures and a contact sheet.",
    discussion: """
      Runs the classifier with its LRP block (the ISNet's explanation network: ε-rule, Zᴮ \
      first layer, batch norms fused; see docs/lrp.md) and writes into --out, for every \
      input and explained class: the raw heatmap [C,H,W] (NAME.classK.npy, or one \
      NAME.heatmaps.safetensors per input) and NAME.classK.png: the map summed over \
      channels, coloured blue (negative) – white – red (positive) over ±R, R the 99.5th \
      percentile of |R| over the input's explained classes (one scale, so they compare), \
      enlarged to at least 224 pixels a side, with the class, logit, probability and a \
      colour bar. NAME.sheet.png shows the image beside every explained class's map, \
      alone and over the image in gray, with the colour bar.

      Examples:
        isnetc heatmap models/densenet121.isnet --weights w.safetensors --out maps xray.png
        isnetc heatmap models/tiny.isnet --weights t.safetensors --out maps --explain top --overlay a.png b.png
      """
  )

  @OptionGroup var modelOptions: ModelOptions
  @OptionGroup var inference: InferenceOptions
  @OptionGroup var heatmapOptions: HeatmapOptions

  @Option(help: ArgumentHelp("Directory for the heatmap files (created if missing).", valueName: "DIR"))
  var out: String

  @Argument(help: "Images (PNG, JPEG) or tensors (.npy, .safetensors).")
  var inputs: [String]

  func validate() throws {
    guard !inputs.isEmpty else { throw ValidationError("give at least one input") }
  }

  func run() throws {
    let outcome = try classify(try modelOptions.compile(), modelOptions: modelOptions, inference: inference, heatmaps: heatmapOptions, out: out, inputs: inputs)
    for (scores, files) in zip(outcome.scores, outcome.files ?? []) {
      print("\(scores.name): \(files.count) files, contact sheet \(files.last ?? "")")
    }
  }
}
