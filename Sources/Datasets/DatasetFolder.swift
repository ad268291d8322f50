import Foundation
import ImageIO

/// A dataset folder, in one of three layouts (errors name the file and line or column):
///
/// - **canonical** (what `isnetc make-dataset` writes): `images/NAME`, optional `masks/NAME`
///   (1 or 255 = foreground) and `labels.csv` with a header naming at least `file` and
///   `label`, optionally `split`. A label is a class index; a multi-label folder lists a
///   sample's labels separated by `;` (none: an empty cell).
/// - **wide CSV** (CheXpert, CelebA's attribute lists): `labels.csv` with `file` and one
///   column per label, headed by the label's name, holding 1 (present), 0 (absent), or -1 or
///   nothing (unknown: left out of the loss and of that label's metrics); images and masks
///   as in the canonical layout.
/// - **ImageFolder** (torchvision's): no `labels.csv`; one folder per class, named after it
///   (classes in sorted order, as torchvision numbers them), holding that class's images;
///   masks, when present, in `masks/CLASS/NAME`.
public struct DatasetFolder: Sendable {
  public enum Layout: String, Sendable { case canonical, wideCSV = "wide CSV", imageFolder = "ImageFolder" }

  public struct Entry: Sendable {
    /// The image's path relative to the image root (`NAME`, or `CLASS/NAME` in ImageFolder).
    public var file: String
    public var labels: [Int]
    /// Labels whose value is unknown (wide CSV: -1 or empty).
    public var unknown: [Int] = []
    public var split: String?
    /// The class of a single-label sample (`requireSingleLabels` checked there is one).
    public var label: Int { labels[0] }

    public init(file: String, labels: [Int], unknown: [Int] = [], split: String? = nil) {
      self.file = file
      self.labels = labels
      self.unknown = unknown
      self.split = split
    }
  }

  public let directory: String
  public let layout: Layout
  public let entries: [Entry]
  public let hasMasks: Bool
  /// The class or label names the folder itself gives (wide CSV header, ImageFolder folders).
  public let classNames: [String]?
  private let imageRoot: String
  private let maskRoot: String

  public init(directory: String) throws {
    self.directory = directory
    let csvPath = "\(directory)/labels.csv"
    let fileManager = FileManager.default
    if fileManager.fileExists(atPath: csvPath) {
      guard let text = try? String(contentsOfFile: csvPath, encoding: .utf8) else {
        throw DatasetError("\(csvPath): cannot read the labels file")
      }
      let table = try Self.readCSV(text, path: csvPath)
      imageRoot = "\(directory)/images"
      maskRoot = "\(directory)/masks"
      if table.header.contains("label") {
        layout = .canonical
        classNames = nil
        entries = try Self.canonicalEntries(table, path: csvPath)
      } else {
        layout = .wideCSV
        let labelColumns = table.header.indices.filter { !["file", "split"].contains(table.header[$0]) }
        guard !labelColumns.isEmpty else {
          throw DatasetError("\(csvPath):1: the header names 'file' but neither a 'label' column nor any label columns")
        }
        classNames = labelColumns.map { table.header[$0] }
        entries = try Self.wideEntries(table, labelColumns: labelColumns, path: csvPath)
      }
    } else {
      let classes = (try? fileManager.contentsOfDirectory(atPath: directory))?.filter { name in
        var isDirectory: ObjCBool = false
        return name != "masks" && !name.hasPrefix(".")
          && fileManager.fileExists(atPath: "\(directory)/\(name)", isDirectory: &isDirectory) && isDirectory.boolValue
      }.sorted() ?? []
      guard !classes.isEmpty else {
        throw DatasetError("\(directory): not a dataset folder: no labels.csv (canonical or wide layout) and no class folders (ImageFolder layout)")
      }
      layout = .imageFolder
      classNames = classes
      imageRoot = directory
      maskRoot = "\(directory)/masks"
      var entries: [Entry] = []
      for (index, name) in classes.enumerated() {
        let files = ((try? fileManager.contentsOfDirectory(atPath: "\(directory)/\(name)")) ?? [])
          .filter { !$0.hasPrefix(".") }.sorted()
        entries += files.map { Entry(file: "\(name)/\($0)", labels: [index]) }
      }
      self.entries = entries
    }
    guard !entries.isEmpty else { throw DatasetError("\(directory): no samples") }
    var isDirectory: ObjCBool = false
    hasMasks = fileManager.fileExists(atPath: maskRoot, isDirectory: &isDirectory) && isDirectory.boolValue
  }

