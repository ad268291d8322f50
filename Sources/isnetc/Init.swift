import ArgumentParser
import Runtime

struct Init: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write initial weights for a model, initialised as torchvision initialises DenseNet.",
    discussion: """
      Convolutions: Kaiming normal (fan-in, ReLU gain). Batch norm: weight 1, bias 0, \
      running mean 0, running variance 1. Linear: uniform ±1/sqrt(fan-in) weights, zero \
      bias. The same seed always writes the same file; the write is atomic.
      """
  )

  @OptionGroup var modelOptions: ModelOptions

  @Option(name: .shortAndLong, help: "The weights file to write (safetensors).")
  var output: String

  @Option(help: "Seed of the random initialisation.")
  var seed: UInt64 = 0

  func run() throws {
    let graph = try modelOptions.compile()
    let table = Initialization.weights(for: graph, seed: seed)
    do {
      try WeightFiles.save(table, metadata: ["model": graph.name, "seed": String(seed), "format": "pt"], to: output)
    } catch {
      throw fail(error)
    }
    let count = graph.parameters.reduce(0) { $0 + $1.elementCount }
    print("wrote \(output): \(table.count) tensors, \(count) values (seed \(seed))")
  }
}
