/// Diagnostics are values: every error the compiler finds becomes a `Diagnostic` with a
/// position, rendered as `file:line:col: error: message`, the source line and a caret.

public struct Diagnostic: Sendable, Hashable {
  public enum Severity: String, Sendable, Hashable {
    case error
    case note
  }

  public var severity: Severity
  public var location: SourceLocation?
  public var message: String
  /// Follow-up lines, such as where a failing block was called from.
  public var notes: [Diagnostic]

  public init(
    _ severity: Severity = .error, at location: SourceLocation?, _ message: String,
    notes: [Diagnostic] = []
  ) {
    self.severity = severity
    self.location = location
    self.message = message
    self.notes = notes
  }
}

/// Collects diagnostics, dropping exact repeats (a block instantiated many times reports its
/// error once) and stopping at a limit so garbage input cannot flood the terminal.
public struct DiagnosticLog: Sendable {
  public static let limit = 50

  public private(set) var diagnostics: [Diagnostic] = []
  private var seen: Set<Diagnostic> = []
  public private(set) var truncated = false

  public init() {}

  public var hasErrors: Bool { !diagnostics.isEmpty }
  public var isFull: Bool { diagnostics.count >= Self.limit }

  public mutating func report(_ diagnostic: Diagnostic) {
    guard !isFull else {
      truncated = true
      return
    }
    if seen.insert(diagnostic).inserted { diagnostics.append(diagnostic) }
  }

  public mutating func error(at location: SourceLocation?, _ message: String) {
    report(Diagnostic(at: location, message))
  }
}

/// Renders diagnostics against the files they point into.
public struct DiagnosticRenderer: Sendable {
  public let files: [SourceFile]
  /// Longest stretch of a source line shown; longer lines are cut around the caret.
  static let window = 100

  public init(files: [SourceFile]) { self.files = files }

  public func render(_ log: DiagnosticLog) -> String {
    var out = log.diagnostics.map(render).joined()
    if log.truncated { out += "error: too many errors; stopping after \(DiagnosticLog.limit)\n" }
    return out
  }

  public func render(_ diagnostic: Diagnostic) -> String {
    var out = ""
    guard let location = diagnostic.location, files.indices.contains(location.file) else {
      out = "\(diagnostic.severity.rawValue): \(diagnostic.message)\n"
      return out + diagnostic.notes.map(render).joined()
    }
    let file = files[location.file]
    let (line, column) = file.lineAndColumn(location.offset)
    out += "\(file.path):\(line):\(column): \(diagnostic.severity.rawValue): \(diagnostic.message)\n"
    out += excerpt(file.lineBytes(line), caretColumn: column)
    return out + diagnostic.notes.map(render).joined()
  }

  /// The source line (printable ASCII kept, other bytes shown as '?', tabs as spaces) and a
  /// caret under the column; a long line is cut to a window around the caret.
  private func excerpt(_ bytes: ArraySlice<UInt8>, caretColumn: Int) -> String {
    let line = Array(bytes)
    var caret = caretColumn - 1
    var start = 0
    var end = line.count
    var prefix = ""
    var suffix = ""
    if line.count > Self.window {
      start = max(0, min(caret - Self.window / 2, line.count - Self.window))
      end = min(line.count, start + Self.window)
      if start > 0 { prefix = "..." }
      if end < line.count { suffix = "..." }
    }
    let shown = line[start..<end].map { byte -> Character in
      switch byte {
      case 0x09: " "
      case 0x20...0x7E: Character(Unicode.Scalar(byte))
      default: "?"
      }
    }
    caret = caret - start + prefix.count
    return "  " + prefix + String(shown) + suffix + "\n  " + String(repeating: " ", count: max(0, caret)) + "^\n"
  }
}
