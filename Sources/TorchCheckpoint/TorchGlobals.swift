/// The allow-list of Python globals a checkpoint may name, and the native interpretation of
/// the few that REDUCE may apply. A state_dict needs `collections.OrderedDict`, torch's tensor
/// rebuild functions, storage classes and dtypes; every other global (`posix.system`,
/// `builtins.eval`, any class) is refused when the pickle names it, before anything else
/// happens. Applying an allowed global builds a value here; no Python is involved.

import TensorFiles

enum TorchGlobal: Equatable {
  case orderedDict
  /// `torch._utils._rebuild_tensor` (before torch 1.0), `_v2`, `_v3` (dtype given separately).
  case rebuildTensor, rebuildTensorV2, rebuildTensorV3
  /// `torch._utils._rebuild_parameter` and `_rebuild_parameter_with_state`: an nn.Parameter.
  case rebuildParameter, rebuildParameterWithState
  /// `torch.FloatStorage` and the other typed storage classes; `torch.UntypedStorage` is U8.
  case storageType(TensorDType, module: String, name: String)
  /// `torch.float32` and the other dtype objects (used by `_rebuild_tensor_v3`).
  case dtype(TensorDType, name: String)

  /// Resolves `module.name`, or nil when the global is not allowed.
  init?(module: String, name: String) {
    switch (module, name) {
    case ("collections", "OrderedDict"): self = .orderedDict
    case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
    case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
    case ("torch._utils", "_rebuild_tensor_v3"): self = .rebuildTensorV3
    case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
    case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
    case ("torch", _), ("torch.storage", _), ("torch.cuda", _):
      // torch.cuda.FloatStorage: a legacy checkpoint saved from the GPU; the bytes are the same.
      if let dtype = Self.storageTypes[name] {
        self = .storageType(dtype, module: module, name: name)
      } else if module == "torch", let dtype = Self.dtypes[name] {
        self = .dtype(dtype, name: name)
      } else {
        return nil
      }
    default: return nil
    }
  }

  private static let storageTypes: [String: TensorDType] = [
    "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
    "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
    "ByteStorage": .u8, "BoolStorage": .bool, "UntypedStorage": .u8,
  ]

  private static let dtypes: [String: TensorDType] = [
    "float32": .f32, "float16": .f16, "bfloat16": .bf16, "float64": .f64, "int64": .i64,
    "int32": .i32, "int16": .i16, "int8": .i8, "uint8": .u8, "bool": .bool, "uint16": .u16,
    "uint32": .u32, "uint64": .u64, "float8_e5m2": .f8e5m2, "float8_e4m3fn": .f8e4m3,
  ]

  var pythonName: String {
    switch self {
    case .orderedDict: "collections.OrderedDict"
    case .rebuildTensor: "torch._utils._rebuild_tensor"
    case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
    case .rebuildTensorV3: "torch._utils._rebuild_tensor_v3"
    case .rebuildParameter: "torch._utils._rebuild_parameter"
    case .rebuildParameterWithState: "torch._utils._rebuild_parameter_with_state"
    case .storageType(_, let module, let name): "\(module).\(name)"
    case .dtype(_, let name): "torch.\(name)"
    }
  }

  /// What REDUCE (or NEWOBJ) makes of this global applied to `arguments`; the error text
  /// when the global is not something isnetc applies, or the arguments do not fit.
  func apply(_ arguments: [PickleValue]) -> Result<PickleValue, ApplyError> {
    switch self {
    case .orderedDict:
      return orderedDict(arguments)
    case .rebuildTensor, .rebuildTensorV2:
      // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
      guard (self == .rebuildTensor ? 4...4 : 4...7).contains(arguments.count) else { return arity("4 to 7") }
      return tensor(arguments[0], arguments[1], arguments[2], arguments[3], dtype: nil)
    case .rebuildTensorV3:
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
      guard (7...8).contains(arguments.count) else { return arity("7 or 8") }
      guard case .global(.dtype(let dtype, _)) = arguments[6] else {
        return .failure(ApplyError("\(pythonName) expects a torch dtype as its 7th argument, got \(arguments[6].typeName)"))
      }
      return tensor(arguments[0], arguments[1], arguments[2], arguments[3], dtype: dtype)
    case .rebuildParameter, .rebuildParameterWithState:
      // (data, requires_grad, backward_hooks[, state]): the parameter is its tensor.
      guard arguments.count == (self == .rebuildParameter ? 3 : 4) else { return arity(self == .rebuildParameter ? "3" : "4") }
      guard case .tensor = arguments[0] else {
        return .failure(ApplyError("\(pythonName) expects a tensor, got \(arguments[0].typeName)"))
      }
      return .success(arguments[0])
    case .storageType, .dtype:
      return .failure(ApplyError("\(pythonName) is not a function that isnetc applies"))
    }
  }

  struct ApplyError: Error {
    let message: String
    init(_ message: String) { self.message = message }
  }

  private func arity(_ expected: String) -> Result<PickleValue, ApplyError> {
    .failure(ApplyError("\(pythonName) takes \(expected) arguments"))
  }

  /// `OrderedDict()` or `OrderedDict([(key, value), ...])`.
  private func orderedDict(_ arguments: [PickleValue]) -> Result<PickleValue, ApplyError> {
    let dict = PickleDict(ordered: true)
    guard arguments.count <= 1 else { return arity("0 or 1") }
    if let items = arguments.first {
      guard let pairs = items.sequence else {
        return .failure(ApplyError("OrderedDict expects a list of pairs, got \(items.typeName)"))
      }
      for pair in pairs {
        guard let kv = pair.sequence, kv.count == 2 else {
          return .failure(ApplyError("OrderedDict expects (key, value) pairs, got \(pair.typeName)"))
        }
        dict.set(kv[0], kv[1])
      }
    }
    return .success(.dict(dict))
  }

  private func tensor(
    _ storage: PickleValue, _ offset: PickleValue, _ size: PickleValue, _ stride: PickleValue, dtype: TensorDType?
  ) -> Result<PickleValue, ApplyError> {
    guard case .storage(let storage) = storage else {
      return .failure(ApplyError("\(pythonName) expects a storage as its first argument, got \(storage.typeName)"))
    }
    guard let offset = offset.int, offset >= 0 else {
      return .failure(ApplyError("\(pythonName): the storage offset must be a non-negative integer"))
    }
    guard let shape = integers(size), shape.allSatisfy({ $0 >= 0 }) else {
      return .failure(ApplyError("\(pythonName): the size must be a tuple of non-negative integers"))
    }
    guard let strides = integers(stride), strides.allSatisfy({ $0 >= 0 }) else {
      return .failure(ApplyError("\(pythonName): the stride must be a tuple of non-negative integers"))
    }
    guard strides.count == shape.count else {
      return .failure(ApplyError("\(pythonName): size \(shape) and stride \(strides) differ in rank"))
    }
    let reference = TensorReference(
      storage: storage, dtype: dtype ?? storage.dtype, offset: offset, shape: shape, strides: strides)
    return .success(.tensor(reference))
  }

  private func integers(_ value: PickleValue) -> [Int]? {
    guard let items = value.sequence else { return nil }
    let numbers = items.compactMap(\.int)
    return numbers.count == items.count ? numbers : nil
  }
}
