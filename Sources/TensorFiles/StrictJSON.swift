/// A small, strict JSON parser for safetensors headers. Foundation's JSONSerialization silently
/// keeps one of two duplicate keys and rounds huge integers; this parser rejects duplicates,
/// keeps numbers as their literal text (so overflow is detected, not rounded), keeps object key
/// order, and limits nesting depth so a hostile header cannot overflow the stack.

/// A parsed JSON value.
indirect enum JSONValue: Sendable {
  case object([(key: String, value: JSONValue)])
  case array([JSONValue])
  case string(String)
  /// The number's literal text, e.g. "-12" or "1.5e3".
  case number(String)
  case bool(Bool)
  case null

  /// A short name of the value's kind, for error messages.
  var kindName: String {
    switch self {
    case .object: "an object"
    case .array: "an array"
    case .string: "a string"
    case .number: "a number"
    case .bool: "a boolean"
    case .null: "null"
    }
  }
}

/// What `JSONValue.integer` found.
enum JSONInteger: Equatable {
  case value(Int)
  /// An integer literal too large for Int.
  case overflow
  /// Not a number, or a number with a fraction or exponent.
  case notInteger
}

extension JSONValue {
  /// The value as an Int, telling overflow apart from "not an integer".
  var integer: JSONInteger {
    guard case .number(let text) = self else { return .notInteger }
    let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return .notInteger }
    if let value = Int(text) { return .value(value) }
    return .overflow
  }
}

/// A JSON syntax error: what, at which byte of the text, and inside which top-level key.
struct JSONSyntaxError: Error, Sendable {
  let message: String
  let offset: Int
  /// The key of the top-level object member being parsed when the error occurred, if any.
  let topLevelKey: String?
}

/// Parses one JSON value from UTF-8 bytes; only whitespace may follow it.
struct StrictJSONParser {
  static let maximumDepth = 64

  private let bytes: UnsafeRawBufferPointer
  private var position = 0
  private var depth = 0
  private var topLevelKey: String?

  private init(bytes: UnsafeRawBufferPointer) {
    self.bytes = bytes
  }

  static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSONValue {
    var parser = StrictJSONParser(bytes: bytes)
    parser.skipWhitespace()
    let value = try parser.parseValue()
    parser.skipWhitespace()
    if parser.position != bytes.count {
      throw parser.error("unexpected data after the JSON value")
    }
    return value
  }

  private func error(_ message: String) -> JSONSyntaxError {
    JSONSyntaxError(message: message, offset: position, topLevelKey: topLevelKey)
  }

  private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

  private mutating func skipWhitespace() {
    while let c = current, c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d {
      position += 1
    }
  }

  private mutating func expect(_ literal: String) throws(JSONSyntaxError) {
    for byte in literal.utf8 {
      guard current == byte else { throw error("invalid literal (expected '\(literal)')") }
      position += 1
    }
  }

