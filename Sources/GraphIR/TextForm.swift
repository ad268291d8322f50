/// The stable text form of a graph: the golden-test format and what `--emit ir` prints.
///
///     graph tiny -> softmax {
///       %0 = input() @input {range=[0.0,1.0]} : f32[N,3,64,64]
///       %1 = conv(%0) @features.conv0 {out=16, kernel=[7,7], ...} : f32[N,16,32,32]
///       ...
///       return %66
///     }
///
/// A multi-task classifier's segmentation head is named on a line of its own before the
/// return: `segmentation %70`.
///
/// Nodes are numbered by position, attributes come in each op's fixed order, and numbers
/// print in Swift's shortest round-trip form, so printing is deterministic and
/// print → parse → print is the identity.

extension Graph {
  public var text: String {
    var out = "graph \(name) -> \(outputKind.rawValue) {\n"
    for (index, node) in nodes.enumerated() {
      out += "  %\(index) = \(node.op.name)("
      out += node.inputs.map(\.description).joined(separator: ", ") + ")"
      if let name = node.name { out += " @\(name)" }
      let attributes = node.op.attributes
      if !attributes.isEmpty {
        out += " {" + attributes.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "}"
      }
      out += " : \(node.type)\n"
    }
    if let segmentation { out += "  segmentation \(segmentation)\n" }
    out += "  return " + outputs.map(\.description).joined(separator: ", ") + "\n}\n"
    return out
  }
}

public struct GraphTextError: Error, Sendable, Equatable, CustomStringConvertible {
  public var line: Int
  public var column: Int
  public var message: String
  public var description: String { "\(line):\(column): \(message)" }
}

extension Graph {
  /// Parses the text form. Node ids must be 0, 1, 2, … in order; every type is checked
  /// against shape inference, so a parsed graph is verified.
  public init(parsing text: String) throws(GraphTextError) {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
      .map { (number: $0.offset + 1, text: Substring($0.element)) }
      .filter { !$0.text.allSatisfy(\.isWhitespace) && !$0.text.trimmingPrefix(while: \.isWhitespace).hasPrefix("//") }
      .makeIterator()
    guard let header = lines.next() else {
      throw GraphTextError(line: 1, column: 1, message: "empty graph text")
    }
    var scan = LineScanner(header.text, line: header.number)
    try scan.keyword("graph")
    let name = try scan.word("graph name")
    try scan.symbol("->")
    scan.skipSpaces()
    let kindStart = scan.position
    let kindWord = try scan.word("output kind")
    guard let kind = OutputKind(rawValue: kindWord) else {
      scan.position = kindStart
      throw scan.error("unknown output kind '\(kindWord)' (softmax or sigmoid)")
    }
    try scan.symbol("{")
    try scan.end()
    var graph = Graph(name: name, outputKind: kind)
    while let line = lines.next() {
      var scan = LineScanner(line.text, line: line.number)
      if scan.peekWord() == "segmentation" {
        try scan.keyword("segmentation")
        graph.segmentation = try scan.value(before: graph.nodes.count)
        try scan.end()
        continue
      }
      if scan.peekWord() == "return" {
        try scan.keyword("return")
        repeat { graph.outputs.append(try scan.value(before: graph.nodes.count)) } while scan.accept(",")
        try scan.end()
        guard let close = lines.next() else {
          throw GraphTextError(line: line.number + 1, column: 1, message: "expected '}' after return")
        }
        var closing = LineScanner(close.text, line: close.number)
        try closing.symbol("}")
        try closing.end()
        if let extra = lines.next() {
          throw GraphTextError(line: extra.number, column: 1, message: "text after the graph's '}'")
        }
        self = try Self.checked(graph, line: line.number)
        return
      }
      graph.nodes.append(try scan.node(index: graph.nodes.count))
    }
    throw GraphTextError(line: header.number, column: 1, message: "graph has no 'return' line")
  }

  private static func checked(_ graph: Graph, line: Int) throws(GraphTextError) -> Graph {
    if let problem = graph.verify().first {
      throw GraphTextError(line: line, column: 1, message: "invalid graph: \(problem)")
    }
    return graph
  }
}

/// Scans one line of the text form.
private struct LineScanner {
  let bytes: [UInt8]
  let line: Int
  var position = 0

  init(_ text: Substring, line: Int) {
    bytes = Array(text.utf8)
    self.line = line
  }

  func error(_ message: String) -> GraphTextError {
    GraphTextError(line: line, column: position + 1, message: message)
  }

  mutating func skipSpaces() {
    while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 { position += 1 }
  }

