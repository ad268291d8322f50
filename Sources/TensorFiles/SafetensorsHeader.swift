/// Parsing and validation of a safetensors header: the 8-byte length, the JSON, each tensor entry,
/// and the layout of the data section (contiguous, no overlap, no gap, nothing past the end).

/// A validated header.
struct SafetensorsHeader: Sendable {
  /// Largest header accepted, as the reference implementation does.
  static let maximumHeaderLength = 100_000_000

  let tensors: [String: TensorInfo]
  let metadata: [String: String]
  /// Byte offset of the data section in the file (8 + header length).
  let dataStart: Int

  /// Validates the whole file layout. `file` is the path used in error messages.
  init(fileBytes bytes: UnsafeRawBufferPointer, file: String) throws {
    guard bytes.count >= 8 else {
      throw TensorFileError(file: file, "file is \(bytes.count) bytes, shorter than the 8-byte header length: not a safetensors file")
    }
    let rawLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
    guard rawLength <= UInt64(Self.maximumHeaderLength) else {
      throw TensorFileError(file: file, "header length \(rawLength) exceeds the 100 MB limit: not a safetensors file, or corrupt")
    }
    let headerLength = Int(rawLength)
    guard 8 + headerLength <= bytes.count else {
      throw TensorFileError(file: file, "header length \(headerLength) extends beyond the end of the file (\(bytes.count) bytes): truncated file?")
    }
    dataStart = 8 + headerLength
    let dataSize = bytes.count - dataStart

    let json: JSONValue
    do {
      json = try StrictJSONParser.parse(UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart]))
    } catch {
      if error.topLevelKey == "__metadata__" {
        throw TensorFileError(file: file, "header metadata is not valid JSON: \(error.message) at header byte \(error.offset)")
      }
      throw TensorFileError(file: file, tensor: error.topLevelKey, "header is not valid JSON: \(error.message) at header byte \(error.offset)")
    }
    guard case .object(let members) = json else {
      throw TensorFileError(file: file, "header is \(json.kindName), not a JSON object")
    }

    var tensors: [String: TensorInfo] = [:]
    var metadata: [String: String] = [:]
    for (name, value) in members {
      if name == "__metadata__" {
        metadata = try Self.parseMetadata(value, file: file)
      } else {
        tensors[name] = try Self.parseEntry(name: name, value: value, dataSize: dataSize, file: file)
      }
    }
    try Self.checkLayout(tensors.values, dataSize: dataSize, file: file)
    self.tensors = tensors
    self.metadata = metadata
  }

  private static func parseMetadata(_ value: JSONValue, file: String) throws -> [String: String] {
    guard case .object(let members) = value else {
      throw TensorFileError(file: file, "__metadata__ is \(value.kindName), not an object of strings")
    }
    var metadata: [String: String] = [:]
    for (key, entry) in members {
      guard case .string(let text) = entry else {
        throw TensorFileError(file: file, "__metadata__ value for \"\(key)\" is \(entry.kindName), not a string")
      }
      metadata[key] = text
    }
    return metadata
  }

  private static func parseEntry(name: String, value: JSONValue, dataSize: Int, file: String) throws -> TensorInfo {
    func fail(_ message: String) -> TensorFileError { TensorFileError(file: file, tensor: name, message) }
    guard case .object(let fields) = value else {
      throw fail("header entry is \(value.kindName), not an object")
    }
    func field(_ key: String) throws -> JSONValue {
      guard let found = fields.first(where: { $0.key == key }) else { throw fail("header entry has no \"\(key)\" field") }
      return found.value
    }

    guard case .string(let dtypeName) = try field("dtype") else {
      throw fail("\"dtype\" is \(try field("dtype").kindName), not a string")
    }
    guard let dtype = TensorDType(rawValue: dtypeName) else {
      throw fail("unsupported dtype \"\(dtypeName)\"")
    }

    let shapeValue = try field("shape")
    guard case .array(let dims) = shapeValue else {
      throw fail("\"shape\" is \(shapeValue.kindName), not an array of integers")
    }
    var shape: [Int] = []
    var elementCount = 1
    for dim in dims {
      switch dim.integer {
      case .value(let d) where d < 0:
        throw fail("shape has a negative dimension \(d)")
      case .value(let d):
        shape.append(d)
        let (product, overflow) = elementCount.multipliedReportingOverflow(by: d)
        if overflow { throw fail("shape \(Self.render(dims)) has too many elements (overflows Int)") }
        elementCount = product
      case .overflow:
        throw fail("shape dimension \(Self.literal(dim)) is too large (overflows Int)")
      case .notInteger:
        throw fail("\"shape\" entry \(Self.literal(dim)) is not an integer")
      }
    }
    let (byteCount, byteOverflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
    if byteOverflow { throw fail("shape \(shape) of \(dtypeName) needs more bytes than Int can count") }

    let offsetsValue = try field("data_offsets")
    guard case .array(let offsets) = offsetsValue, offsets.count == 2 else {
      throw fail("\"data_offsets\" must be an array of two integers [begin, end]")
    }
    var bounds: [Int] = []
    for offset in offsets {
      switch offset.integer {
      case .value(let v) where v >= 0: bounds.append(v)
      case .value(let v): throw fail("\"data_offsets\" has a negative offset \(v)")
      case .overflow: throw fail("\"data_offsets\" entry \(Self.literal(offset)) is too large (overflows Int)")
      case .notInteger: throw fail("\"data_offsets\" entry \(Self.literal(offset)) is not an integer")
      }
    }
    let (begin, end) = (bounds[0], bounds[1])
    guard begin <= end else {
      throw fail("data_offsets [\(begin), \(end)]: begin is after end")
    }
    guard end - begin == byteCount else {
      throw fail("shape \(shape) of \(dtypeName) needs \(byteCount) bytes, but data_offsets [\(begin), \(end)] span \(end - begin)")
    }
    guard end <= dataSize else {
      throw fail("data_offsets [\(begin), \(end)] extend past the end of the data section (\(dataSize) bytes): truncated file?")
    }
    return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
  }

  /// The spec requires the data section to be covered exactly: tensors back to back from 0 to
  /// its end, no overlap, no unused byte.
  private static func checkLayout(_ tensors: some Collection<TensorInfo>, dataSize: Int, file: String) throws {
    let ordered = tensors.sorted {
      ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
    }
    var expected = 0
    var previous: TensorInfo?
    for info in ordered {
      let begin = info.dataOffsets.lowerBound
      if begin < expected, let previous {
        throw TensorFileError(
          file: file, tensor: info.name,
          "data_offsets [\(begin), \(info.dataOffsets.upperBound)] overlap tensor '\(previous.name)' at [\(previous.dataOffsets.lowerBound), \(previous.dataOffsets.upperBound)]")
      }
      if begin > expected {
        throw TensorFileError(
          file: file, tensor: info.name,
          "\(begin - expected) unused bytes (a gap at data offsets [\(expected), \(begin)]) before this tensor: the data section must be contiguous")
      }
      expected = info.dataOffsets.upperBound
      previous = info
    }
    if expected < dataSize {
      throw TensorFileError(
        file: file, tensor: previous?.name,
        "\(dataSize - expected) unused bytes at the end of the data section (offsets [\(expected), \(dataSize)]) after the last tensor")
    }
  }

  private static func literal(_ value: JSONValue) -> String {
    switch value {
    case .number(let text): text
    case .string(let text): "\"\(text)\""
    default: value.kindName
    }
  }

  private static func render(_ values: [JSONValue]) -> String {
    "[" + values.map(literal).joined(separator: ", ") + "]"
  }
}
