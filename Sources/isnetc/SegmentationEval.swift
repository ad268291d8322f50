import Datasets
import Foundation
import GraphIR
import Runtime
import Training

extension Eval {
  /// A segmentation model against the folder's masks: per image IoU and Dice (foreground:
  /// logit > 0), their means, the pooled IoU and the pixel accuracy.
  func evaluateSegmentation(_ dataset: DatasetFolder) throws {
    guard dataset.hasMasks else { throw fail("\(data): no masks/ folder; a segmentation model is evaluated against masks") }
    let graph = try modelOptions.compile(for: .deploy)
    let session = try inference.session(for: graph)
    let reader = inference.reader(for: graph)
    let (height, width) = (reader.dims[1], reader.dims[2])
    var overlaps: [SegmentationLoss.Overlap] = []
    let progress = Progress(total: dataset.entries.count, label: "evaluating")
    var start = 0
    while start < dataset.entries.count {
      let batch = Array(dataset.entries[start..<min(start + inference.batch, dataset.entries.count)])
      do {
        let inputs = try batch.map { try reader.read(dataset.imagePath($0))[0].values }
        let logits = try session.run(inputs.flatMap { $0 }, samples: batch.count)
        let masks = try batch.flatMap { FolderSamples.binarize(try dataset.mask($0, height: height, width: width)) }
        overlaps += SegmentationLoss.overlaps(logits: logits, masks: masks, samples: batch.count)
      } catch {
        throw fail(error)
      }
      start += batch.count
      progress.update(start)
    }
    progress.finish()
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

  /// A classification report's JSON object with the segmentation head's beside it.
  static func merge(_ classification: String, _ segmentation: SegmentationReport?) -> String {
    guard let segmentation, let close = classification.lastIndex(of: "}") else { return classification }
    let object = segmentation.json.trimmingCharacters(in: .whitespacesAndNewlines)
    return String(classification[..<close]) + ", \"segmentation\": \(object)}" + String(classification[classification.index(after: close)...])
  }

  var json: String {
    String(format: "{\"samples\": %d, \"iou\": %.6f, \"dice\": %.6f, \"pooled_iou\": %.6f, \"pixel_accuracy\": %.6f}\n", samples, meanIoU, meanDice, pooledIoU, pixelAccuracy)
  }
}