  static func isWordByte(_ b: UInt8) -> Bool {
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
      || b == 0x2E || b == 0x2D || b == 0x2B
  }

  mutating func peekWord() -> String? {
    let saved = position
    defer { position = saved }
    return try? word("word")
  }

  /// A run of letters, digits, '_', '.', '-', '+': names, numbers and keywords.
  mutating func word(_ what: String) throws(GraphTextError) -> String {
    skipSpaces()
    let start = position
    while position < bytes.count, Self.isWordByte(bytes[position]) { position += 1 }
    guard position > start else { throw error("expected \(what)") }
    return String(decoding: bytes[start..<position], as: UTF8.self)
  }

  mutating func keyword(_ expected: String) throws(GraphTextError) {
    let start = position
    guard let found = try? word(expected), found == expected else {
      position = start
      skipSpaces()
      throw error("expected '\(expected)'")
    }
  }

  mutating func accept(_ symbol: String) -> Bool {
    skipSpaces()
    let symbolBytes = Array(symbol.utf8)
    guard bytes.count - position >= symbolBytes.count,
      Array(bytes[position..<position + symbolBytes.count]) == symbolBytes
    else { return false }
    position += symbolBytes.count
    return true
  }

  mutating func symbol(_ symbol: String) throws(GraphTextError) {
    guard accept(symbol) else { throw error("expected '\(symbol)'") }
  }

  mutating func end() throws(GraphTextError) {
    skipSpaces()
    guard position == bytes.count else { throw error("unexpected text at end of line") }
  }

  mutating func integer(_ what: String) throws(GraphTextError) -> Int {
    let start = position
    guard let value = Int(try word(what)) else {
      position = start
      skipSpaces()
      throw error("expected \(what)")
    }
    return value
  }

  /// `%k`, which must name a node defined before node `limit`.
  mutating func value(before limit: Int) throws(GraphTextError) -> NodeID {
    try symbol("%")
    let start = position
    let index = try integer("value number")
    guard index >= 0, index < limit else {
      position = start
      throw error("%\(index) is not defined before this line")
    }
    return NodeID(index)
  }

  // node ::= "%" INT "=" opname "(" values ")" ("@" name)? ("{" attrs "}")? ":" type
  mutating func node(index: Int) throws(GraphTextError) -> Node {
    try symbol("%")
    let idStart = position
    guard try integer("node number") == index else {
      position = idStart
      throw error("expected node %\(index) (nodes are numbered in order)")
    }
    try symbol("=")
    let opStart = position
    let opName = try word("op name")
    guard Op.isKnown(opName) else {
      position = opStart
      skipSpaces()
      throw error("unknown op '\(opName)'")
    }
    try symbol("(")
    var inputs: [NodeID] = []
    if !accept(")") {
      repeat { inputs.append(try value(before: index)) } while accept(",")
      try symbol(")")
    }
    var name: String? = nil
    if accept("@") { name = try word("node name") }
    var raw: [(key: String, raw: AttributeReader.Raw)] = []
    let attributesStart = position
    if accept("{") {
      repeat {
        let key = try word("attribute name")
        try symbol("=")
        if accept("[") {
          var items: [String] = []
          repeat { items.append(try word("number")) } while accept(",")
          try symbol("]")
          raw.append((key, .list(items)))
        } else {
          raw.append((key, .scalar(try word("attribute value"))))
        }
      } while accept(",")
      try symbol("}")
    }
    let op: Op
    do {
      op = try Op(name: opName, attributes: AttributeReader(raw))!
    } catch {
      position = attributesStart
      skipSpaces()
      throw self.error("\(opName): \(error.message)")
    }
    try symbol(":")
    let type = try tensorType()
    try end()
    return Node(op: op, inputs: inputs, name: name, type: type)
  }

  // type ::= dtype "[" ("N" ",")? INT ("," INT)* "]"
  mutating func tensorType() throws(GraphTextError) -> TensorType {
    skipSpaces()
    let start = position
    let dtypeWord = try word("element type")
    guard let dtype = DType(rawValue: dtypeWord) else {
      position = start
      throw error("unknown element type '\(dtypeWord)'")
    }
    try symbol("[")
    var batched = false
    var dims: [Int] = []
    if !accept("]") {
      repeat {
        if dims.isEmpty && !batched && peekWord() == "N" {
          _ = try word("N")
          batched = true
        } else {
          dims.append(try integer("dimension"))
        }
      } while accept(",")
      try symbol("]")
    }
    return TensorType(dtype, batched: batched, dims: dims)
  }
}
