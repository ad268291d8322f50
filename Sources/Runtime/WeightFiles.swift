/// Loading and saving a model's weights as safetensors: names are the model's parameter
/// names (torchvision's), values float32.
///
/// Loading accepts what torchvision checkpoints hold: `num_batches_tracked` counters
/// (integers, not parameters) are skipped, and the legacy DenseNet keys of the official
/// ImageNet checkpoints (`denselayer1.norm.1.weight`) are renamed to the current ones
/// (`denselayer1.norm1.weight`), as torchvision itself does when loading them.

import TensorFiles

public enum WeightFiles {
  public static func load(path: String) throws -> WeightTable {
    let file = try SafetensorsFile(path: path)
    var table: WeightTable = [:]
    for name in file.names {
      guard let info = file.info(name) else { continue }
      if info.dtype.isInteger, name.hasSuffix(".num_batches_tracked") { continue }
      let values = try file.floats(name)
      let key = modernDenseNetKey(name)
      guard table[key] == nil else {
        throw RuntimeError("\(path): tensors '\(name)' and its legacy or current spelling are both present")
      }
      table[key] = HostTensor(shape: info.shape, values: values)
    }
    return table
  }

  /// Writes `table` atomically (a temporary file renamed into place).
  public static func save(_ table: WeightTable, metadata: [String: String] = [:], to path: String) throws {
    let entries = table.keys.sorted().map { name in
      SafetensorsEntry(name: name, shape: table[name]!.shape, values: .float32(table[name]!.values))
    }
    try SafetensorsWriter.write(entries, metadata: metadata, to: path)
  }

  /// `features.denseblock1.denselayer1.norm.1.weight` → `features.denseblock1.denselayer1.norm1.weight`:
  /// torchvision's rule for its legacy checkpoints, `(denselayerN.(norm|relu|conv)).(1|2).(param)`.
  static func modernDenseNetKey(_ name: String) -> String {
    var parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    guard parts.count >= 4 else { return name }
    let n = parts.count
    let parameter = parts[n - 1]
    guard ["weight", "bias", "running_mean", "running_var"].contains(parameter),
      ["1", "2"].contains(parts[n - 2]), ["norm", "relu", "conv"].contains(parts[n - 3]),
      parts[n - 4].hasPrefix("denselayer"), parts[n - 4].dropFirst("denselayer".count).allSatisfy(\.isNumber),
      parts[n - 4].count > "denselayer".count
    else { return name }
    parts[n - 3] += parts[n - 2]
    parts.remove(at: n - 2)
    return parts.joined(separator: ".")
  }
}
