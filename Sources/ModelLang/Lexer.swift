/// The lexer: bytes → tokens. Linear in the input, never traps: bad bytes become one
/// diagnostic per run of them, and lexing goes on.

public struct Token: Sendable, Hashable {
  public enum Kind: Sendable, Hashable {
    case identifier
    case integer
    case float
    /// A string literal; `text` is its content, `contentStart` where that starts.
    case string
    case symbol
    case end
  }

  public var kind: Kind
  public var text: String
  /// Offset of the token's first byte, and for strings of the first content byte.
  public var offset: Int
  public var contentStart: Int

  func `is`(_ symbol: String) -> Bool { kind == .symbol && text == symbol }
  func isWord(_ word: String) -> Bool { kind == .identifier && text == word }
}

/// Words that cannot name variables, blocks or parameters.
let keywords: Set<String> = [
  "isnet", "import", "block", "model", "repeat", "in", "scope", "return", "true", "false",
  "int", "float", "bool", "tensor", "f32",
]

struct Lexer {
  let file: SourceFile
  let fileIndex: Int
  var position: Int
  let end: Int
  /// Offsets of the errors reported so far, so the parser can leave out their consequences.
  private(set) var errorOffsets: [Int] = []
  /// Whether an unterminated comment or string ran to the end of the input.
  private(set) var swallowedEnd = false

  init(file: SourceFile, fileIndex: Int, range: Range<Int>? = nil) {
    self.file = file
    self.fileIndex = fileIndex
    position = range?.lowerBound ?? 0
    end = range?.upperBound ?? file.bytes.count
  }

  static let symbols = ["...", "..<", "->", "(", ")", "{", "}", "[", "]", ",", ";", ":", "=", "@", "+", "-", "*", "/", "%"]
  private static let symbolBytes = symbols.map { Array($0.utf8) }

  func location(_ offset: Int) -> SourceLocation { SourceLocation(file: fileIndex, offset: offset) }

  private mutating func error(at offset: Int, _ message: String, _ log: inout DiagnosticLog) {
    errorOffsets.append(offset)
    log.error(at: location(offset), message)
  }

  /// All tokens up to `end`, then one `.end` token.
  mutating func tokenize(_ log: inout DiagnosticLog) -> [Token] {
    var tokens: [Token] = []
    // A run of adjacent bytes that start no token is one diagnostic.
    var badRun: Range<Int>? = nil
    while true {
      if badRun != nil, atTrivia { reportBadRun(&badRun, &log) }
      skipTrivia(&log)
      guard position < end else { break }
      let start = position
      if let token = lexToken(&log) {
        reportBadRun(&badRun, &log)
        tokens.append(token)
      } else {
        badRun = (badRun?.lowerBound ?? start)..<(start + 1)
        position += 1
      }
    }
    reportBadRun(&badRun, &log)
    tokens.append(Token(kind: .end, text: "", offset: end, contentStart: end))
    return tokens
  }

  private mutating func reportBadRun(_ run: inout Range<Int>?, _ log: inout DiagnosticLog) {
    guard let bad = run else { return }
    run = nil
    // The first character, decoded when it is valid UTF-8 (a pasted '×' or '“'), else its byte.
    var shown: String
    var width = 1
    let first = file.bytes[bad.lowerBound]
    var iterator = file.bytes[bad].makeIterator()
    var decoder = UTF8()
    if first >= 0x20 && first < 0x7F {
      shown = "character '\(Character(Unicode.Scalar(first)))'"
    } else if first >= 0x80, case .scalarValue(let scalar) = decoder.decode(&iterator) {
      let hex = String(scalar.value, radix: 16, uppercase: true)
      shown = "character '\(scalar)' (U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex))"
      width = UTF8.width(scalar)
    } else {
      let hex = String(first, radix: 16, uppercase: true)
      shown = "byte 0x\(hex.count == 1 ? "0" + hex : hex)"
    }
    let more = bad.count - width
    let rest = more == 0 ? "" : " (and \(more) more bad byte\(more == 1 ? "" : "s"))"
    error(at: bad.lowerBound, "unexpected \(shown)\(rest)", &log)
  }

