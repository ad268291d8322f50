/// Recursive-descent parser: tokens → `SourceFileAST`. One method per grammar rule (the
/// rule above each). An error unwinds to the enclosing statement or declaration, is
/// logged, and parsing resumes at the next ';', '}' or declaration, so one run reports
/// several errors.

import GraphIR

struct ParseFailure: Error {
  var diagnostic: Diagnostic
}

struct Parser {
  /// Deepest nesting of expressions, brackets and bodies accepted.
  static let maximumDepth = 256

  private let file: SourceFile
  private let fileIndex: Int
  private var tokens: [Token]
  private var index = 0
  private var depth = 0
  private var log: DiagnosticLog
  /// Where the lexer reported errors; a syntax error after one of them in the same
  /// statement is its consequence and is not reported.
  private var lexerErrors: [Int]
  /// Whether an unterminated comment or string ran to the end of the input.
  private var swallowedEnd: Bool
  /// Offset from which a lexer error makes a syntax error a consequence: just after the
  /// last token before the current statement or declaration.
  private var syncPoint = 0
  /// How the end token reads in messages ("end of file", or "'}'" inside a label's `{...}`).
  private var endDescription = "end of file"

  init(file: SourceFile, fileIndex: Int, log: DiagnosticLog) {
    self.file = file
    self.fileIndex = fileIndex
    var lexer = Lexer(file: file, fileIndex: fileIndex)
    var log = log
    tokens = lexer.tokenize(&log)
    lexerErrors = lexer.errorOffsets
    swallowedEnd = lexer.swallowedEnd
    self.log = log
  }

  /// Parses the whole file; returns the tree (possibly partial) and the updated log.
  static func parse(_ file: SourceFile, fileIndex: Int, log: DiagnosticLog) -> (SourceFileAST, DiagnosticLog) {
    var parser = Parser(file: file, fileIndex: fileIndex, log: log)
    let ast = parser.parseFile()
    return (ast, parser.log)
  }

  // MARK: Token helpers

  private var current: Token { tokens[index] }
  private func location(_ token: Token) -> SourceLocation { SourceLocation(file: fileIndex, offset: token.offset) }
  private var here: SourceLocation { location(current) }

  private mutating func advance() -> Token {
    let token = current
    if token.kind != .end { index += 1 }
    return token
  }

  private mutating func accept(_ symbol: String) -> Bool {
    guard current.is(symbol) else { return false }
    index += 1
    return true
  }

  private mutating func acceptWord(_ word: String) -> Bool {
    guard current.isWord(word) else { return false }
    index += 1
    return true
  }

  private func describe(_ token: Token) -> String {
    switch token.kind {
    case .end: endDescription
    case .string: "a string"
    case .integer, .float: "number '\(token.text)'"
    case .identifier, .symbol: "'\(token.text.prefix(40))'"
    }
  }

  private func failure(_ message: String, at location: SourceLocation? = nil) -> ParseFailure {
    ParseFailure(diagnostic: Diagnostic(at: location ?? here, message))
  }

  private mutating func expect(_ symbol: String, _ context: String) throws(ParseFailure) {
    guard accept(symbol) else { throw failure("expected '\(symbol)' \(context), found \(describe(current))") }
  }

  private mutating func expectIdentifier(_ what: String) throws(ParseFailure) -> Token {
    guard current.kind == .identifier else { throw failure("expected \(what), found \(describe(current))") }
    guard !keywords.contains(current.text) else {
      throw failure("expected \(what), found keyword '\(current.text)'")
    }
    return advance()
  }

  /// Runs `body` one nesting level deeper; the current token is the one that opens the level
  /// ('(', '[', '-', '{'), where the error points when the level is too deep.
  private mutating func nested<T>(_ body: (inout Parser) throws(ParseFailure) -> T) throws(ParseFailure) -> T {
    guard depth < Self.maximumDepth else {
      throw failure("nesting is too deep (more than \(Self.maximumDepth) levels)")
    }
    depth += 1
    defer { depth -= 1 }
    return try body(&self)
  }

