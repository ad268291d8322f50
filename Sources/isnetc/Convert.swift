/// `isnetc convert`: a PyTorch checkpoint (`.pth`) to safetensors weights, read natively (no
/// Python, nothing in the file is run), written atomically, with a one-line summary. Also
/// `loadWeights`, which every `--weights` option goes through.

import ArgumentParser
import Foundation
import Runtime

struct Convert: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Convert a PyTorch checkpoint (.pth) into safetensors weights.",
    discussion: """
      Reads what torch.save writes, in the zip format (torch 1.6 and later) or the legacy \
      one, without Python: the pickle inside is interpreted by isnetc, which accepts only \
      what a state_dict needs (OrderedDict, tensors, storages) and runs nothing from the \
      file; any other Python global is refused by name. The state_dict may be the whole \
      file or sit under 'state_dict' (Lightning); a 'module.' prefix on every name (DDP) is \
      removed, torchvision's legacy DenseNet names (norm.1) are renamed (norm1), \
      num_batches_tracked counters are left out, and float16, bfloat16 and float64 tensors \
      become float32 (a note says so). The output is what --weights FILE.pth loads, written \
      atomically; --weights accepts the .pth itself too.

      Examples:
        isnetc convert densenet121-a639ec97.pth -o densenet121.safetensors
        isnetc convert lightning.ckpt -o weights.safetensors
      """
  )

  @Argument(help: ArgumentHelp("The checkpoint (a .pth written by torch.save; safetensors also work).", valueName: "FILE"))
  var input: String

  @Option(name: .shortAndLong, help: "The safetensors file to write.")
  var output: String

  func run() throws {
    let loaded: LoadedWeights
    do {
      loaded = try WeightFiles.read(path: input)
      let source = URL(fileURLWithPath: input).lastPathComponent
      try WeightFiles.save(loaded.table, metadata: ["format": "pt", "source": source], to: output)
    } catch {
      throw fail(error)
    }
    for note in loaded.notes { printError("note: \(input): \(note)") }
    let values = loaded.table.values.reduce(0) { $0 + $1.values.count }
    let converted = loaded.conversions.values.reduce(0, +)
    let conversion = converted > 0 ? ", \(converted) converted to float32" : ""
    print("wrote \(output): \(loaded.table.count) tensors, \(values) values\(conversion) (from \(input), \(loaded.format))")
  }
}

/// Loads a `--weights` file (safetensors or a PyTorch checkpoint), noting on standard error
/// which tensors were converted to float32.
func loadWeights(_ path: String) throws -> WeightTable {
  let loaded = try WeightFiles.read(path: path)
  for note in loaded.conversionNotes { printError("note: \(path): \(note)") }
  return loaded.table
}
