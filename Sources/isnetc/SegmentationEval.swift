import Datasets
import Foundation
import GraphIR
import Runtime
import Training

extension Eval {
  /// A segmentation model against the folder's masks: per image IoU and Dice (foreground:
  /// logit > 0), their means, the pooled IoU and the pixel accuracy.
  /// `graph`: the segmentation model's deployment graph.
  func evaluateSegmentation(_ dataset: DatasetFolder, graph: Graph) throws {
    guard dataset.hasMasks else { throw fail("\(data): no masks/ folder; a segmentation model is evaluated against masks") }
    let session = try inference.session(for: graph)
    let reader = inference.reader(for: graph)
    let (height, width) = (reader.dims[1], reader.dims[2])
    var overlaps: [SegmentationLoss.Overlap] = []
    try forEachBatch(of: dataset) { _, batch in
      let inputs = try batch.map { try reader.read(dataset.imagePath($0))[0].values }
      let logits = try session.run(inputs.flatMap { $0 }, samples: batch.count)
      let masks = try batch.flatMap { FolderSamples.binarize(try dataset.mask($0, height: height, width: width)) }
      overlaps += SegmentationLoss.overlaps(logits: logits, masks: masks, samples: batch.count)
    }
    let report = SegmentationReport(overlaps: overlaps)
    print(json ? report.json : report.table, terminator: "")
  }
}

/// What `isnetc eval` reports for a segmentation model.
struct SegmentationReport {
  var samples: Int
  var meanIoU, meanDice, pooledIoU, pixelAccuracy: Double

  init(overlaps: [SegmentationLoss.Overlap]) {
    samples = overlaps.count
    let n = Double(max(overlaps.count, 1))
    meanIoU = overlaps.reduce(0) { $0 + $1.iou } / n
    meanDice = overlaps.reduce(0) { $0 + $1.dice } / n
    var pooled = SegmentationLoss.Overlap()
    for o in overlaps { pooled += o }
    pooledIoU = pooled.iou
    pixelAccuracy = pooled.pixelAccuracy
  }

  var table: String {
    """
    samples         \(samples)
    IoU (mean)      \(String(format: "%.4f", meanIoU))
    Dice (mean)     \(String(format: "%.4f", meanDice))
    IoU (pooled)    \(String(format: "%.4f", pooledIoU))
    pixel accuracy  \(String(format: "%.4f", pixelAccuracy))

    """
  }

  var object: [String: Any] {
    ["samples": samples, "iou": meanIoU, "dice": meanDice, "pooled_iou": pooledIoU, "pixel_accuracy": pixelAccuracy]
  }

  var json: String { Self.text(object) }

  /// A classification report's JSON object with the segmentation head's beside it.
  static func merge(_ classification: String, _ segmentation: SegmentationReport?) -> String {
    guard let segmentation, var object = (try? JSONSerialization.jsonObject(with: Data(classification.utf8))) as? [String: Any] else {
      return classification
    }
    object["segmentation"] = segmentation.object
    return text(object)
  }

  /// Pretty-printed with sorted keys, as the classification reports are.
  private static func text(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}
