import ArgumentParser
import Runtime

struct Combine: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Combine weight files into one, each under a scope: a pipeline's sub-models.",
    discussion: """
      Each input is FILE or SCOPE=FILE (safetensors or a PyTorch checkpoint); a scoped \
      file's tensors are named SCOPE.NAME, as the parameters of a model's `scope "SCOPE"` \
      are. Inputs are read in order and a later tensor replaces an earlier one of the same \
      name, which is said on standard error: start from `isnetc init` of the whole model to \
      initialise the parts no file gives. The write is atomic.

      Example (the U-Net then DenseNet pipeline, its segmenter trained first):
        isnetc init models/unet_tiny.isnet -o init.safetensors
        isnetc combine init.safetensors segmenter=unet/best.safetensors -o start.safetensors
        isnetc train models/unet_tiny.isnet --weights start.safetensors --freeze segmenter ...
      """
  )

  @Argument(help: ArgumentHelp("Weight files, each FILE or SCOPE=FILE.", valueName: "[SCOPE=]FILE"))
  var inputs: [String]

  @Option(name: .shortAndLong, help: "The combined weights file to write (safetensors).")
  var output: String

  func run() throws {
    var combined = WeightTable()
    for input in inputs {
      let (scope, path) = Self.split(input)
      let table: WeightTable
      do { table = try loadWeights(path) } catch { throw fail(error) }
      var replaced = 0
      for (name, tensor) in table {
        let full = scope.map { "\($0).\(name)" } ?? name
        if combined.updateValue(tensor, forKey: full) != nil { replaced += 1 }
      }
      if replaced > 0 { printError("note: \(path): replaces \(replaced) of the tensors before it") }
    }
    do {
      try WeightFiles.save(combined, metadata: ["format": "pt", "combined": inputs.joined(separator: " ")], to: output)
    } catch {
      throw fail(error)
    }
    print("wrote \(output): \(combined.count) tensors from \(inputs.count) files")
  }

  /// "segmenter=unet.safetensors" → ("segmenter", "unet.safetensors"); a path alone has no
  /// scope (an "=" inside a path is read as a scope only when what precedes it is a name).
  static func split(_ input: String) -> (scope: String?, path: String) {
    guard let equals = input.firstIndex(of: "=") else { return (nil, input) }
    let scope = String(input[..<equals])
    guard !scope.isEmpty, scope.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else { return (nil, input) }
    return (scope, String(input[input.index(after: equals)...]))
  }
}
