/// A run directory's files. Each is written atomically (a temporary file renamed into
/// place), so a run killed at any moment leaves the previous version whole:
///
/// - `checkpoint.safetensors`: the parameters, running statistics and optimizer state
///   (`optimizer.`-prefixed tensors) with the run's state as JSON in the metadata: one file,
///   so weights, optimizer and state can never come from different epochs. `--resume`
///   reads only this file.
/// - `weights.safetensors`: the latest epoch's weights; `best.safetensors`: the best
///   epoch's (by validation loss). Both load with `isnetc run --weights`.
/// - `run.json`: the run's state for people and scripts (settings, E, per-epoch metrics).

import Foundation
import Runtime
import TensorFiles

public enum Checkpoint {
  public static let fileName = "checkpoint.safetensors"
  static let stateKey = "isnetc.run"
  static let optimizerPrefix = "optimizer."

  public static func write(directory: String, state: RunState, weights: WeightTable, optimizerState: WeightTable, isBest: Bool) throws {
    let json = try encode(state)
    // The best weights first: a run killed before the checkpoint repeats this epoch, bit
    // for bit, and writes them again.
    if isBest { try WeightFiles.save(weights, metadata: ["epoch": "\(state.epochsDone)"], to: "\(directory)/best.safetensors") }
    var entries = weights.keys.sorted().map { SafetensorsEntry(name: $0, shape: weights[$0]!.shape, values: .float32(weights[$0]!.values)) }
    entries += optimizerState.keys.sorted().map {
      SafetensorsEntry(name: optimizerPrefix + $0, shape: optimizerState[$0]!.shape, values: .float32(optimizerState[$0]!.values))
    }
    try SafetensorsWriter.write(entries, metadata: [stateKey: json], to: "\(directory)/\(fileName)")
    try WeightFiles.save(weights, metadata: ["epoch": "\(state.epochsDone)"], to: "\(directory)/weights.safetensors")
    try Data((json + "\n").utf8).write(to: URL(fileURLWithPath: "\(directory)/run.json"), options: .atomic)
  }

  /// The state, weights and optimizer state of `directory`'s checkpoint.
  public static func read(directory: String) throws -> (state: RunState, weights: WeightTable, optimizerState: WeightTable) {
    let path = "\(directory)/\(fileName)"
    guard FileManager.default.fileExists(atPath: path) else {
      throw RuntimeError("\(path): no checkpoint (a run directory holds one after its first epoch)")
    }
    let file = try SafetensorsFile(path: path)
    guard let json = file.metadata[stateKey] else { throw RuntimeError("\(path): not an isnetc checkpoint (no '\(stateKey)' metadata)") }
    let state: RunState
    do {
      let decoder = JSONDecoder()
      decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      state = try decoder.decode(RunState.self, from: Data(json.utf8))
    } catch {
      throw RuntimeError("\(path): the run state in the metadata does not decode: \(error)")
    }
    var weights: WeightTable = [:], optimizer: WeightTable = [:]
    for name in file.names {
      let tensor = HostTensor(shape: file.info(name)!.shape, values: try file.floats(name))
      if name.hasPrefix(optimizerPrefix) {
        optimizer[String(name.dropFirst(optimizerPrefix.count))] = tensor
      } else {
        weights[name] = tensor
      }
    }
    return (state, weights, optimizer)
  }

  static func encode(_ state: RunState) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try encoder.encode(state), as: UTF8.self)
  }
}