  /// Marks the start of a statement or declaration: lexer errors from here on explain the
  /// syntax errors that follow them.
  private mutating func startConstruct() { syncPoint = index > 0 ? tokens[index - 1].offset + 1 : 0 }

  private mutating func report(_ failure: ParseFailure) {
    if let offset = failure.diagnostic.location?.offset {
      if swallowedEnd && offset == tokens[tokens.count - 1].offset { return }
      if lexerErrors.contains(where: { $0 >= syncPoint && $0 <= offset }) { return }
    }
    log.report(failure.diagnostic)
  }

  // MARK: Declarations

  // file ::= ("isnet" INT ";")? import* decl*
  private mutating func parseFile() -> SourceFileAST {
    var ast = SourceFileAST()
    if acceptWord("isnet") {
      do throws(ParseFailure) {
        guard current.kind == .integer, let version = Int(advance().text) else {
          throw failure("expected a language version after 'isnet', found \(describe(current))")
        }
        guard version == 1 else { throw failure("unsupported language version \(version) (this is isnet 1)", at: location(tokens[index - 1])) }
        ast.version = version
        try expect(";", "after the language version")
      } catch {
        report(error)
        synchronizeDeclaration()
      }
    }
    while current.kind != .end && !log.isFull {
      startConstruct()
      do throws(ParseFailure) {
        if acceptWord("import") {
          let token = current
          guard token.kind == .string else { throw failure("expected a file name string after 'import'") }
          _ = advance()
          ast.imports.append(ImportDecl(path: token.text, location: location(token)))
          try expect(";", "after import")
        } else if current.isWord("block") {
          ast.blocks.append(try parseBlock())
        } else if current.isWord("model") {
          ast.models.append(try parseModel())
        } else {
          throw failure("expected 'block', 'model' or 'import', found \(describe(current))")
        }
      } catch {
        report(error)
        synchronizeDeclaration()
      }
    }
    return ast
  }

  /// Skips to the next token that can start a declaration.
  private mutating func synchronizeDeclaration() {
    if current.kind != .end { _ = advance() }
    while current.kind != .end, !current.isWord("block"), !current.isWord("model"), !current.isWord("import") {
      _ = advance()
    }
  }

  // block ::= "block" IDENT "(" params? ")" body
  private mutating func parseBlock() throws(ParseFailure) -> BlockDecl {
    _ = advance()
    let name = try expectIdentifier("a block name")
    let params = try parseParams()
    let body = try parseBody()
    return BlockDecl(name: name.text, location: location(name), params: params, body: body)
  }

  // model ::= "model" IDENT "(" params? ")" ("->" ("softmax" | "sigmoid" | "segmentation"))? body
  private mutating func parseModel() throws(ParseFailure) -> ModelDecl {
    _ = advance()
    let name = try expectIdentifier("a model name")
    let params = try parseParams()
    var kind = OutputKind.softmax
    if accept("->") {
      let token = current
      guard token.kind == .identifier, let parsed = OutputKind(rawValue: token.text) else {
        throw failure("expected \(OutputKind.spelled) after '->', found \(describe(token))")
      }
      _ = advance()
      kind = parsed
    }
    let body = try parseBody()
    return ModelDecl(name: name.text, location: location(name), params: params, outputKind: kind, body: body)
  }

  // params ::= "(" (param ("," param)* ","?)? ")"
  private mutating func parseParams() throws(ParseFailure) -> [ParamDecl] {
    try expect("(", "to open the parameter list")
    var params: [ParamDecl] = []
    while !current.is(")") {
      params.append(try parseParam())
      guard accept(",") else { break }
    }
    try expect(")", "to close the parameter list")
    return params
  }

  // param ::= IDENT (":" type)? ("=" expr)?
  private mutating func parseParam() throws(ParseFailure) -> ParamDecl {
    let name = try expectIdentifier("a parameter name")
    var type = TypeExpr.tensor
    if accept(":") { type = try parseType() }
    let defaultValue = accept("=") ? try parseExpr() : nil
    return ParamDecl(name: name.text, location: location(name), type: type, defaultValue: defaultValue)
  }

