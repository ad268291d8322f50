/// The header of a `.npy` file: a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, parsed without a Python.

struct NumpyHeaderError: Error {
  let message: String
}

struct NumpyHeader: Equatable {
  var descr: String
  var fortranOrder: Bool
  var shape: [Int]

  private enum Literal {
    case string(String)
    case bool(Bool)
    case tuple([Int])
  }

  /// Parses the dict; it must hold exactly the keys `descr`, `fortran_order` and `shape`.
  init(parsing text: String) throws(NumpyHeaderError) {
    var scanner = Scanner(Array(text.utf8))
    var entries: [String: Literal] = [:]
    try scanner.expect("{")
    while true {
      scanner.skipSpaces()
      if scanner.take("}") { break }
      let key = try scanner.string()
      try scanner.expect(":")
      let value = try scanner.literal()
      guard entries.updateValue(value, forKey: key) == nil else { throw NumpyHeaderError(message: "duplicate key '\(key)'") }
      scanner.skipSpaces()
      if scanner.take("}") { break }
      try scanner.expect(",")
    }
    scanner.skipSpaces()
    guard scanner.atEnd else { throw NumpyHeaderError(message: "unexpected text after the dict") }
    guard Set(entries.keys) == ["descr", "fortran_order", "shape"] else {
      throw NumpyHeaderError(message: "keys must be exactly 'descr', 'fortran_order', 'shape' (found \(entries.keys.sorted()))")
    }
    guard case .string(let descr) = entries["descr"] else { throw NumpyHeaderError(message: "'descr' is not a string (structured dtypes are not supported)") }
    guard case .bool(let fortran) = entries["fortran_order"] else { throw NumpyHeaderError(message: "'fortran_order' is not True or False") }
    guard case .tuple(let shape) = entries["shape"] else { throw NumpyHeaderError(message: "'shape' is not a tuple of integers") }
    self.descr = descr
    self.fortranOrder = fortran
    self.shape = shape
  }

  private struct Scanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }

    mutating func skipSpaces() {
      while position < bytes.count, [0x20, 0x0a, 0x09, 0x0d].contains(bytes[position]) { position += 1 }
    }

    mutating func take(_ c: Character) -> Bool {
      skipSpaces()
      if position < bytes.count, bytes[position] == c.asciiValue! {
        position += 1
        return true
      }
      return false
    }

    mutating func expect(_ c: Character) throws(NumpyHeaderError) {
      guard take(c) else { throw NumpyHeaderError(message: "expected '\(c)'") }
    }

    mutating func string() throws(NumpyHeaderError) -> String {
      skipSpaces()
      guard position < bytes.count, bytes[position] == 0x27 || bytes[position] == 0x22 else {
        throw NumpyHeaderError(message: "expected a quoted string")
      }
      let quote = bytes[position]
      position += 1
      let start = position
      while position < bytes.count, bytes[position] != quote {
        if bytes[position] == 0x5c { throw NumpyHeaderError(message: "escapes in strings are not supported") }
        position += 1
      }
      guard position < bytes.count else { throw NumpyHeaderError(message: "unterminated string") }
      defer { position += 1 }
      return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    mutating func integer() throws(NumpyHeaderError) -> Int {
      skipSpaces()
      let start = position
      while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
      // Python 2 era files write longs as `3L`.
      let digits = String(decoding: bytes[start..<position], as: UTF8.self)
      if position < bytes.count, bytes[position] == UInt8(ascii: "L") { position += 1 }
      guard !digits.isEmpty else { throw NumpyHeaderError(message: "expected a non-negative integer in 'shape'") }
      guard let value = Int(digits) else { throw NumpyHeaderError(message: "shape dimension \(digits) overflows Int") }
      return value
    }

    mutating func literal() throws(NumpyHeaderError) -> Literal {
      skipSpaces()
      guard position < bytes.count else { throw NumpyHeaderError(message: "unexpected end of header") }
      switch bytes[position] {
      case 0x27, 0x22:
        return .string(try string())
      case UInt8(ascii: "("):
        position += 1
        var dims: [Int] = []
        while true {
          if take(")") { break }
          dims.append(try integer())
          if take(")") { break }
          try expect(",")
        }
        return .tuple(dims)
      default:
        for (word, value) in [("True", true), ("False", false)] where bytes[position...].starts(with: word.utf8) {
          position += word.utf8.count
          return .bool(value)
        }
        throw NumpyHeaderError(message: "unexpected value")
      }
    }
  }
}
