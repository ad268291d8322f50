import Foundation
import GraphIR
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

  /// One name per op: every language op that builds one GraphIR op has that op's name, the
  /// one the text form writes (a sugar op building several, global_avgpool, has its own).
  @Test func languageNamesAreTheTextFormNames() {
    for signature in OpCatalog.all {
      var values: [String: Value] = [:]
      for attribute in signature.attributes {
        switch attribute.defaultValue {
        case .required: values[attribute.name] = .int(1)
        case .value(let value): values[attribute.name] = value
        case .sameAs(let other): values[attribute.name] = values[other]
        }
      }
      let ops = signature.build(AttributeValues(values: values))
      if ops.count == 1 {
        #expect(ops[0].name == signature.name)
      } else {
        #expect(ops.allSatisfy { $0.name != signature.name }, "\(signature.name)")
      }
    }
  }
}
