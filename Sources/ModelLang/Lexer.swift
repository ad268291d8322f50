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

  init(file: SourceFile, fileIndex: Int, range: Range<Int>? = nil) {
    self.file = file
    self.fileIndex = fileIndex
    position = range?.lowerBound ?? 0
    end = range?.upperBound ?? file.bytes.count
  }

  static let symbols = ["...", "..<", "->", "(", ")", "{", "}", "[", "]", ",", ";", ":", "=", "@", "+", "-", "*", "/", "%"]

  func location(_ offset: Int) -> SourceLocation { SourceLocation(file: fileIndex, offset: offset) }

  /// All tokens up to `end`, then one `.end` token.
  mutating func tokenize(_ log: inout DiagnosticLog) -> [Token] {
    var tokens: [Token] = []
    var badRunStart: Int? = nil
    func flushBadRun(_ log: inout DiagnosticLog, upTo offset: Int) {
      guard let start = badRunStart else { return }
      let count = offset - start
      let first = file.bytes[start]
      let shown = first >= 0x20 && first < 0x7F ? "'\(Character(Unicode.Scalar(first)))'" : "byte 0x\(String(first, radix: 16, uppercase: true))"
      log.error(at: location(start), count == 1 ? "unexpected character \(shown)" : "unexpected character \(shown) (and \(count - 1) more bad bytes)")
      badRunStart = nil
    }
    while true {
      skipTrivia(&log)
      guard position < end else { break }
      let start = position
      if let token = lexToken(&log) {
        flushBadRun(&log, upTo: start)
        tokens.append(token)
      } else {
        if badRunStart == nil { badRunStart = start }
        position += 1
      }
    }
    flushBadRun(&log, upTo: position)
    tokens.append(Token(kind: .end, text: "", offset: end, contentStart: end))
    return tokens
  }

  private func byte(_ offset: Int) -> UInt8? { offset < end ? file.bytes[offset] : nil }

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
          log.error(at: location(start), "unterminated comment: '/*' has no closing '*/'")
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
    for symbol in Self.symbols {
      let bytes = Array(symbol.utf8)
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
        log.error(at: location(start), "number '\(literal)' is out of range")
        return Token(kind: .float, text: "0", offset: start, contentStart: start)
      }
      return Token(kind: .float, text: literal, offset: start, contentStart: start)
    }
    if Int(literal) == nil {
      log.error(at: location(start), "integer '\(literal.prefix(40))' is too large (at most \(Int.max))")
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
      log.error(at: location(start), "unterminated string: missing closing '\"'")
    }
    return Token(kind: .string, text: content, offset: start, contentStart: start + 1)
  }

  private func text(_ from: Int, _ to: Int) -> String {
    String(decoding: file.bytes[from..<to], as: UTF8.self)
  }
}
