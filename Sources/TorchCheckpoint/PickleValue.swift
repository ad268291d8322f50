/// The values the pickle machine builds: Python's plain data (None, booleans, integers,
/// floats, strings, bytes, tuples, lists, dicts) plus the few torch objects a state_dict
/// holds (storages, tensors) and the allow-listed globals. Nothing here can run code: a
/// "callable" is only a tag that the machine interprets itself.
///
/// A hostile pickle can nest containers a million levels deep in a few bytes per level, and
/// releasing such a structure would recurse as deep and overflow the stack. So tuples carry
/// their nesting depth (bounded by the machine), and every list and dict is also held by a
/// `PickleArena`, which empties them all before letting them go: no release ever recurses
/// through a list or a dict.

import TensorFiles

indirect enum PickleValue {
  case none
  case bool(Bool)
  case int(Int)
  /// An integer too wide for Int: its little-endian two's-complement bytes (LONG1, LONG4).
  case bigInt([UInt8])
  case float(Double)
  case string(String)
  case bytes([UInt8])
  /// Items, and the nesting depth of tuples in tuples (1 for a tuple of no tuples).
  case tuple([PickleValue], depth: Int)
  /// Lists and dicts are shared objects in Python: a memoized one is filled after it is stored.
  case list(PickleList)
  case dict(PickleDict)
  case global(TorchGlobal)
  case storage(StorageReference)
  case tensor(TensorReference)

  /// The Python type name, for messages.
  var typeName: String {
    switch self {
    case .none: "None"
    case .bool: "bool"
    case .int, .bigInt: "int"
    case .float: "float"
    case .string: "str"
    case .bytes: "bytes"
    case .tuple: "tuple"
    case .list: "list"
    case .dict(let d): d.isOrdered ? "OrderedDict" : "dict"
    case .global(let g): g.pythonName
    case .storage: "storage"
    case .tensor: "tensor"
    }
  }

  var string: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  var int: Int? {
    if case .int(let i) = self { return i }
    return nil
  }

  var dict: PickleDict? {
    if case .dict(let d) = self { return d }
    return nil
  }

  var tensor: TensorReference? {
    if case .tensor(let t) = self { return t }
    return nil
  }

  /// The items of a tuple or a list (torch writes sizes as tuples, strides as tuples or lists).
  var sequence: [PickleValue]? {
    switch self {
    case .tuple(let items, _): items
    case .list(let list): list.items
    default: nil
    }
  }
}

/// Holds every list and dict a machine creates; when it goes, it empties them first, so
/// that none is released recursively (see above). Values must not outlive their arena.
final class PickleArena {
  private var lists: [PickleList] = []
  private var dicts: [PickleDict] = []

  /// Registers `value` if it is a list or a dict.
  func hold(_ value: PickleValue) {
    switch value {
    case .list(let list): lists.append(list)
    case .dict(let dict): dicts.append(dict)
    default: break
    }
  }

  deinit {
    // Every container is still held here, so emptying one releases nothing recursively.
    for list in lists { list.items.removeAll() }
    for dict in dicts { dict.removeAll() }
  }
}

final class PickleList {
  var items: [PickleValue]
  init(_ items: [PickleValue] = []) { self.items = items }
}

/// A dict in insertion order (Python's dicts keep it). Keys that are strings or integers
/// replace an earlier equal key, as in Python; other keys are kept side by side.
final class PickleDict {
  let isOrdered: Bool
  private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
  private var stringIndex: [String: Int] = [:]
  private var intIndex: [Int: Int] = [:]

  init(ordered: Bool) { isOrdered = ordered }

  func set(_ key: PickleValue, _ value: PickleValue) {
    switch key {
    case .string(let s):
      if let i = stringIndex[s] { entries[i].value = value; return }
      stringIndex[s] = entries.count
    case .int(let n):
      if let i = intIndex[n] { entries[i].value = value; return }
      intIndex[n] = entries.count
    default:
      break
    }
    entries.append((key, value))
  }

  func removeAll() {
    entries.removeAll()
    stringIndex.removeAll()
    intIndex.removeAll()
  }

  subscript(key: String) -> PickleValue? {
    stringIndex[key].map { entries[$0].value }
  }
}

/// A storage that a persistent id named: where its bytes are and how many of them there are.
struct StorageReference {
  /// The record name in a zip checkpoint (`data/KEY`), or the storage key of a legacy one.
  let key: String
  /// The element type the storage was saved as (`torch.FloatStorage` → F32); U8 when untyped.
  let dtype: TensorDType
  /// Size in bytes.
  let byteCount: Int
  /// Start in bytes inside the saved storage (legacy storage views; 0 otherwise).
  let byteOffset: Int
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a view of a storage.
struct TensorReference {
  let storage: StorageReference
  /// The tensor's element type (the storage's, except for `_rebuild_tensor_v3`).
  let dtype: TensorDType
  /// In elements of `dtype`.
  let offset: Int
  let shape: [Int]
  let strides: [Int]
}