  private func byte(_ offset: Int) -> UInt8? { offset < end ? file.bytes[offset] : nil }

  /// Whether whitespace or a comment starts at `position`.
  private var atTrivia: Bool {
    guard let b = byte(position) else { return false }
    return b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || (b == 0x2F && (byte(position + 1) == 0x2F || byte(position + 1) == 0x2A))
  }

  private mutating func skipTrivia(_ log: inout DiagnosticLog) {
    while let b = byte(position) {
      if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D {
        position += 1
      } else if b == 0x2F, byte(position + 1) == 0x2F {  // "//" to end of line
        while let c = byte(position), c != 0x0A { position += 1 }
      } else if b == 0x2F, byte(position + 1) == 0x2A {  // "/* ... */"
        let start = position
        position += 2
        while position < end, !(file.bytes[position] == 0x2A && byte(position + 1) == 0x2F) { position += 1 }
        if position >= end {
          error(at: start, "unterminated comment: '/*' has no closing '*/'", &log)
          swallowedEnd = true
        } else {
          position += 2
        }
      } else {
        return
      }
    }
  }

  static func isLetter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F }
  static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

  /// One token at `position`, or nil (position unchanged) for a byte that starts none.
  private mutating func lexToken(_ log: inout DiagnosticLog) -> Token? {
    let start = position
    let b = file.bytes[start]
    if Self.isLetter(b) {
      while let c = byte(position), Self.isLetter(c) || Self.isDigit(c) { position += 1 }
      return Token(kind: .identifier, text: text(start, position), offset: start, contentStart: start)
    }
    if Self.isDigit(b) { return lexNumber(&log) }
    if b == 0x22 { return lexString(&log) }
    for (symbol, bytes) in zip(Self.symbols, Self.symbolBytes) {
      if position + bytes.count <= end, file.bytes[position..<position + bytes.count].elementsEqual(bytes) {
        position += bytes.count
        return Token(kind: .symbol, text: symbol, offset: start, contentStart: start)
      }
    }
    return nil
  }

  // number ::= DIGITS ("." DIGITS)? (("e" | "E") ("+" | "-")? DIGITS)?
  private mutating func lexNumber(_ log: inout DiagnosticLog) -> Token {
    let start = position
    var isFloat = false
    func digits() { while let c = byte(position), Self.isDigit(c) { position += 1 } }
    digits()
    // A '.' followed by a digit is a fraction; "1...n" is a range.
    if byte(position) == 0x2E, let next = byte(position + 1), Self.isDigit(next) {
      isFloat = true
      position += 1
      digits()
    }
    if let e = byte(position), e == 0x65 || e == 0x45 {
      var look = position + 1
      if let sign = byte(look), sign == 0x2B || sign == 0x2D { look += 1 }
      if let d = byte(look), Self.isDigit(d) {
        isFloat = true
        position = look
        digits()
      }
    }
    let literal = text(start, position)
    if isFloat {
      if Double(literal)?.isFinite != true {
        error(at: start, "number '\(literal.prefix(40))' is out of range", &log)
        return Token(kind: .float, text: "0", offset: start, contentStart: start)
      }
      return Token(kind: .float, text: literal, offset: start, contentStart: start)
    }
    if Int(literal) == nil {
      error(at: start, "integer '\(literal.prefix(40))' is too large (at most \(Int.max))", &log)
      return Token(kind: .integer, text: "0", offset: start, contentStart: start)
    }
    return Token(kind: .integer, text: literal, offset: start, contentStart: start)
  }

  // string ::= '"' (any byte but '"' and newline)* '"'
  private mutating func lexString(_ log: inout DiagnosticLog) -> Token {
    let start = position
    position += 1
    while let c = byte(position), c != 0x22, c != 0x0A { position += 1 }
    let content = text(start + 1, position)
    if byte(position) == 0x22 {
      position += 1
    } else {
      error(at: start, "unterminated string: missing closing '\"'", &log)
      if position >= end { swallowedEnd = true }
    }
    return Token(kind: .string, text: content, offset: start, contentStart: start + 1)
  }

  private func text(_ from: Int, _ to: Int) -> String {
    String(decoding: file.bytes[from..<to], as: UTF8.self)
  }
}
