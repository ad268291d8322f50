import Foundation
import ImageIO

/// A dataset folder as `isnetc make-dataset` writes it (and as training reads it):
/// `images/NAME`, optional `masks/NAME` (1 or 255 = foreground) and `labels.csv` with a
/// header naming at least `file` and `label` columns, optionally `split`. A label is a
/// class index; a multi-label folder lists a sample's labels separated by `;` (none: an
/// empty cell). Errors name the file and line.
struct DatasetFolder {
  struct Entry {
    var file: String
    var labels: [Int]
    var split: String?
    /// The class of a single-label sample (`requireSingleLabels` checked there is one).
    var label: Int { labels[0] }
  }

  let directory: String
  let entries: [Entry]
  let hasMasks: Bool

  init(directory: String) throws {
    self.directory = directory
    let csvPath = "\(directory)/labels.csv"
    guard let text = try? String(contentsOfFile: csvPath, encoding: .utf8) else {
      throw InputError("\(csvPath): cannot read the labels file (a dataset folder holds images/, labels.csv and optionally masks/)")
    }
    let lines = text.split(whereSeparator: \.isNewline).map(String.init)
    guard let header = lines.first?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }),
      let fileColumn = header.firstIndex(of: "file"), let labelColumn = header.firstIndex(of: "label")
    else { throw InputError("\(csvPath):1: the header must name the columns 'file' and 'label'") }
    let splitColumn = header.firstIndex(of: "split")
    var entries: [Entry] = []
    for (number, line) in lines.enumerated().dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
      let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      guard cells.count == header.count else {
        throw InputError("\(csvPath):\(number + 1): \(cells.count) fields, the header has \(header.count)")
      }
      let cell = cells[labelColumn]
      let parts = cell.isEmpty ? [] : cell.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      var labels: [Int] = []
      for part in parts {
        guard let label = Int(part), label >= 0 else {
          throw InputError("\(csvPath):\(number + 1): label '\(cell)' is not a class index (or indices separated by ';')")
        }
        if !labels.contains(label) { labels.append(label) }
      }
      entries.append(Entry(file: cells[fileColumn], labels: labels, split: splitColumn.map { cells[$0] }))
    }
    guard !entries.isEmpty else { throw InputError("\(csvPath): no samples") }
    self.entries = entries
    var isDirectory: ObjCBool = false
    hasMasks = FileManager.default.fileExists(atPath: "\(directory)/masks", isDirectory: &isDirectory) && isDirectory.boolValue
  }

  /// Checks that every sample has exactly one label below `classes`; `user` says who
  /// needs that, for the message.
  func requireSingleLabels(classes: Int, user: String = "a single-label (softmax) model") throws {
    if let bad = entries.first(where: { $0.labels.count != 1 }) {
      throw InputError("\(directory)/labels.csv: '\(bad.file)' has \(bad.labels.count) labels; \(user) needs exactly one per sample")
    }
    try requireLabels(below: classes)
  }

  func requireLabels(below classes: Int) throws {
    if let bad = entries.first(where: { $0.labels.contains { $0 >= classes } }) {
      throw InputError("\(directory)/labels.csv: '\(bad.file)' has label \(bad.labels.max()!); the model has \(classes) classes")
    }
  }

  func imagePath(_ entry: Entry) -> String { "\(directory)/images/\(entry.file)" }
  func maskPath(_ entry: Entry) -> String { "\(directory)/masks/\(entry.file)" }

  /// The mask resized to the model's input, [H, W] in [0, 1].
  func mask(_ entry: Entry, height: Int, width: Int) throws -> [Float] {
    try loadImage(path: maskPath(entry), channels: 1, height: height, width: width, range: 0...1)
  }
}