  private mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
    guard let c = current else { throw error("unexpected end of JSON text") }
    switch c {
    case UInt8(ascii: "{"): return try parseObject()
    case UInt8(ascii: "["): return try parseArray()
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"): try expect("true"); return .bool(true)
    case UInt8(ascii: "f"): try expect("false"); return .bool(false)
    case UInt8(ascii: "n"): try expect("null"); return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
    default: throw error("unexpected character '\(Character(Unicode.Scalar(c)))'")
    }
  }

  private mutating func enter() throws(JSONSyntaxError) {
    depth += 1
    if depth > Self.maximumDepth { throw error("nesting deeper than \(Self.maximumDepth) levels") }
  }

  private mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
    try enter()
    position += 1  // {
    var members: [(key: String, value: JSONValue)] = []
    var seen = Set<String>()
    skipWhitespace()
    if current == UInt8(ascii: "}") {
      position += 1
      depth -= 1
      return .object(members)
    }
    while true {
      skipWhitespace()
      guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
      let keyStart = position
      let key = try parseString()
      if !seen.insert(key).inserted {
        position = keyStart
        if depth == 1 { topLevelKey = key }
        throw error("duplicate key \"\(key)\"")
      }
      skipWhitespace()
      guard current == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
      position += 1
      skipWhitespace()
      if depth == 1 { topLevelKey = key }
      let value = try parseValue()
      if depth == 1 { topLevelKey = nil }
      members.append((key, value))
      skipWhitespace()
      switch current {
      case UInt8(ascii: ","): position += 1
      case UInt8(ascii: "}"):
        position += 1
        depth -= 1
        return .object(members)
      default: throw error("expected ',' or '}' in an object")
      }
    }
  }

  private mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
    try enter()
    position += 1  // [
    var elements: [JSONValue] = []
    skipWhitespace()
    if current == UInt8(ascii: "]") {
      position += 1
      depth -= 1
      return .array(elements)
    }
    while true {
      skipWhitespace()
      elements.append(try parseValue())
      skipWhitespace()
      switch current {
      case UInt8(ascii: ","): position += 1
      case UInt8(ascii: "]"):
        position += 1
        depth -= 1
        return .array(elements)
      default: throw error("expected ',' or ']' in an array")
      }
    }
  }

  private mutating func parseNumber() throws(JSONSyntaxError) -> JSONValue {
    let start = position
    func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
    if current == UInt8(ascii: "-") { position += 1 }
    if current == UInt8(ascii: "0") {
      position += 1
    } else if isDigit(current) {
      while isDigit(current) { position += 1 }
    } else {
      throw error("invalid number")
    }
    if current == UInt8(ascii: ".") {
      position += 1
      guard isDigit(current) else { throw error("invalid number") }
      while isDigit(current) { position += 1 }
    }
    if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
      position += 1
      if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
      guard isDigit(current) else { throw error("invalid number") }
      while isDigit(current) { position += 1 }
    }
    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    return .number(text)
  }

  private mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let c = current else { throw error("unexpected end in a \\u escape") }
      let digit: UInt32
      switch c {
      case 0x30...0x39: digit = UInt32(c - 0x30)
      case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
      case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
      default: throw error("invalid \\u escape")
      }
      value = value * 16 + digit
      position += 1
    }
    return value
  }

  private mutating func parseString() throws(JSONSyntaxError) -> String {
    position += 1  // opening quote
    var utf8: [UInt8] = []
    while true {
      guard let c = current else { throw error("unterminated string") }
      if c == UInt8(ascii: "\"") {
        position += 1
        break
      }
      if c < 0x20 { throw error("control character in a string") }
      if c != UInt8(ascii: "\\") {
        utf8.append(c)
        position += 1
        continue
      }
      position += 1
      guard let escaped = current else { throw error("unterminated escape") }
      position += 1
      switch escaped {
      case UInt8(ascii: "\""): utf8.append(0x22)
      case UInt8(ascii: "\\"): utf8.append(0x5c)
      case UInt8(ascii: "/"): utf8.append(0x2f)
      case UInt8(ascii: "b"): utf8.append(0x08)
      case UInt8(ascii: "f"): utf8.append(0x0c)
      case UInt8(ascii: "n"): utf8.append(0x0a)
      case UInt8(ascii: "r"): utf8.append(0x0d)
      case UInt8(ascii: "t"): utf8.append(0x09)
      case UInt8(ascii: "u"):
        var scalar = try parseHex4()
        if (0xD800...0xDBFF).contains(scalar) {
          guard current == UInt8(ascii: "\\") else { throw error("unpaired surrogate in \\u escape") }
          position += 1
          guard current == UInt8(ascii: "u") else { throw error("unpaired surrogate in \\u escape") }
          position += 1
          let low = try parseHex4()
          guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate in \\u escape") }
          scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let unicode = Unicode.Scalar(scalar) else { throw error("unpaired surrogate in \\u escape") }
        utf8.append(contentsOf: String(unicode).utf8)
      default:
        throw error("invalid escape '\\\(Character(Unicode.Scalar(escaped)))'")
      }
    }
    guard let string = String(validating: utf8, as: UTF8.self) else {
      throw error("string is not valid UTF-8")
    }
    return string
  }
}
