/// Finding the state_dict in an unpickled checkpoint: the object itself when it is a dict of
/// tensors (`torch.save(model.state_dict())`), or the dict under `state_dict` (Lightning and
/// most training scripts), `model_state_dict` or `model` (only when that is a dict of tensors).
/// A prefix `module.` on every key, left by DistributedDataParallel or DataParallel, is removed.

import TensorFiles

struct StateDict {
  /// Names (prefix removed) and tensors, in the checkpoint's order.
  var entries: [(name: String, tensor: TensorReference)]
  /// The key the state dict was found under; nil when it is the checkpoint's object itself.
  var container: String?
  /// The prefix removed from every key (`module.`, or `module.module.` for nested wrappers).
  var strippedPrefix: String?

  init(root: PickleValue, file: String) throws(TensorFileError) {
    guard case .dict(let dict) = root else {
      throw TensorFileError(file: file, "the checkpoint holds a \(root.typeName), not a state_dict (a dict of tensors)")
    }
    if let inner = dict["state_dict"] {
      guard case .dict(let stateDict) = inner else {
        throw TensorFileError(file: file, "the checkpoint's 'state_dict' is a \(inner.typeName), not a dict of tensors")
      }
      entries = try Self.tensors(of: stateDict, file: file, container: "state_dict")
      container = "state_dict"
    } else if !Self.holdsTensors(dict),
      let key = ["model_state_dict", "model"].first(where: { dict[$0]?.dict.map(Self.holdsOnlyTensors) ?? false }),
      let stateDict = dict[key]?.dict
    {
      entries = try Self.tensors(of: stateDict, file: file, container: key)
      container = key
    } else if dict.entries.isEmpty || Self.holdsTensors(dict) {
      entries = try Self.tensors(of: dict, file: file, container: nil)
    } else {
      let keys = dict.entries.prefix(8).map { $0.key.string.map { "'\($0)'" } ?? $0.key.typeName }.joined(separator: ", ")
      throw TensorFileError(
        file: file, "no state_dict in the checkpoint: its dict (keys \(keys)\(dict.entries.count > 8 ? ", …" : "")) holds no tensors and no 'state_dict'")
    }
    var prefix = ""
    while !entries.isEmpty, entries.allSatisfy({ $0.name.dropFirst(prefix.count).hasPrefix("module.") }) {
      prefix += "module."
    }
    if !prefix.isEmpty {
      entries = entries.map { (String($0.name.dropFirst(prefix.count)), $0.tensor) }
      strippedPrefix = prefix
    }
  }

  private static func holdsTensors(_ dict: PickleDict) -> Bool {
    dict.entries.contains { $0.value.tensor != nil }
  }

  private static func holdsOnlyTensors(_ dict: PickleDict) -> Bool {
    !dict.entries.isEmpty && dict.entries.allSatisfy { $0.key.string != nil && $0.value.tensor != nil }
  }

  private static func tensors(of dict: PickleDict, file: String, container: String?) throws(TensorFileError) -> [(name: String, tensor: TensorReference)] {
    var entries: [(name: String, tensor: TensorReference)] = []
    for (key, value) in dict.entries {
      guard let name = key.string else {
        throw TensorFileError(file: file, "the state_dict has a key of type \(key.typeName); tensor names are strings")
      }
      guard let tensor = value.tensor else {
        let place = container.map { "\($0)['\(name)']" } ?? "entry"
        throw TensorFileError(file: file, tensor: name, "\(place) is a \(value.typeName), not a tensor")
      }
      entries.append((name, tensor))
    }
    return entries
  }
}
