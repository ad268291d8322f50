import Foundation
import ImageIO
import Testing

@testable import Datasets

/// The three dataset layouts, their errors, and `DatasetCheck` on a deliberately broken copy
/// of the chest benchmark.
@Suite final class DatasetFolderTests {
  let root: String

  init() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("isnetc-datasets-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: root) }

  func write(_ text: String, _ path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
  }

  func png(_ path: String, side: Int = 8, value: Float = 1) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try PNGCodec.write(Image(channels: 1, height: side, width: side, pixels: Array(repeating: value, count: side * side)), to: path)
  }

  /// `count` chest samples written as `make-dataset chest` writes a split.
  func chestSplit(_ directory: String, count: Int) throws {
    let task = SyntheticChest(resolution: 32)
    var csv = "file,label\n"
    for i in 0..<count {
      let label = SyntheticChest.label(index: i)
      let sample = task.sample(label: label, shapes: .matching, seed: UInt64(i))
      let name = String(format: "%05d.png", i)
      try FileManager.default.createDirectory(atPath: "\(directory)/images", withIntermediateDirectories: true)
      try FileManager.default.createDirectory(atPath: "\(directory)/masks", withIntermediateDirectories: true)
      try PNGCodec.write(Image(channels: 1, height: 32, width: 32, pixels: sample.image), to: "\(directory)/images/\(name)")
      try PNGCodec.write(Image(channels: 1, height: 32, width: 32, pixels: sample.mask), to: "\(directory)/masks/\(name)")
      csv += "\(name),\(label)\n"
    }
    try write(csv, "\(directory)/labels.csv")
  }

  @Test func wideCSVNamesLabelsAndMasksUnknownValues() throws {
    let dir = "\(root)/wide"
    try write("file,smiling,glasses,split\na.png,1,0,train\nb.png,-1,1,train\nc.png,,0,val\n", "\(dir)/labels.csv")
    let folder = try DatasetFolder(directory: dir)
    #expect(folder.layout == .wideCSV)
    #expect(folder.classNames == ["smiling", "glasses"])
    #expect(folder.entries.map(\.labels) == [[0], [1], []])
    #expect(folder.entries.map(\.unknown) == [[], [0], [0]])
    #expect(folder.entries.map(\.split) == ["train", "train", "val"])
    #expect(folder.imagePath(folder.entries[1]) == "\(dir)/images/b.png")
    #expect(throws: DatasetError.self) { try folder.requireSingleLabels(classes: 2) }
    #expect(throws: DatasetError.self) { try folder.requireLabels(below: 3) }
  }

  @Test func wideCSVErrorsNameTheLineAndColumn() throws {
    let dir = "\(root)/bad-wide"
    try write("file,smiling\na.png,1\nb.png,yes\n", "\(dir)/labels.csv")
    do {
      _ = try DatasetFolder(directory: dir)
      Issue.record("expected an error")
    } catch {
      #expect("\(error)" == "\(dir)/labels.csv:3, column 'smiling': 'yes' is not 1, 0, -1 or empty")
    }
  }

  @Test func imageFolderTakesClassesFromSortedFolders() throws {
    let dir = "\(root)/folder"
    try png("\(dir)/dog/1.png")
    try png("\(dir)/cat/2.png")
    try png("\(dir)/cat/1.png")
    try png("\(dir)/masks/cat/1.png")
    let folder = try DatasetFolder(directory: dir)
    #expect(folder.layout == .imageFolder)
    #expect(folder.classNames == ["cat", "dog"])
    #expect(folder.entries.map(\.file) == ["cat/1.png", "cat/2.png", "dog/1.png"])
    #expect(folder.entries.map(\.label) == [0, 0, 1])
    #expect(folder.hasMasks)
    #expect(folder.maskPath(folder.entries[0]) == "\(dir)/masks/cat/1.png")
    try folder.requireSingleLabels(classes: 2)
    #expect(throws: DatasetError.self) { try folder.requireSingleLabels(classes: 3) }
  }

  @Test func aFolderWithNeitherLayoutIsNamed() throws {
    let dir = "\(root)/empty"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    #expect(throws: DatasetError.self) { try DatasetFolder(directory: dir) }
  }

  /// Each fault of a broken copy of the chest benchmark is reported, naming its file; the
  /// intact copy has none.
  @Test func theCheckCatchesEveryFaultOfABrokenChestCopy() throws {
    let intact = "\(root)/intact", broken = "\(root)/broken"
    try chestSplit(intact, count: 9)
    let clean = DatasetCheck(try DatasetFolder(directory: intact), classes: 3)
    #expect(clean.problems.isEmpty, "\(clean.problems)")
    #expect(clean.counts == [3, 3, 3])

    try chestSplit(broken, count: 9)
    // The faults, one per sample:
    try Data("not an image".utf8).write(to: URL(fileURLWithPath: "\(broken)/images/00000.png"))  // 1. corrupt image
    try FileManager.default.removeItem(atPath: "\(broken)/masks/00001.png")  // 2. missing mask
    try png("\(broken)/masks/00002.png", side: 32, value: 0.5)  // 3. non-binary mask
    try png("\(broken)/masks/00004.png", side: 16)  // 5. a mask of another size: a note
    var csv = try String(contentsOfFile: "\(broken)/labels.csv", encoding: .utf8)
    csv = csv.replacingOccurrences(of: "00003.png,0", with: "00003.png,5")  // 4. label out of range
    csv += "00005.png,2\n"  // 6. a name listed twice
    try write(csv, "\(broken)/labels.csv")
    let check = DatasetCheck(try DatasetFolder(directory: broken), classes: 3)
    let problems = check.problems.joined(separator: "\n")
    #expect(problems.contains("\(broken)/images/00000.png: "))
    #expect(problems.contains("\(broken)/masks/00001.png: missing"))
    #expect(problems.contains("\(broken)/masks/00002.png: not binary"))
    #expect(problems.contains("label 5"))
    #expect(problems.contains("\(broken)/images/00005.png: listed more than once"))
    #expect(check.notes.contains { $0.hasPrefix("\(broken)/masks/00004.png: 16×16 for a 32×32 image") })
    #expect(!problems.contains("00004.png") && !problems.contains("00006.png"))
    #expect(check.report(names: nil).contains("problems:"))
  }
}
