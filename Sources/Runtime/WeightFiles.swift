/// Loading and saving a model's weights: names are the model's parameter names (torchvision's),
/// values float32. Loading reads safetensors and PyTorch checkpoints (`.pth`, zip or legacy
/// format, told apart by content, not by extension).
///
/// Loading accepts what torchvision checkpoints hold: `num_batches_tracked` counters (not
/// parameters) are skipped, and the legacy DenseNet keys of the official
/// ImageNet checkpoints (`denselayer1.norm.1.weight`) are renamed to the current ones
/// (`denselayer1.norm1.weight`), as torchvision itself does when loading them. Float16,
/// bfloat16 and float64 tensors are converted to float32, and counted so callers can say so.

import TensorFiles
import TorchCheckpoint

/// A weights file as loaded, with what loading changed.
public struct LoadedWeights: Sendable {
  public var table: WeightTable = [:]
  /// "safetensors", "PyTorch zip checkpoint" or "PyTorch legacy checkpoint".
  public var format: String
  /// Tensors converted to float32, by their stored type (F16, BF16, F64).
  public var conversions: [TensorDType: Int] = [:]
  /// Integer `num_batches_tracked` counters left out.
  public var skippedCounters = 0
  /// Legacy DenseNet keys renamed (`norm.1` → `norm1`).
  public var renamedKeys = 0
  /// The checkpoint key the state_dict was under (`state_dict`), and the prefix removed from
  /// every name (`module.`); PyTorch checkpoints only.
  public var container: String?
  public var strippedPrefix: String?

  /// "converted 606 float16 tensors to float32", one line per stored type.
  public var conversionNotes: [String] {
    conversions.keys.sorted { $0.rawValue < $1.rawValue }.map { dtype in
      let n = conversions[dtype]!
      let rounding = dtype == .f64 ? " (rounded)" : ""
      return "converted \(n) \(Self.pythonName(dtype)) tensor\(n == 1 ? "" : "s") to float32\(rounding)"
    }
  }

  /// Every change loading made, conversions first.
  public var notes: [String] {
    var notes = conversionNotes
    if let container { notes.append("took the state_dict under '\(container)'") }
    if let strippedPrefix { notes.append("removed the prefix '\(strippedPrefix)' from every name") }
    if renamedKeys > 0 { notes.append("renamed \(renamedKeys) legacy DenseNet keys (norm.1 → norm1)") }
    if skippedCounters > 0 { notes.append("skipped \(skippedCounters) num_batches_tracked counters") }
    return notes
  }

  private static func pythonName(_ dtype: TensorDType) -> String {
    switch dtype {
    case .f16: "float16"
    case .bf16: "bfloat16"
    case .f64: "float64"
    default: dtype.rawValue
    }
  }

  /// Adds one stored tensor: counters skipped, legacy names renamed, duplicates refused.
  mutating func add(name: String, dtype: TensorDType, shape: [Int], path: String, values: () throws -> [Float]?) throws {
    // Counters are int64 in torch, but a careless `.half()` on a whole state_dict makes them
    // float16; either way they are no parameter of any model.
    if name.hasSuffix(".num_batches_tracked") {
      skippedCounters += 1
      return
    }
    guard let values = try values() else {
      throw TensorFileError(file: path, tensor: name, "unsupported dtype \(dtype.rawValue) for weights (only F32, F16, BF16, F64)")
    }
    let key = WeightFiles.modernDenseNetKey(name)
    guard table[key] == nil else {
      throw RuntimeError("\(path): tensors '\(name)' and its legacy or current spelling are both present")
    }
    if key != name { renamedKeys += 1 }
    if dtype != .f32 { conversions[dtype, default: 0] += 1 }
    table[key] = HostTensor(shape: shape, values: values)
  }
}

public enum WeightFiles {
  public static func load(path: String) throws -> WeightTable {
    try read(path: path).table
  }

  /// Loads a safetensors file or a PyTorch checkpoint, saying what loading changed.
  public static func read(path: String) throws -> LoadedWeights {
    if TorchCheckpoint.recognizes(path: path) {
      let checkpoint = try TorchCheckpoint(path: path)
      var loaded = LoadedWeights(format: checkpoint.format.rawValue)
      loaded.container = checkpoint.container
      loaded.strippedPrefix = checkpoint.strippedPrefix
      for tensor in checkpoint.tensors {
        try loaded.add(name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, path: path) { tensor.values }
      }
      return loaded
    }
    let file = try SafetensorsFile(path: path)
    var loaded = LoadedWeights(format: "safetensors")
    for name in file.names {
      guard let info = file.info(name) else { continue }
      try loaded.add(name: name, dtype: info.dtype, shape: info.shape, path: path) { try file.floats(name) }
    }
    return loaded
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
