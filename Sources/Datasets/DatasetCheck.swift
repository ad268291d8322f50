import Foundation
import ImageIO

/// Everything that can be known about a dataset folder before a long run: every image
/// decodes, every mask exists, decodes, is binary and has its image's size (or is said to
/// be resized), labels are in range for the model, no name appears twice; and the class
/// balance. `isnetc check-dataset` prints it; `isnetc train` runs it before epoch 1.
public struct DatasetCheck: Sendable {
  /// A fault that would stop or corrupt a run, naming the file.
  public var problems: [String] = []
  /// Worth knowing, harmless (e.g. masks of another size, resized like the image).
  public var notes: [String] = []
  /// Samples per class or label (positives), and unknown values per label.
  public var counts: [Int] = []
  public var unknown: [Int] = []
  public var samples = 0

  /// Checks `folder` for a model with `classes` classes (nil: only what the folder implies).
  /// `progress(done)` is called after each sample.
  public init(_ folder: DatasetFolder, classes: Int?, progress: (Int) -> Void = { _ in }) {
    samples = folder.entries.count
    let labelCount = classes ?? folder.classNames?.count ?? ((folder.entries.flatMap { $0.labels + $0.unknown }.max() ?? -1) + 1)
    counts = Array(repeating: 0, count: labelCount)
    unknown = Array(repeating: 0, count: labelCount)
    if let classes, let names = folder.classNames, names.count != classes {
      problems.append("\(folder.directory): the folder names \(names.count) classes or labels (\(names.joined(separator: ", "))); the model has \(classes)")
    }
    var seen: [String: Int] = [:]
    for (index, entry) in folder.entries.enumerated() {
      seen[entry.file, default: 0] += 1
      if seen[entry.file] == 2 { problems.append("\(folder.imagePath(entry)): listed more than once") }
      for label in entry.labels where label < labelCount { counts[label] += 1 }
      for label in entry.unknown where label < labelCount { unknown[label] += 1 }
      if let classes, let bad = entry.labels.first(where: { $0 >= classes }) {
        problems.append("\(folder.imagePath(entry)): label \(bad) is out of range for \(classes) classes")
      }
      check(entry, in: folder)
      progress(index + 1)
    }
  }

  private mutating func check(_ entry: DatasetFolder.Entry, in folder: DatasetFolder) {
    let imagePath = folder.imagePath(entry)
    let image: Image
    do { image = try readImage(path: imagePath) } catch {
      problems.append("\(error)")
      return
    }
    guard folder.hasMasks else { return }
    let maskPath = folder.maskPath(entry)
    guard FileManager.default.fileExists(atPath: maskPath) else {
      problems.append("\(maskPath): missing (every image of a folder with masks needs one)")
      return
    }
    let mask: Image
    do { mask = try readImage(path: maskPath) } catch {
      problems.append("\(error)")
      return
    }
    // The first channel: gray, or red of an RGB mask.
    let plane = mask.height * mask.width
    let values = Array(mask.pixels.prefix(plane))
    let between = values.filter { $0 > 0 && $0 < 1 }.count
    if between > 0 {
      problems.append("\(maskPath): not binary: \(between) of \(plane) pixels are neither 0 nor the maximum (white)")
    }
    if !values.contains(where: { $0 > 0 }) {
      notes.append("\(maskPath): no foreground at all (the heatmap loss then counts all relevance as background)")
    }
    if mask.height != image.height || mask.width != image.width {
      notes.append("\(maskPath): \(mask.width)×\(mask.height) for a \(image.width)×\(image.height) image; both are resized to the model's input")
    }
  }

  /// The report: balance, notes (first few), problems (first 20, then a count).
  public func report(names: [String]?) -> String {
    var out = "\(samples) samples\n"
    let width = max(5, (names ?? []).map(\.count).max() ?? 0)
    for (k, count) in counts.enumerated() {
      let name = names.flatMap { k < $0.count ? $0[k] : nil } ?? String(k)
      let share = samples > 0 ? 100 * Double(count) / Double(samples) : 0
      out += "  " + name.padding(toLength: width, withPad: " ", startingAt: 0)
        + String(format: "  %6d  %5.1f%%", count, share) + (unknown[k] > 0 ? "  (\(unknown[k]) unknown)" : "") + "\n"
    }
    func list(_ items: [String], limit: Int) -> String {
      items.prefix(limit).map { "  \($0)\n" }.joined() + (items.count > limit ? "  … and \(items.count - limit) more\n" : "")
    }
    if !notes.isEmpty { out += "\(notes.count) note\(notes.count == 1 ? "" : "s"):\n" + list(notes, limit: 5) }
    out += problems.isEmpty ? "no problems found\n" : "\(problems.count) problem\(problems.count == 1 ? "" : "s"):\n" + list(problems, limit: 20)
    return out
  }
}
