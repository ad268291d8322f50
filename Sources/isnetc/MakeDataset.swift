import ArgumentParser
import Datasets
import Foundation
import ImageIO

struct MakeDataset: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "make-dataset",
    abstract: "Write a synthetic benchmark dataset with segmentation masks.",
    discussion: """
      chest: a chest-X-ray-like task (gray images, two lung-shaped foreground regions, 3 \
      classes: normal, nodules, haze; the class lives only inside the lungs) with a \
      class-coded shape in the background (triangle, square, circle) to tempt a \
      classifier into a shortcut. Splits: train, val and test-biased (the shape of the \
      image's class), test-clean (no shape), test-swapped (the next class's shape). The \
      three test splits hold the same images apart from the shape, so their scores differ \
      by the shape's effect alone. val is drawn like train: model selection sees only \
      biased data, as it would in practice.

      Layout, per split: SPLIT/images/NAME.png, SPLIT/masks/NAME.png (255 = foreground) \
      and SPLIT/labels.csv (`file,label`, the label a class index; classes.txt beside the \
      splits names them). The same seed writes the same bytes.
      """
  )

  enum Kind: String, ExpressibleByArgument, CaseIterable { case chest }

  @Argument(help: "The kind of dataset: chest.")
  var kind: Kind

  @Option(help: ArgumentHelp("Directory to write (created if missing).", valueName: "DIR"))
  var out: String

  @Option(help: "Seed of every image.")
  var seed: UInt64 = 0

  @Option(help: "Training images; val and each test split get a quarter as many (at least 3).")
  var size = 600

  @Option(help: "Image side in pixels.")
  var resolution = 64

  @Option(help: "Strength of the class signal inside the lungs (1: the default contrast; lower is subtler).")
  var signal = 1.0

  @Option(help: "Side of the background shape as a fraction of the image's (larger: a stronger bias).")
  var shapeSize = 0.125

  func validate() throws {
    guard size >= 3 else { throw ValidationError("--size must be at least 3, got \(size)") }
    guard shapeSize > 0, shapeSize <= 0.3 else { throw ValidationError("--shape-size must be in (0, 0.3], got \(shapeSize)") }
    guard signal > 0, signal.isFinite else { throw ValidationError("--signal must be positive, got \(signal)") }
    guard (16...1024).contains(resolution) else { throw ValidationError("--resolution must be between 16 and 1024, got \(resolution)") }
  }

  func run() throws {
    let task = SyntheticChest(resolution: resolution, signal: signal, shapeSize: shapeSize)
    let splits = SyntheticChest.splits(trainingSize: size)
    let total = splits.reduce(0) { $0 + $1.count }
    let progress = Progress(total: total, label: "writing")
    var done = 0
    do {
      try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
      try Data((SyntheticChest.classNames.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: "\(out)/classes.txt"), options: .atomic)
      for split in splits {
        let directory = "\(out)/\(split.name)"
        for sub in ["images", "masks"] {
          try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        var csv = "file,label\n"
        for i in 0..<split.count {
          let label = SyntheticChest.label(index: i)
          let sample = task.sample(label: label, shapes: split.shapes, seed: SyntheticChest.seed(dataset: seed, stream: split.stream, index: i))
          let name = String(format: "%05d.png", i)
          try PNGCodec.write(Image(channels: 1, height: resolution, width: resolution, pixels: sample.image), to: "\(directory)/images/\(name)")
          try PNGCodec.write(Image(channels: 1, height: resolution, width: resolution, pixels: sample.mask), to: "\(directory)/masks/\(name)")
          csv += "\(name),\(label)\n"
          done += 1
          progress.update(done)
        }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: "\(directory)/labels.csv"), options: .atomic)
      }
    } catch {
      throw fail(error)
    }
    progress.finish()
    print("wrote \(total) images with masks to \(out) (\(splits.map { "\($0.name) \($0.count)" }.joined(separator: ", ")))")
  }
}
