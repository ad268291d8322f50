// Hostile inputs: the compiler must not crash, hang or flood; it reports at least one
// positioned error, produces no graph, and keeps every rendered diagnostic short.

import GraphIR
import ModelLang
import Testing
import TestSupport

@discardableResult
func assertRejected(
  _ bytes: [UInt8], sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> Compilation {
  let compilation = ModelCompiler.compile(path: "m.isnet", loader: BytesLoader(files: ["m.isnet": bytes]))
  #expect(compilation.graph == nil, sourceLocation: sourceLocation)
  let errors = compilation.log.diagnostics.filter { $0.severity == .error }
  #expect(!errors.isEmpty, sourceLocation: sourceLocation)
  #expect(errors.allSatisfy { $0.location != nil }, "every error has a position", sourceLocation: sourceLocation)
  #expect(compilation.log.diagnostics.count <= DiagnosticLog.limit, sourceLocation: sourceLocation)
  let renderer = DiagnosticRenderer(files: compilation.files)
  for diagnostic in compilation.log.diagnostics {
    let rendered = renderer.render(diagnostic)
    #expect(
      rendered.utf8.count < 1000 + 300 * diagnostic.notes.count,
      "rendered diagnostic too long (\(rendered.utf8.count) bytes): \(rendered.prefix(300))",
      sourceLocation: sourceLocation)
  }
  return compilation
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private let modelHead = "model m(input: f32[3, 8, 8] in [0, 1]) {\n"
private let modelTail = "  return linear(global_avgpool(input), out: 2) @ \"fc\";\n}\n"

@Suite struct RobustnessTests {
  @Test func emptyFile() {
    let compilation = assertRejected([])
    #expect(compilation.log.diagnostics.map(\.message) == ["no model declared (expected 'model NAME(input: f32[...]) { ... }')"])
  }

  @Test func onlyComments() {
    assertRejected(bytes("// a model will be here\n/* some day\n   soon */\n"))
  }

  @Test func oneMegabyteOfRandomBytes() {
    var generator = SplitMix64(seed: 0x1234_5678)
    var data: [UInt8] = []
    data.reserveCapacity(1 << 20)
    while data.count < 1 << 20 {
      withUnsafeBytes(of: generator.next()) { data.append(contentsOf: $0) }
    }
    let compilation = assertRejected(data)
    #expect(compilation.log.truncated)
  }

  @Test func randomTokenSoup() {
    // Plausible tokens in random order reach deeper into the parser than random bytes.
    let pieces = [
      "model", "block", "m", "(", ")", "{", "}", "[", "]", ",", ";", ":", "=", "@", "+", "-", "*", "/",
      "%", "...", "..<", "->", "repeat", "i", "in", "scope", "return", "x", "conv", "input", "f32",
      "int", "1", "0", "3.5", "\"a{i}\"", "\"s\"", "import", "isnet", "\n",
    ]
    var generator = SplitMix64(seed: 42)
    for _ in 0..<20 {
      var text = ""
      for _ in 0..<2000 { text += pieces.randomElement(using: &generator)! + " " }
      assertRejected(bytes(text))
    }
  }

  @Test func tenMegabyteLine() {
    let compilation = assertRejected([UInt8](repeating: 0x78, count: 10_000_000))  // "xxx…"
    let rendered = compilation.renderedDiagnostics
    #expect(rendered.utf8.count < 1000)
    #expect(rendered.contains("..."))
  }

  @Test func tenMegabyteNameInAModel() {
    // The name appears in the message: it is cut, and the source line around the caret too.
    let name = String(repeating: "x", count: 10_000_000)
    let compilation = assertRejected(bytes(modelHead + "  y = relu(" + name + ");\n" + modelTail))
    #expect(compilation.log.diagnostics.first?.message == "unknown name '\(String(repeating: "x", count: 40))...'")
  }

  @Test func hundredThousandNestedParentheses() {
    let compilation = assertRejected(bytes(modelHead + "  n = " + String(repeating: "(", count: 100_000) + "1;\n" + modelTail))
    #expect(compilation.log.diagnostics.map(\.message) == ["nesting is too deep (more than 256 levels)"])
  }

  @Test func hundredThousandNestedBrackets() {
    assertRejected(bytes(modelHead + "  n = " + String(repeating: "[", count: 100_000) + "1;\n" + modelTail))
  }

  @Test func hundredThousandOfEveryOtherNestingConstruct() {
    assertRejected(bytes(modelHead + "  n = " + String(repeating: "-", count: 100_000) + "1;\n" + modelTail))
    assertRejected(bytes(modelHead + "  n = " + String(repeating: "f(", count: 100_000) + "1;\n" + modelTail))
    assertRejected(bytes(modelHead + String(repeating: "scope \"s\" {", count: 100_000) + modelTail))
    assertRejected(bytes(modelHead + String(repeating: "repeat i in 1...2 {", count: 100_000) + modelTail))
    assertRejected(bytes(modelHead + "  x = relu(input) @ \"a{" + String(repeating: "(", count: 100_000) + "}\";\n" + modelTail))
  }

  @Test func unterminatedEverything() {
    let compilation = assertRejected(
      bytes("isnet 1; import \"a.isnet\nblock b(x, k: int = [1, (2 { model m(input: f32[3, 8 @ \"a{(1\n /* "))
    #expect(compilation.log.diagnostics.contains { $0.message == "unterminated comment: '/*' has no closing '*/'" })
  }

  @Test func nulByte() {
    var data = bytes(modelHead + "  x = relu(input);")
    data.append(0)
    data += bytes("\n" + modelTail)
    let compilation = assertRejected(data)
    #expect(compilation.log.diagnostics.map(\.message) == ["unexpected byte 0x00"])
  }

  @Test func invalidUTF8InALabel() {
    // The label's bytes are not valid UTF-8; bytes after them must not be read as label.
    let compilation = assertRejected(bytes(modelHead + "  x = relu(input) @ \"a") + [0xFF, 0xFE, 0xC3] + bytes("\";\n" + modelTail))
    #expect(compilation.log.diagnostics.count == 1)
    #expect(compilation.log.diagnostics.first?.message.hasPrefix("label 'a") == true)
    // At the very end of the file, in an unterminated label.
    assertRejected(bytes(modelHead + "  x = relu(input) @ \"") + [0xFF, 0xFF, 0xFF, 0xFF])
  }

  @Test func invalidUTF8OutsideStrings() {
    let compilation = assertRejected(bytes(modelHead + "  x = ") + [0xC3, 0x28, 0xA0, 0xA1] + bytes(";\n" + modelTail))
    #expect(compilation.log.diagnostics.first?.message == "unexpected byte 0xC3")
  }
}