  // type ::= "int" | "float" | "bool" | "tensor" | "f32" "[" expr ("," expr)* "]" ("in" "[" expr "," expr "]")?
  private mutating func parseType() throws(ParseFailure) -> TypeExpr {
    let token = current
    guard token.kind == .identifier else { throw failure("expected a type, found \(describe(token))") }
    switch token.text {
    case "int": _ = advance(); return .int
    case "float": _ = advance(); return .float
    case "bool": _ = advance(); return .bool
    case "tensor": _ = advance(); return .tensor
    case "f32":
      _ = advance()
      try expect("[", "after 'f32' to give the shape")
      var dims: [Expr] = []
      repeat { dims.append(try parseExpr()) } while accept(",")
      try expect("]", "to close the shape")
      var range: (Expr, Expr)? = nil
      if acceptWord("in") {
        try expect("[", "to open the value range")
        let low = try parseExpr()
        try expect(",", "between the range's bounds")
        let high = try parseExpr()
        try expect("]", "to close the value range")
        range = (low, high)
      }
      return .shaped(dims: dims, range: range)
    default:
      throw failure("unknown type '\(token.text.prefix(40))' (expected int, float, bool, tensor or f32[...])")
    }
  }

  // body ::= "{" stmt* "}"
  /// `inside` names the statement whose body this is ("repeat", "scope"), nil for the body
  /// of a block or model, the only place a `return` may appear (as its last statement).
  private mutating func parseBody(inside: String? = nil) throws(ParseFailure) -> [Stmt] {
    guard current.is("{") else { throw failure("expected '{' to open the body, found \(describe(current))") }
    return try nested { (p: inout Parser) throws(ParseFailure) in
      let open = p.advance()
      var statements: [Stmt] = []
      var returnLocation: SourceLocation? = nil
      while !p.current.is("}") {
        p.startConstruct()
        guard p.current.kind != .end && !p.current.isWord("block") && !p.current.isWord("model") else {
          let found = p.current.kind == .end ? ", found end of file" : " before '\(p.current.text)'"
          var diagnostic = Diagnostic(at: p.here, "expected '}' to close the body\(found)")
          diagnostic.notes = [Diagnostic(.note, at: p.location(open), "to match this opening '{'")]
          throw ParseFailure(diagnostic: diagnostic)
        }
        do throws(ParseFailure) {
          let statement = try p.parseStatement()
          if let returnLocation {
            p.log.report(Diagnostic(at: returnLocation, "'return' must be the last statement of the body"))
          }
          returnLocation = nil
          if case .return(_, _, let location) = statement {
            if let inside {
              p.log.report(Diagnostic(at: location, "'return' cannot be inside '\(inside)'; it ends the block or model body"))
            } else {
              returnLocation = location
            }
          }
          statements.append(statement)
        } catch {
          p.report(error)
          p.synchronizeStatement()
        }
        if p.log.isFull { throw p.failure("too many errors") }
      }
      _ = p.advance()
      return statements
    }
  }

  /// Skips past the next ';' or the '}' of a '{ ... }' group, or up to a '}' that closes the
  /// current body or a declaration keyword.
  private mutating func synchronizeStatement() {
    var braces = 0
    while current.kind != .end {
      if current.isWord("block") || current.isWord("model") { return }
      if current.is("{") { braces += 1 }
      if current.is("}") {
        if braces == 0 { return }
        braces -= 1
        _ = advance()
        if braces == 0 { return }
        continue
      }
      let token = advance()
      if token.is(";") && braces == 0 { return }
    }
  }

