import Foundation
import Testing

/// Paths inside the repository, found from this file's location so tests run from anywhere.
public enum Repository {
  public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

  public static func read(_ relative: String) throws -> String {
    try String(contentsOfFile: path(relative), encoding: .utf8)
  }
}

/// Compares `actual` with the golden file `RELATIVE` (a path inside the repository, e.g.
/// `Tests/ModelLangTests/Golden/tiny.ir`). With `UPDATE_GOLDEN=1` in the environment the
/// file is (re)written instead; a mismatch fails with a line diff.
public func assertGolden(
  _ actual: String, at relative: String, sourceLocation: Testing.SourceLocation = #_sourceLocation
) throws {
  let path = Repository.path(relative)
  if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
    try actual.write(toFile: path, atomically: true, encoding: .utf8)
    return
  }
  guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
    Issue.record("missing golden file \(relative); run UPDATE_GOLDEN=1 swift test to record it", sourceLocation: sourceLocation)
    return
  }
  if expected != actual {
    Issue.record("\(relative) differs (- golden, + actual):\n\(lineDiff(expected, actual))", sourceLocation: sourceLocation)
  }
}

/// A unified-style diff of two texts by longest common subsequence of lines, showing only
/// changed lines with their line numbers (at most 40).
public func lineDiff(_ old: String, _ new: String) -> String {
  let a = old.split(separator: "\n", omittingEmptySubsequences: false)
  let b = new.split(separator: "\n", omittingEmptySubsequences: false)
  var lcs = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
  for i in stride(from: a.count - 1, through: 0, by: -1) {
    for j in stride(from: b.count - 1, through: 0, by: -1) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
    }
  }
  var out: [String] = []
  var i = 0
  var j = 0
  while i < a.count || j < b.count {
    if i < a.count, j < b.count, a[i] == b[j] {
      i += 1
      j += 1
    } else if j < b.count, i == a.count || lcs[i][j + 1] >= lcs[i + 1][j] {
      out.append("+\(j + 1): \(b[j])")
      j += 1
    } else {
      out.append("-\(i + 1): \(a[i])")
      i += 1
    }
  }
  let shown = out.prefix(40).joined(separator: "\n")
  return out.count > 40 ? shown + "\n… \(out.count - 40) more changed lines" : shown
}