  /// Checks that every sample has exactly one label below `classes`; `user` says who
  /// needs that, for the message.
  public func requireSingleLabels(classes: Int, user: String = "a single-label (softmax) model") throws {
    if let bad = entries.first(where: { $0.labels.count != 1 || !$0.unknown.isEmpty }) {
      throw DatasetError("\(labelSource(bad)): '\(bad.file)' has \(bad.labels.count) labels\(bad.unknown.isEmpty ? "" : " and \(bad.unknown.count) unknown"); \(user) needs exactly one per sample")
    }
    try requireLabels(below: classes)
  }

  public func requireLabels(below classes: Int) throws {
    if let names = classNames, names.count != classes {
      throw DatasetError("\(directory): the \(layout.rawValue) layout names \(names.count) \(layout == .imageFolder ? "classes" : "labels") (\(names.joined(separator: ", "))); the model has \(classes)")
    }
    if let bad = entries.first(where: { $0.labels.contains { $0 >= classes } }) {
      throw DatasetError("\(labelSource(bad)): '\(bad.file)' has label \(bad.labels.max()!); the model has \(classes) classes")
    }
  }

  public func imagePath(_ entry: Entry) -> String { "\(imageRoot)/\(entry.file)" }
  public func maskPath(_ entry: Entry) -> String { "\(maskRoot)/\(entry.file)" }

  /// The mask resized to the model's input, [H, W] in [0, 1].
  public func mask(_ entry: Entry, height: Int, width: Int) throws -> [Float] {
    try loadImage(path: maskPath(entry), channels: 1, height: height, width: width, range: 0...1)
  }

  /// Where an entry's labels come from, for messages.
  private func labelSource(_ entry: Entry) -> String {
    layout == .imageFolder ? imagePath(entry) : "\(directory)/labels.csv"
  }

  // MARK: labels.csv

  struct CSV {
    var header: [String]
    /// (line number, cells) of every non-empty row.
    var rows: [(line: Int, cells: [String])]
  }

  static func readCSV(_ text: String, path: String) throws -> CSV {
    let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
    guard let first = lines.first, !first.trimmingCharacters(in: .whitespaces).isEmpty else {
      throw DatasetError("\(path):1: empty file; the first line names the columns")
    }
    let header = first.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    guard header.contains("file") else { throw DatasetError("\(path):1: the header must name a 'file' column") }
    if let duplicate = header.first(where: { name in header.filter { $0 == name }.count > 1 }) {
      throw DatasetError("\(path):1: the column '\(duplicate)' appears twice")
    }
    var rows: [(Int, [String])] = []
    for (number, line) in lines.enumerated().dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
      let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      guard cells.count == header.count else {
        throw DatasetError("\(path):\(number + 1): \(cells.count) fields, the header has \(header.count)")
      }
      rows.append((number + 1, cells))
    }
    return CSV(header: header, rows: rows)
  }

  static func canonicalEntries(_ table: CSV, path: String) throws -> [Entry] {
    let fileColumn = table.header.firstIndex(of: "file")!, labelColumn = table.header.firstIndex(of: "label")!
    let splitColumn = table.header.firstIndex(of: "split")
    return try table.rows.map { line, cells in
      let cell = cells[labelColumn]
      let parts = cell.isEmpty ? [] : cell.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      var labels: [Int] = []
      for part in parts {
        guard let label = Int(part), label >= 0 else {
          throw DatasetError("\(path):\(line): label '\(cell)' is not a class index (or indices separated by ';')")
        }
        if !labels.contains(label) { labels.append(label) }
      }
      return Entry(file: cells[fileColumn], labels: labels, split: splitColumn.map { cells[$0] })
    }
  }

  static func wideEntries(_ table: CSV, labelColumns: [Int], path: String) throws -> [Entry] {
    let fileColumn = table.header.firstIndex(of: "file")!
    let splitColumn = table.header.firstIndex(of: "split")
    return try table.rows.map { line, cells in
      var entry = Entry(file: cells[fileColumn], labels: [], split: splitColumn.map { cells[$0] })
      for (k, column) in labelColumns.enumerated() {
        switch cells[column] {
        case "1", "1.0": entry.labels.append(k)
        case "0", "0.0": break
        case "-1", "-1.0", "": entry.unknown.append(k)
        case let other:
          throw DatasetError("\(path):\(line), column '\(table.header[column])': '\(other)' is not 1, 0, -1 or empty")
        }
      }
      return entry
    }
  }
}

/// A dataset folder that cannot be read as one, naming the file and line or column.
public struct DatasetError: Error, Sendable, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