  // stmt ::= IDENT "=" expr ";" | "return" expr ("," expr)? ";"
  //        | "repeat" IDENT "in" expr ("..." | "..<") expr body | "scope" STRING body
  private mutating func parseStatement() throws(ParseFailure) -> Stmt {
    let start = current
    if acceptWord("return") {
      let value = try parseExpr()
      let second = accept(",") ? try parseExpr() : nil
      try expect(";", "after the returned value")
      return .return(value, second: second, location: location(start))
    }
    if acceptWord("repeat") {
      let variable = try expectIdentifier("a loop variable after 'repeat'")
      guard acceptWord("in") else { throw failure("expected 'in' after the loop variable, found \(describe(current))") }
      let from = try parseExpr()
      let inclusive: Bool
      if accept("...") {
        inclusive = true
      } else if accept("..<") {
        inclusive = false
      } else {
        throw failure("expected '...' or '..<' in the repeat range, found \(describe(current))")
      }
      let to = try parseExpr()
      let body = try parseBody(inside: "repeat")
      return .repeat(variable: variable.text, location: location(variable), from: from, to: to, inclusive: inclusive, body: body)
    }
    if acceptWord("scope") {
      guard current.kind == .string else { throw failure("expected a scope name string after 'scope', found \(describe(current))") }
      let label = try parseLabel(advance())
      return .scope(label, body: try parseBody(inside: "scope"))
    }
    guard start.kind == .identifier, tokens[index + 1].is("=") else {
      if start.kind == .identifier && keywords.contains(start.text) {
        throw failure("'\(start.text)' cannot start a statement")
      }
      throw failure("expected a statement (name = value;, return, repeat or scope), found \(describe(start))")
    }
    let name = try expectIdentifier("a variable name")
    _ = advance()
    let value = try parseExpr()
    try expect(";", "after the assignment")
    return .assign(name: name.text, location: location(name), value: value)
  }

  // MARK: Expressions

  // expr ::= term (("+" | "-") term)*
  private mutating func parseExpr() throws(ParseFailure) -> Expr {
    var lhs = try parseTerm()
    while current.is("+") || current.is("-") {
      let op = advance()
      let rhs = try parseTerm()
      lhs = Expr(kind: .binary(BinaryOperator(rawValue: op.text)!, lhs, rhs), location: location(op))
    }
    return lhs
  }

  // term ::= unary (("*" | "/" | "%") unary)*
  private mutating func parseTerm() throws(ParseFailure) -> Expr {
    var lhs = try parseUnary()
    while current.is("*") || current.is("/") || current.is("%") {
      let op = advance()
      let rhs = try parseUnary()
      lhs = Expr(kind: .binary(BinaryOperator(rawValue: op.text)!, lhs, rhs), location: location(op))
    }
    return lhs
  }

  // unary ::= "-" unary | postfix
  private mutating func parseUnary() throws(ParseFailure) -> Expr {
    let start = current
    if start.is("-") {
      return try nested { (p: inout Parser) throws(ParseFailure) in
        _ = p.advance()
        return Expr(kind: .negate(try p.parseUnary()), location: p.location(start))
      }
    }
    let primary = try parsePrimary()
    // A call takes its own label; any other '@' follows something that is not a call.
    guard !current.is("@") else {
      throw failure("a label can only follow a call, like conv(...) @ \"conv1\"")
    }
    return primary
  }

  // primary ::= INT | FLOAT | "true" | "false" | IDENT | call ("@" STRING)? | "(" expr ")"
  //           | "[" expr ("," expr)* "]"
  private mutating func parsePrimary() throws(ParseFailure) -> Expr {
    let token = current
    let loc = location(token)
    switch token.kind {
    case .integer:
      _ = advance()
      return Expr(kind: .integer(Int(token.text) ?? 0), location: loc)
    case .float:
      _ = advance()
      return Expr(kind: .float(Double(token.text) ?? 0), location: loc)
    case .identifier:
      if acceptWord("true") { return Expr(kind: .bool(true), location: loc) }
      if acceptWord("false") { return Expr(kind: .bool(false), location: loc) }
      let name = try expectIdentifier("a value")
      guard current.is("(") else { return Expr(kind: .identifier(name.text), location: loc) }
      return try parseCall(name)
    case .symbol where token.text == "(":
      return try nested { (p: inout Parser) throws(ParseFailure) in
        _ = p.advance()
        let inner = try p.parseExpr()
        try p.expect(")", "to close the parenthesis")
        return inner
      }
    case .symbol where token.text == "[":
      return try nested { (p: inout Parser) throws(ParseFailure) in
        _ = p.advance()
        var items: [Expr] = []
        repeat { items.append(try p.parseExpr()) } while p.accept(",")
        try p.expect("]", "to close the list")
        return Expr(kind: .list(items), location: loc)
      }
    case .string:
      throw failure("a string can only be a label after '@' or a scope name")
    case .symbol, .end:
      throw failure("expected a value, found \(describe(token))")
    }
  }

