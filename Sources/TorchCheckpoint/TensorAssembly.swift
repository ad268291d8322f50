/// Turning a tensor reference (storage, offset, size, stride) into row-major Float32 values:
/// the storage range the view reaches is checked against the storage's bytes, converted once
/// (F16, BF16, F64 to F32), then gathered along the strides when they are not row-major
/// (transposed, sliced, expanded or permuted tensors). Integer tensors are checked alike but
/// not converted.

import TensorFiles

enum TensorAssembly {
  /// The values of `tensor` as Float32 in row-major order, or nil for a dtype that does not
  /// convert (integers, booleans, 8-bit floats).
  static func values(
    of tensor: TensorReference, name: String, storages: [String: ArraySlice<UInt8>], file: String
  ) throws(TensorFileError) -> [Float]? {
    func failure(_ message: String) -> TensorFileError { TensorFileError(file: file, tensor: name, message) }
    let storage = tensor.storage
    guard let saved = storages[storage.key] else {
      throw failure("its storage '\(storage.key)' is missing from the file")
    }
    guard storage.byteOffset <= saved.count, storage.byteCount <= saved.count - storage.byteOffset else {
      throw failure("its storage '\(storage.key)' is a view past the saved bytes")
    }
    let start = saved.startIndex + storage.byteOffset
    let bytes = saved[start..<(start + storage.byteCount)]
    let available = bytes.count / tensor.dtype.byteSize

    var count = 1
    for size in tensor.shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: size)
      guard !overflow else { throw failure("size \(tensor.shape) overflows") }
      count = product
    }
    guard count > 0 else { return tensor.dtype.convertsToFloat32 ? [] : nil }
    // The last element the view reaches: offset + Σ (size − 1)·stride.
    var last = tensor.offset
    for (size, stride) in zip(tensor.shape, tensor.strides) {
      let (step, overflow1) = (size - 1).multipliedReportingOverflow(by: stride)
      let (sum, overflow2) = last.addingReportingOverflow(step)
      guard !overflow1, !overflow2 else { throw failure("size \(tensor.shape) with stride \(tensor.strides) overflows") }
      last = sum
    }
    guard last < available else {
      throw failure(
        "size \(tensor.shape), stride \(tensor.strides) and offset \(tensor.offset) reach element \(last), but its storage holds \(available) \(tensor.dtype.rawValue) elements")
    }
    let span = last - tensor.offset + 1
    let first = bytes.startIndex + tensor.offset * tensor.dtype.byteSize
    let converted = bytes[first..<(first + span * tensor.dtype.byteSize)].withUnsafeBytes { raw in
      tensor.dtype.float32Values(raw, count: span)
    }
    guard let converted else { return nil }
    return isRowMajor(shape: tensor.shape, strides: tensor.strides) ? converted : gather(converted, shape: tensor.shape, strides: tensor.strides, count: count)
  }

  /// Whether the strides are row-major for the shape (sizes of 1 take any stride).
  static func isRowMajor(shape: [Int], strides: [Int]) -> Bool {
    var expected = 1
    for (size, stride) in zip(shape, strides).reversed() where size != 1 {
      guard stride == expected else { return false }
      expected *= size
    }
    return true
  }

  /// Reads `count` elements of `source` in row-major order of `shape`, element i at
  /// Σ index_d · strides[d] (an odometer over the indices).
  static func gather(_ source: [Float], shape: [Int], strides: [Int], count: Int) -> [Float] {
    var out = [Float]()
    out.reserveCapacity(count)
    var index = [Int](repeating: 0, count: shape.count)
    var position = 0
    for _ in 0..<count {
      out.append(source[position])
      var d = shape.count - 1
      while d >= 0 {
        index[d] += 1
        position += strides[d]
        if index[d] < shape[d] { break }
        position -= strides[d] * shape[d]
        index[d] = 0
        d -= 1
      }
    }
    return out
  }
}
