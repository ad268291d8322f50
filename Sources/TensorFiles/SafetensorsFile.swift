/// A safetensors file opened for reading: memory-mapped, fully validated on open, tensors read
/// on demand (converted to Float32, or lent zero-copy when already aligned Float32).

public final class SafetensorsFile: Sendable {
  /// The path the file was opened with.
  public let path: String
  /// Tensor names, sorted.
  public let names: [String]
  /// The `__metadata__` object (empty when the file has none).
  public let metadata: [String: String]

  private let mapping: MappedFile
  private let tensors: [String: TensorInfo]
  private let dataStart: Int

  /// Maps and validates the file; throws `TensorFileError` for anything malformed.
  public init(path: String) throws {
    let mapping = try MappedFile(path: path)
    let header = try SafetensorsHeader(fileBytes: mapping.bytes, file: path)
    self.path = path
    self.mapping = mapping
    self.tensors = header.tensors
    self.metadata = header.metadata
    self.dataStart = header.dataStart
    self.names = header.tensors.keys.sorted()
  }

  /// The size of the file in bytes.
  public var fileSize: Int { mapping.bytes.count }

  /// Type, shape and byte range of a tensor, or nil if there is no such tensor.
  public func info(_ name: String) -> TensorInfo? { tensors[name] }

  private func lookup(_ name: String) throws -> TensorInfo {
    guard let info = tensors[name] else {
      throw TensorFileError(file: path, tensor: name, "no such tensor in the file")
    }
    return info
  }

  private func bytes(of info: TensorInfo) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: mapping.bytes[(dataStart + info.dataOffsets.lowerBound)..<(dataStart + info.dataOffsets.upperBound)])
  }

  /// The tensor's values as Float32 (F32 copied; F16, BF16, F64 converted).
  /// Throws "unsupported dtype" for integer, boolean and 8-bit float tensors.
  public func floats(_ name: String) throws -> [Float] {
    let info = try lookup(name)
    guard info.dtype.convertsToFloat32 else {
      throw TensorFileError(file: path, tensor: name, "unsupported dtype \(info.dtype.rawValue) for reading as Float32 (only F32, F16, BF16, F64)")
    }
    return convertToFloats(bytes(of: info), dtype: info.dtype, count: info.elementCount)
  }

  /// The tensor's values as Float64: F64 exactly (references computed in float64 keep their
  /// precision), F32, F16 and BF16 widened.
  public func doubles(_ name: String) throws -> [Double] {
    let info = try lookup(name)
    guard info.dtype == .f64 else { return try floats(name).map(Double.init) }
    let raw = bytes(of: info)
    return (0..<info.elementCount).map { i in
      Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
    }
  }

  /// Lends the tensor as Float32 values for the duration of `body`. An F32 tensor at a 4-byte
  /// aligned address is lent straight from the mapping (zero copy); a misaligned F32 tensor or an
  /// F16/BF16/F64 tensor is converted into a temporary array first. The buffer must not escape.
  public func withFloat32Buffer<R>(_ name: String, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
    let info = try lookup(name)
    let raw = bytes(of: info)
    #if _endian(little)
      if info.dtype == .f32, Int(bitPattern: raw.baseAddress) % MemoryLayout<Float>.alignment == 0 {
        return try raw.withMemoryRebound(to: Float.self, body)
      }
    #endif
    return try floats(name).withUnsafeBufferPointer(body)
  }

  /// Lends the tensor's raw little-endian bytes (any dtype) for the duration of `body`.
  public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    let info = try lookup(name)
    return try body(bytes(of: info))
  }

  /// A copy of the tensor's raw little-endian bytes (any dtype), for inspection.
  public func rawBytes(_ name: String) throws -> [UInt8] {
    let info = try lookup(name)
    return Array(bytes(of: info))
  }

  /// The values of an integer or BOOL tensor (I8…I64, U8…U64; booleans as 0/1) as Int64,
  /// for inspection (e.g. batch norm's `num_batches_tracked`).
  public func integers(_ name: String) throws -> [Int64] {
    let info = try lookup(name)
    guard info.dtype.isInteger else {
      throw TensorFileError(file: path, tensor: name, "unsupported dtype \(info.dtype.rawValue) for reading as integers")
    }
    guard let values = convertToInt64s(bytes(of: info), dtype: info.dtype, count: info.elementCount) else {
      throw TensorFileError(file: path, tensor: name, "U64 value exceeds Int64.max")
    }
    return values
  }
}