  // call ::= IDENT "(" (arg ("," arg)*)? ")" ("@" STRING)?     arg ::= (IDENT ":")? expr
  private mutating func parseCall(_ name: Token) throws(ParseFailure) -> Expr {
    var arguments: [CallArgument] = []
    try nested { (p: inout Parser) throws(ParseFailure) in
      _ = p.advance()  // "("
      while !p.current.is(")") {
        let start = p.current
        var argumentName: String? = nil
        if start.kind == .identifier, p.tokens[p.index + 1].is(":") {
          argumentName = try p.expectIdentifier("an argument name").text
          _ = p.advance()
        }
        let valueLocation = p.here
        arguments.append(
          CallArgument(name: argumentName, nameLocation: p.location(start), value: try p.parseExpr(), valueLocation: valueLocation))
        guard p.accept(",") else { break }
      }
    }
    try expect(")", "to close the arguments of '\(name.text)'")
    var label: Label? = nil
    if accept("@") {
      guard current.kind == .string else { throw failure("expected a label string after '@', found \(describe(current))") }
      label = try parseLabel(advance())
    }
    return Expr(kind: .call(Call(callee: name.text, arguments: arguments, label: label)), location: location(name))
  }

  /// Splits a label string into text and `{expr}` holes, parsing each hole as an
  /// expression over the same source bytes so its errors point into the string.
  private mutating func parseLabel(_ token: Token) throws(ParseFailure) -> Label {
    var parts: [Label.Part] = []
    let bytes = file.bytes
    let start = token.contentStart
    // The content's bytes as the lexer scanned them (the text may hold replacement
    // characters for invalid UTF-8, so its length can differ).
    var end = start
    while end < bytes.count, bytes[end] != 0x22, bytes[end] != 0x0A { end += 1 }
    var textStart = start
    var i = start
    while i < end {
      if bytes[i] == 0x7B {  // "{"
        if i > textStart { parts.append(.text(String(decoding: bytes[textStart..<i], as: UTF8.self))) }
        guard let close = bytes[i..<end].firstIndex(of: 0x7D) else {
          throw failure("'{' in a label has no closing '}'", at: SourceLocation(file: fileIndex, offset: i))
        }
        parts.append(.hole(try parseHole(i + 1..<close)))
        i = close + 1
        textStart = i
      } else if bytes[i] == 0x7D {
        throw failure("'}' in a label has no opening '{'", at: SourceLocation(file: fileIndex, offset: i))
      } else {
        i += 1
      }
    }
    if end > textStart { parts.append(.text(String(decoding: bytes[textStart..<end], as: UTF8.self))) }
    return Label(parts: parts, location: location(token))
  }

  private mutating func parseHole(_ range: Range<Int>) throws(ParseFailure) -> Expr {
    var sub = Parser(file: file, fileIndex: fileIndex, range: range, log: log, depth: depth)
    lexerErrors += sub.lexerErrors
    let expr: Expr
    do throws(ParseFailure) {
      expr = try sub.parseExpr()
      guard sub.current.kind == .end else {
        throw sub.failure("unexpected \(sub.describe(sub.current)) in label expression")
      }
    } catch {
      log = sub.log
      throw error
    }
    log = sub.log
    return expr
  }

  private init(file: SourceFile, fileIndex: Int, range: Range<Int>, log: DiagnosticLog, depth: Int) {
    self.file = file
    self.fileIndex = fileIndex
    var lexer = Lexer(file: file, fileIndex: fileIndex, range: range)
    var log = log
    tokens = lexer.tokenize(&log)
    lexerErrors = lexer.errorOffsets
    swallowedEnd = false
    endDescription = "'}'"
    self.log = log
    self.depth = depth
    if range.isEmpty {
      tokens = [Token(kind: .end, text: "", offset: range.lowerBound, contentStart: range.lowerBound)]
    }
  }
}
