/// What a safetensors header says about one tensor: element type, shape, and where its bytes are.

public struct TensorInfo: Sendable, Hashable {
  public let name: String
  public let dtype: TensorDType
  public let shape: [Int]
  /// Byte range relative to the start of the data section (the header's `data_offsets`).
  public let dataOffsets: Range<Int>

  /// Number of elements (the product of `shape`; 1 for a scalar).
  public var elementCount: Int { shape.reduce(1, *) }
  /// Number of data bytes.
  public var byteCount: Int { dataOffsets.count }
}
