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

      glyphs: hand-drawn-looking digits 2, 4, 7 (jittered, slanted strokes of random \
      thickness) on a cluttered gray canvas; the mask is the glyph's box; the bias a bright \
      patch in the class's corner (--patch-size, --patch-contrast).

      objects: RGB circles, triangles and stars with striped texture on coloured, streaked \
      backgrounds; the mask is the object with a 3-pixel margin (at 64 px; a shape's \
      contour has evidence on both sides); the bias a class-coded watermark word \
      (--watermark-opacity).

      faces: a multi-label task, the paper's artificially biased CelebA in miniature: RGB \
      face-like heads (skin tone, size, place and tilt vary) with four attributes drawn \
      independently, each present half the time and drawn only on the head: glasses, \
      smiling, hat, beard (--signal: how visible glasses, beard and smile are). The mask is \
      the head with its ears and hat. Each attribute has a two-valued cue in the textured \
      background: glasses a warm or cool tint, smiling horizontal or vertical stripes, hat \
      a square or a circle top left, beard a triangle or a cross bottom right \
      (--cue-strength; 0 leaves them out everywhere, for a reference trained without the \
      bias). test-clean has no cues, test-swapped the opposite values'. \
      labels.csv lists each image's attributes as indices separated by `;` (empty for \
      none); classes.txt names them. Train a model declared `-> sigmoid` \
      (models/tiny_multilabel.isnet).

      All kinds share the split layout; each kind's bias strength is set so that a standard \
      classifier takes the shortcut (docs/training.md).
      """
  )

  enum Kind: String, ExpressibleByArgument, CaseIterable { case chest, glyphs, objects, faces }

  @Argument(help: "The kind of dataset: chest, glyphs, objects or faces.")
  var kind: Kind

  @Option(help: ArgumentHelp("Directory to write (created if missing).", valueName: "DIR"))
  var out: String

  @Option(help: "Seed of every image.")
  var seed: UInt64 = 0

  @Option(help: "Training images; val and each test split get a quarter as many (at least 3).")
  var size = 600

  @Option(help: "Image side in pixels.")
  var resolution = 64

  @Option(help: "chest: strength of the class signal inside the lungs (1: the default contrast; lower is subtler); glyphs: the strokes' contrast (default 0.5); faces: how visible glasses, beard and smile are (default 0.6).")
  var signal: Double?

  @Option(help: "chest: side of the background shape as a fraction of the image's (larger: a stronger bias).")
  var shapeSize = 0.125

  @Option(help: "glyphs: side of the corner patch as a fraction of the image's.")
  var patchSize = SyntheticGlyphs().patchSize

  @Option(help: "glyphs: the corner patch's brightness above the background, in (0, 1].")
  var patchContrast = SyntheticGlyphs().patchContrast

  @Option(help: "objects: the watermark's opacity, in (0, 1].")
  var watermarkOpacity = SyntheticObjects().watermarkOpacity

  @Option(help: "faces: strength of the background cues (larger: a stronger bias; 0: none, every split as test-clean).")
  var cueStrength = SyntheticFaces().cueStrength

  func validate() throws {
    guard size >= 3 else { throw ValidationError("--size must be at least 3, got \(size)") }
    guard shapeSize > 0, shapeSize <= 0.3 else { throw ValidationError("--shape-size must be in (0, 0.3], got \(shapeSize)") }
    if let signal, !(signal > 0 && signal.isFinite) { throw ValidationError("--signal must be positive, got \(signal)") }
    guard patchSize > 0, patchSize <= 0.2 else { throw ValidationError("--patch-size must be in (0, 0.2], got \(patchSize)") }
    guard patchContrast > 0, patchContrast <= 1 else { throw ValidationError("--patch-contrast must be in (0, 1], got \(patchContrast)") }
    guard watermarkOpacity > 0, watermarkOpacity <= 1 else { throw ValidationError("--watermark-opacity must be in (0, 1], got \(watermarkOpacity)") }
    guard cueStrength >= 0, cueStrength <= 3 else { throw ValidationError("--cue-strength must be in [0, 3], got \(cueStrength)") }
    guard (16...1024).contains(resolution) else { throw ValidationError("--resolution must be between 16 and 1024, got \(resolution)") }
  }

  /// Class names, channels and, per split and index, the image, its mask and its label
  /// cell: a class index, or a multi-label sample's indices separated by `;`.
  typealias Draw = (SyntheticChest.Split, Int) -> (image: [Float], mask: [Float], label: String)

  var task: (classNames: [String], channels: Int, draw: Draw) {
    let seed = self.seed
    func singleLabel(_ task: any BiasBenchmark) -> (classNames: [String], channels: Int, draw: Draw) {
      (task.classNames, task.channels, { split, i in
        let label = i % task.classNames.count
        let sample = task.draw(label: label, bias: split.shapes, seed: SyntheticChest.seed(dataset: seed, stream: split.stream, index: i))
        return (sample.image, sample.mask, String(label))
      })
    }
    switch kind {
    case .chest: return singleLabel(SyntheticChest(resolution: resolution, signal: signal ?? 1, shapeSize: shapeSize))
    case .glyphs:
      return singleLabel(SyntheticGlyphs(resolution: resolution, patchSize: patchSize, patchContrast: patchContrast, signal: signal ?? SyntheticGlyphs().signal))
    case .objects: return singleLabel(SyntheticObjects(resolution: resolution, watermarkOpacity: watermarkOpacity))
    case .faces:
      let faces = SyntheticFaces(resolution: resolution, signal: signal ?? SyntheticFaces().signal, cueStrength: cueStrength)
      return (faces.attributeNames, faces.channels, { split, i in
        let sample = faces.sample(bias: split.shapes, seed: SyntheticChest.seed(dataset: seed, stream: split.stream, index: i))
        return (sample.image, sample.mask, sample.labels.map(String.init).joined(separator: ";"))
      })
    }
  }

  func run() throws {
    let task = self.task
    let splits = SyntheticChest.splits(trainingSize: size)
    let total = splits.reduce(0) { $0 + $1.count }
    let progress = Progress(total: total, label: "writing")
    var done = 0
    do {
      try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
      try Data((task.classNames.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: "\(out)/classes.txt"), options: .atomic)
      for split in splits {
        let directory = "\(out)/\(split.name)"
        for sub in ["images", "masks"] {
          try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        var csv = "file,label\n"
        for i in 0..<split.count {
          let sample = task.draw(split, i)
          let name = String(format: "%05d.png", i)
          try PNGCodec.write(Image(channels: task.channels, height: resolution, width: resolution, pixels: sample.image), to: "\(directory)/images/\(name)")
          try PNGCodec.write(Image(channels: 1, height: resolution, width: resolution, pixels: sample.mask), to: "\(directory)/masks/\(name)")
          csv += "\(name),\(sample.label)\n"
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
