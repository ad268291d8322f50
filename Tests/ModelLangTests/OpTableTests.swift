import Foundation
import Testing
import TestSupport

@testable import ModelLang

/// `docs/language.md`'s op table is the op catalog rendered: the two cannot drift apart.
@Suite struct OpTableTests {
  static let document = "docs/language.md"
  static let begin = "<!-- op table begin -->\n"
  static let end = "<!-- op table end -->"

  @Test func languageReferenceTableMatchesTheCatalog() throws {
    let text = try Repository.read(Self.document)
    guard let start = text.range(of: Self.begin), let stop = text.range(of: Self.end, range: start.upperBound..<text.endIndex) else {
      Issue.record("\(Self.document) has no op table markers")
      return
    }
    let table = OpCatalog.markdownTable
    let current = String(text[start.upperBound..<stop.lowerBound])
    if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
      let updated = text.replacingCharacters(in: start.upperBound..<stop.lowerBound, with: table)
      try updated.write(toFile: Repository.path(Self.document), atomically: true, encoding: .utf8)
      return
    }
    #expect(current == table, "\(Self.document)'s op table differs from the catalog (- document, + catalog):\n\(lineDiff(current, table))")
  }

  /// Every op of the catalog has its own section in the reference.
  @Test func everyOpHasASection() throws {
    let text = try Repository.read(Self.document)
    for signature in OpCatalog.all {
      #expect(text.contains("\n### \(signature.name)\n"), "\(Self.document) has no section '### \(signature.name)'")
    }
  }
}
