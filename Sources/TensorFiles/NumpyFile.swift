/// NumPy `.npy` files (format versions 1.0, 2.0, 3.0): little-endian `<f4` read as is, `<f8`
/// converted to Float32, C order only. Writing produces version 1.0 (2.0 when the header is
/// too long) with `<f4` data and the 64-byte alignment NumPy uses, atomically.

public enum NumpyFile {
  static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

  /// Reads an array as Float32 values in C order.
  public static func read(path: String) throws -> (shape: [Int], values: [Float]) {
    let mapping = try MappedFile(path: path)
    return try parse(mapping.bytes, file: path)
  }

  /// Parses the bytes of a `.npy` file; `file` names it in errors.
  static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws -> (shape: [Int], values: [Float]) {
    guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
      throw TensorFileError(file: file, "not a .npy file (missing the \\x93NUMPY magic)")
    }
    let (major, minor) = (bytes[6], bytes[7])
    let headerLength: Int
    let headerStart: Int
    switch (major, minor) {
    case (1, 0):
      headerLength = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
      headerStart = 10
    case (2, 0), (3, 0):
      guard bytes.count >= 12 else { throw TensorFileError(file: file, "truncated .npy header") }
      headerLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
      headerStart = 12
    default:
      throw TensorFileError(file: file, "unsupported .npy format version \(major).\(minor)")
    }
    guard headerStart + headerLength <= bytes.count else {
      throw TensorFileError(file: file, "header length \(headerLength) extends beyond the end of the file (\(bytes.count) bytes): truncated?")
    }
    let headerText = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[headerStart..<(headerStart + headerLength)]), as: UTF8.self)
    let header: NumpyHeader
    do {
      header = try NumpyHeader(parsing: headerText)
    } catch {
      throw TensorFileError(file: file, "bad .npy header: \(error.message) in \(headerText.trimmingSpaces)")
    }

    if header.fortranOrder {
      throw TensorFileError(file: file, "Fortran-order (column-major) arrays are not supported; save with np.ascontiguousarray")
    }
    let itemSize: Int
    switch header.descr {
    case "<f4": itemSize = 4
    case "<f8": itemSize = 8
    case ">f4", ">f8":
      throw TensorFileError(file: file, "big-endian data ('\(header.descr)') is not supported; convert with arr.astype('<f4')")
    default:
      throw TensorFileError(file: file, "unsupported dtype '\(header.descr)' (only '<f4' and '<f8')")
    }
    var count = 1
    for d in header.shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: d)
      guard !overflow, !product.multipliedReportingOverflow(by: itemSize).overflow else {
        throw TensorFileError(file: file, "shape \(header.shape) has too many elements (overflows Int)")
      }
      count = product
    }
    let dataStart = headerStart + headerLength
    let available = bytes.count - dataStart
    let needed = count * itemSize
    if available < needed {
      throw TensorFileError(file: file, "truncated: shape \(header.shape) of '\(header.descr)' needs \(needed) data bytes, the file has \(available)")
    }
    if available > needed {
      throw TensorFileError(file: file, "\(available - needed) unexpected bytes after the data of shape \(header.shape)")
    }
    let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart...])
    return (header.shape, convertToFloats(data, dtype: itemSize == 4 ? .f32 : .f64, count: count))
  }

  /// Writes a Float32 array (C order) as `.npy`, atomically.
  public static func write(shape: [Int], values: [Float], to path: String) throws {
    guard shape.allSatisfy({ $0 >= 0 }) else {
      throw TensorFileError(file: path, "shape \(shape) has a negative dimension")
    }
    var count = 1
    for d in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: d)
      guard !overflow else { throw TensorFileError(file: path, "shape \(shape) overflows Int") }
      count = product
    }
    guard count == values.count else {
      throw TensorFileError(file: path, "shape \(shape) has \(count) elements but \(values.count) values were given")
    }
    let prefix = headerBytes(shape: shape)
    try writeFileAtomically(path) { (file) in
      try file.write(prefix)
      try TensorValues.float32(values).withLittleEndianBytes { (raw) in try file.write(raw) }
    }
  }

  /// Magic, version, header length and the space-padded header dict, as `numpy.save` lays them out
  /// (total a multiple of 64 bytes, ending in a newline).
  static func headerBytes(shape: [Int]) -> [UInt8] {
    let shapeText: String
    switch shape.count {
    case 0: shapeText = "()"
    case 1: shapeText = "(\(shape[0]),)"
    default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
    for (major, lengthBytes) in [(UInt8(1), 2), (UInt8(2), 4)] {
      let unpadded = magic.count + 2 + lengthBytes + dict.utf8.count + 1
      let padding = 64 - unpadded % 64
      let headerLength = dict.utf8.count + padding + 1
      if lengthBytes == 2 && headerLength > Int(UInt16.max) { continue }
      var bytes = magic + [major, 0]
      if lengthBytes == 2 {
        bytes += [UInt8(headerLength & 0xff), UInt8(headerLength >> 8)]
      } else {
        bytes += (0..<4).map { UInt8((headerLength >> (8 * $0)) & 0xff) }
      }
      bytes += Array(dict.utf8) + Array(repeating: UInt8(ascii: " "), count: padding) + [UInt8(ascii: "\n")]
      return bytes
    }
    preconditionFailure("unreachable: version 2.0 holds any header")
  }
}

extension String {
  fileprivate var trimmingSpaces: String {
    var s = Substring(self)
    while let c = s.last, c == " " || c == "\n" { s = s.dropLast() }
    return String(s)
  }
}
