/// Writing safetensors files in the reference layout: compact JSON header with `__metadata__`
/// first, then tensors sorted by name (`dtype`, `shape`, `data_offsets` in that order), padded
/// with spaces to a multiple of 8 bytes, then the data back to back. The write is atomic.

/// The values of one tensor to write.
public enum TensorValues: Sendable, Equatable {
  case float32([Float])
  case float64([Double])
  case int64([Int64])

  public var dtype: TensorDType {
    switch self {
    case .float32: .f32
    case .float64: .f64
    case .int64: .i64
    }
  }

  public var count: Int {
    switch self {
    case .float32(let v): v.count
    case .float64(let v): v.count
    case .int64(let v): v.count
    }
  }

  /// Lends the values as little-endian bytes.
  func withLittleEndianBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    #if _endian(little)
      switch self {
      case .float32(let v): return try v.withUnsafeBytes { (raw) in try body(raw) }
      case .float64(let v): return try v.withUnsafeBytes { (raw) in try body(raw) }
      case .int64(let v): return try v.withUnsafeBytes { (raw) in try body(raw) }
      }
    #else
      let swapped: [UInt8]
      switch self {
      case .float32(let v): swapped = v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
      case .float64(let v): swapped = v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
      case .int64(let v): swapped = v.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
      }
      return try swapped.withUnsafeBytes { (raw) in try body(raw) }
    #endif
  }
}

/// One tensor to write.
public struct SafetensorsEntry: Sendable, Equatable {
  public var name: String
  public var shape: [Int]
  public var values: TensorValues

  public init(name: String, shape: [Int], values: TensorValues) {
    self.name = name
    self.shape = shape
    self.values = values
  }
}

public enum SafetensorsWriter {
  /// Writes Float32 tensors (sorted by name) and string metadata to `path`, atomically.
  public static func write(
    _ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String] = [:], to path: String
  ) throws {
    try write(tensors.map { SafetensorsEntry(name: $0.name, shape: $0.shape, values: .float32($0.values)) }, metadata: metadata, to: path)
  }

  /// Writes tensors of any supported type (F32, F64, I64), sorted by name, atomically.
  public static func write(_ entries: [SafetensorsEntry], metadata: [String: String] = [:], to path: String) throws {
    let sorted = try validate(entries, file: path)
    let header = headerBytes(sorted, metadata: metadata)
    try writeFileAtomically(path) { (file) in
      var length = UInt64(header.count).littleEndian
      try withUnsafeBytes(of: &length) { (raw) in try file.write(raw) }
      try file.write(header)
      for entry in sorted {
        try entry.values.withLittleEndianBytes { (raw) in try file.write(raw) }
      }
    }
  }

  /// Checks names and shapes; returns the entries sorted by name.
  static func validate(_ entries: [SafetensorsEntry], file: String) throws -> [SafetensorsEntry] {
    var seen = Set<String>()
    for entry in entries {
      guard entry.name != "__metadata__" else {
        throw TensorFileError(file: file, tensor: entry.name, "the name __metadata__ is reserved")
      }
      guard seen.insert(entry.name).inserted else {
        throw TensorFileError(file: file, tensor: entry.name, "duplicate tensor name")
      }
      guard entry.shape.allSatisfy({ $0 >= 0 }) else {
        throw TensorFileError(file: file, tensor: entry.name, "shape \(entry.shape) has a negative dimension")
      }
      var count = 1
      for d in entry.shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: d)
        guard !overflow else { throw TensorFileError(file: file, tensor: entry.name, "shape \(entry.shape) overflows Int") }
        count = product
      }
      guard count == entry.values.count else {
        throw TensorFileError(file: file, tensor: entry.name, "shape \(entry.shape) has \(count) elements but \(entry.values.count) values were given")
      }
    }
    return entries.sorted { $0.name < $1.name }
  }

  /// The header JSON exactly as the Python `safetensors` package lays it out, space-padded so its
  /// length is a multiple of 8. Metadata keys are sorted (Python keeps dict order; any order is valid).
  static func headerBytes(_ sorted: [SafetensorsEntry], metadata: [String: String]) -> [UInt8] {
    var json = "{"
    var first = true
    if !metadata.isEmpty {
      json += "\"__metadata__\":{"
      json += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
      json += "}"
      first = false
    }
    var offset = 0
    for entry in sorted {
      let size = entry.values.count * entry.values.dtype.byteSize
      if !first { json += "," }
      first = false
      json += "\(jsonString(entry.name)):{\"dtype\":\"\(entry.values.dtype.rawValue)\",\"shape\":["
      json += entry.shape.map(String.init).joined(separator: ",")
      json += "],\"data_offsets\":[\(offset),\(offset + size)]}"
      offset += size
    }
    json += "}"
    var bytes = Array(json.utf8)
    bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8))
    return bytes
  }

  /// A JSON string literal, escaped as serde_json does.
  static func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "\u{08}": out += "\\b"
      case "\u{0C}": out += "\\f"
      case let c where c.value < 0x20:
        let hex = String(c.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
