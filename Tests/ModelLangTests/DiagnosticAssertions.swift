// Diagnostic assertions in the style of swift-format's tests: the source is written inline
// with emoji markers (1️⃣ 2️⃣ …) where errors are expected, and each marker maps to the exact
// message expected there.

import GraphIR
import ModelLang
import Testing

/// The markers, in order; each is one Character (a keycap sequence).
let diagnosticMarkers: [Character] = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟"]

/// `source` without its markers, and the byte offset in that text of each marker.
func stripMarkers(_ source: String) -> (text: String, markers: [String: Int]) {
  var text = ""
  var offset = 0
  var markers: [String: Int] = [:]
  for character in source {
    if diagnosticMarkers.contains(character) {
      markers[String(character)] = offset
    } else {
      text.append(character)
      offset += character.utf8.count
    }
  }
  return (text, markers)
}

/// A loader for raw bytes (invalid UTF-8 cannot be put in a `String`).
struct BytesLoader: SourceLoader {
  var files: [String: [UInt8]]
  func read(_ path: String) throws(LoadError) -> [UInt8] {
    guard let bytes = files[path] else { throw LoadError("no such file") }
    return bytes
  }
}

/// Compiles `source` (markers removed) as the single file `m.isnet`.
func compileMarked(
  _ source: String, options: CompileOptions = CompileOptions()
) -> (compilation: Compilation, markers: [String: Int]) {
  let (text, markers) = stripMarkers(source)
  let compilation = ModelCompiler.compile(
    path: "m.isnet", loader: InMemoryLoader(["m.isnet": text]), options: options)
  return (compilation, markers)
}

/// 1-based line and column (in bytes) of `offset` in `bytes`.
func lineAndColumn(_ offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
  var line = 1
  var lineStart = 0
  for index in 0..<min(offset, bytes.count) where bytes[index] == 0x0A {
    line += 1
    lineStart = index + 1
  }
  return (line, offset - lineStart + 1)
}

/// Checks that compiling `source` reports exactly the expected errors: one per marker, with
/// the marker's message at the marker's position, and no other error. Notes are not checked
/// here (see `compileMarked`). A compilation with errors must produce no graph.
func assertDiagnostics(
  _ source: String, _ expected: [String: String], options: CompileOptions = CompileOptions(),
  sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
  let (compilation, markers) = compileMarked(source, options: options)
  let bytes = compilation.files.first?.bytes ?? []

  struct Expectation: Hashable {
    var file: Int
    var offset: Int
    var message: String
  }
  func describe(_ e: Expectation) -> String {
    guard e.file >= 0 else { return "(no position): \(e.message)" }
    let (line, column) = lineAndColumn(e.offset, in: bytes)
    return "\(line):\(column): \(e.message)"
  }

  var wanted: Set<Expectation> = []
  for (marker, message) in expected {
    guard let offset = markers[marker] else {
      Issue.record("marker \(marker) is not in the source", sourceLocation: sourceLocation)
      continue
    }
    wanted.insert(Expectation(file: 0, offset: offset, message: message))
  }
  for marker in markers.keys where expected[marker] == nil {
    Issue.record("marker \(marker) has no expected message", sourceLocation: sourceLocation)
  }
  let errors = compilation.log.diagnostics.filter { $0.severity == .error }
  let actual = Set(
    errors.map {
      Expectation(file: $0.location?.file ?? -1, offset: $0.location?.offset ?? -1, message: $0.message)
    })

  let missing = wanted.subtracting(actual).sorted { $0.offset < $1.offset }
  let unexpected = actual.subtracting(wanted).sorted { $0.offset < $1.offset }
  if !missing.isEmpty || !unexpected.isEmpty {
    var report = "diagnostics differ\n"
    for e in missing { report += "  missing:    \(describe(e))\n" }
    for e in unexpected { report += "  unexpected: \(describe(e))\n" }
    report += "rendered:\n" + compilation.renderedDiagnostics
    Issue.record(Comment(rawValue: report), sourceLocation: sourceLocation)
  }
  if errors.count != actual.count {
    Issue.record("an error is reported twice:\n\(compilation.renderedDiagnostics)", sourceLocation: sourceLocation)
  }
  if !expected.isEmpty && compilation.graph != nil {
    Issue.record("the compilation has errors but produced a graph", sourceLocation: sourceLocation)
  }
}
