import Datasets
import Foundation
import GraphIR
import ImageIO

/// A dataset folder as training reads it: images at the model's input size and range,
/// masks binarised (1 = foreground; masks stored as 0/255 or 0/1 both work).
public final class FolderSamples: SampleSource {
  public let folder: DatasetFolder
  let dims: [Int]
  let range: ClosedRange<Float>
  let options: PreprocessOptions
  let needsMasks: Bool
  /// Multi-label (sigmoid) models read targets and their known flags; others one class.
  let classes: Int?

  public init(directory: String, graph: Graph, needsMasks: Bool, options: PreprocessOptions = PreprocessOptions()) throws {
    folder = try DatasetFolder(directory: directory)
    let input = graph[graph.inputIDs[0]]
    dims = input.type.dims
    guard dims.count == 3 else { throw TrainingFailure("model input \(input.type) is not an image") }
    if case .input(let r) = input.op { range = Float(r.low)...Float(r.high) } else { range = 0...1 }
    self.options = options
    self.needsMasks = needsMasks
    let classCount = graph[graph.outputs[0]].type.dims[0]
    do {
      if graph.outputKind == .segmentation {
        // A segmenter learns the masks; labels are kept as they are, unused.
        classes = nil
      } else if graph.outputKind == .sigmoid {
        try folder.requireLabels(below: classCount)
        classes = classCount
      } else {
        try folder.requireSingleLabels(classes: classCount, user: "training a single-label (softmax) model")
        classes = nil
      }
    } catch { throw TrainingFailure("\(error)") }
    if needsMasks, !folder.hasMasks {
      throw TrainingFailure(
        graph.outputKind == .segmentation
          ? "\(directory): no masks/ folder; a segmentation model trains on a mask per image"
          : "\(directory): no masks/ folder; the heatmap loss (P > 0) needs a mask per image (or train with --P 0)")
    }
  }

  /// A mask as read (0…1) → 0/1. A 0/1 mask reads as 0 and 1/255: its threshold is half
  /// of 1/255; a 0/255 mask's is one half.
  public static func binarize(_ raw: [Float]) -> [Float] {
    let threshold: Float = (raw.max() ?? 0) <= 1.5 / 255 ? 0.5 / 255 : 0.5
    return raw.map { $0 > threshold ? 1 : 0 }
  }

  public var count: Int { folder.entries.count }
  public func name(_ index: Int) -> String { folder.imagePath(folder.entries[index]) }

  public func load(_ index: Int) throws -> TrainingSample {
    let entry = folder.entries[index]
    let image = try loadImage(path: folder.imagePath(entry), channels: dims[0], height: dims[1], width: dims[2], range: range, options: options)
    var mask: [Float]?
    if needsMasks {
      mask = Self.binarize(try folder.mask(entry, height: dims[1], width: dims[2]))
    }
    guard let classes else { return TrainingSample(image: image, mask: mask, label: entry.label) }
    let targets = (0..<classes).map { Float(entry.labels.contains($0) ? 1 : 0) }
    let known = (0..<classes).map { Float(entry.unknown.contains($0) ? 0 : 1) }
    return TrainingSample(image: image, mask: mask, label: entry.labels.first ?? 0, targets: targets, known: known)
  }
}
