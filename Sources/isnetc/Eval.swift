import ArgumentParser
import Datasets
import Evaluation
import Foundation
import GraphIR
import LRPTransform
import Runtime
import Training

struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Evaluate a classifier on a dataset folder.",
    discussion: """
      Single-label (softmax) models: the confusion matrix; per class precision, recall, \
      specificity and F1 with 95% Wilson intervals; accuracy, balanced accuracy and macro \
      F1; the AUC (macro one-vs-one, Hand and Till) with a 95% bootstrap interval and per \
      class one-vs-rest AUCs with DeLong intervals.

      A multi-task classifier (`return logits, segmentation;`) also reports its \
      segmentation head's measures, as a segmentation model's (JSON: "segmentation").

      Segmentation models (-> segmentation): against the folder's masks, a pixel being \
      foreground when its logit is positive: the mean over images of IoU and Dice, the IoU \
      of all pixels pooled, and pixel accuracy.

      Multi-label (sigmoid) models: each label at its threshold (--thresholds): TP, FP, \
      FN, TN, precision, recall, specificity (Wilson intervals), F1, the AUC (DeLong) and \
      the threshold that would maximise F1 on these data; exact-match accuracy, macro \
      averages and the macro AUC with a bootstrap interval. Choose thresholds on a \
      validation folder, then pass them for the test folder.

      --plot DIR draws DIR/roc.png (one ROC curve per class against the rest, or per \
      label, with its AUC) and DIR/confusion.png (counts, shaded by their share of the \
      true class; one 2×2 matrix per label for a multi-label model).

      When the folder has masks, the LRP block runs too and the background relevance \
      fraction is reported: the share of each class's |R| outside the mask, averaged over \
      samples (the ISNet drives it towards 0).

      --mask-input zero|noise evaluates on images whose background (mask 0) is replaced, as \
      a teacher for explanation distillation sees them (noise: seeded, the same every run).

      The folder layout is that of `isnetc make-dataset` (images/, masks/, labels.csv; a \
      multi-label folder lists a sample's labels separated by ';').
      """
  )

  @OptionGroup var modelOptions: ModelOptions
  @OptionGroup var inference: InferenceOptions
  @OptionGroup var lrp: LRPFlags

  @Option(help: ArgumentHelp("The dataset folder.", valueName: "DIR"))
  var data: String

  @Option(help: "Bootstrap resamples for the AUC interval.")
  var resamples = 1000

  @Option(
    parsing: .upToNextOption,
    help: ArgumentHelp("Multi-label models: one probability threshold for every label, or one per label.", valueName: "T"))
  var thresholds: [Double] = [0.5]

  @Option(help: "Replace the background (mask 0) of every image first: none, zero or noise (default none).")
  var maskInput: MaskFill = .none

  @Flag(help: "Print JSON instead of tables.")
  var json = false

  @Option(help: ArgumentHelp("Also draw DIR/roc.png (ROC curves with their AUCs) and DIR/confusion.png.", valueName: "DIR"))
  var plot: String?

  func run() throws {
    if let plot { try Pictures.prepare(directory: plot) }
    let dataset: DatasetFolder
    do { dataset = try DatasetFolder(directory: data) } catch { throw fail(error) }
    let classifier = try modelOptions.compile()
    if classifier.outputKind == .segmentation {
      try evaluateSegmentation(dataset, graph: try modelOptions.lowered(classifier, for: .deploy))
      return
    }
    let graph = try modelOptions.lowered(classifier, for: dataset.hasMasks ? .explain(lrp.options) : .deploy)
    let kind = graph.outputKind
    let classes = graph[graph.outputs[0]].type.dims[0]
    // Class names: --labels, else the folder's own (wide CSV header, ImageFolder folders).
    let folderNames = inference.labels == nil ? dataset.classNames : nil
    let names = try folderNames ?? inference.classNames(count: classes)
    do {
      if kind == .softmax { try dataset.requireSingleLabels(classes: classes) } else { try dataset.requireLabels(below: classes) }
    } catch { throw fail(error) }
    let labelThresholds = thresholds.count == 1 ? Array(repeating: thresholds[0], count: classes) : thresholds
    guard labelThresholds.count == classes, labelThresholds.allSatisfy({ (0...1).contains($0) }) else {
      throw fail("--thresholds: give one probability in [0, 1] or one per label (\(classes)), got \(thresholds.count): \(thresholds)")
    }
    if maskInput != .none, !dataset.hasMasks { throw fail("--mask-input \(maskInput.rawValue): \(data) has no masks/ folder") }
    var range: ClosedRange<Float> = 0...1
    if case .input(let r) = graph[graph.inputIDs[0]].op { range = Float(r.low)...Float(r.high) }
    let session = try inference.session(for: graph)
    let reader = inference.reader(for: graph)
    let (channels, height, width) = (reader.dims[0], reader.dims[1], reader.dims[2])
    var probabilities: [[Double]] = []
    var background = Array(repeating: [Double](), count: classes)
    // A multi-task classifier's segmentation head, against the masks.
    var overlaps: [SegmentationLoss.Overlap]? = graph.segmentation != nil && dataset.hasMasks ? [] : nil
    try forEachBatch(of: dataset) { start, batch in
      var inputs = try batch.map { try reader.read(dataset.imagePath($0))[0].values }
      if maskInput != .none {
        for (i, entry) in batch.enumerated() {
          let mask = FolderSamples.binarize(try dataset.mask(entry, height: height, width: width))
          inputs[i] = maskInput.apply(to: inputs[i], mask: mask, channels: channels, range: range, seed: MaskFill.seed(0, epoch: 0, sample: start + i))
        }
      }
      let logits = try session.run(inputs.flatMap { $0 }, samples: batch.count)
      for i in batch.indices {
        let scores = Scores(name: batch[i].file, logits: Array(logits[i * classes..<(i + 1) * classes]), kind: kind)
        probabilities.append(scores.probabilities)
      }
      if let head = graph.segmentation, overlaps != nil {
        let masks = try batch.flatMap { FolderSamples.binarize(try dataset.mask($0, height: height, width: width)) }
        overlaps! += SegmentationLoss.overlaps(logits: session.values(of: head, samples: batch.count), masks: masks, samples: batch.count)
      }
      if dataset.hasMasks {
        let maps = session.values(of: graph.outputs[1], samples: batch.count)
        let perClass = channels * height * width
        for (i, entry) in batch.enumerated() {
          let mask = try dataset.mask(entry, height: height, width: width)
          for k in 0..<classes {
            let first = (i * classes + k) * perClass
            if let f = backgroundRelevanceFraction(heatmap: Array(maps[first..<(first + perClass)]), channels: channels, mask: mask) {
              background[k].append(f)
            }
          }
        }
      }
    }
    let fractions = dataset.hasMasks ? background : nil
    let segmentation = overlaps.map(SegmentationReport.init)
    switch kind {
    case .softmax:
      let report = EvaluationReport(
        classNames: names, truth: dataset.entries.map(\.label), probabilities: probabilities,
        backgroundFractions: fractions, resamples: resamples)
      print(json ? SegmentationReport.merge(report.json, segmentation) : report.table + (segmentation.map { "\nsegmentation head\n" + $0.table } ?? ""), terminator: "")
      if let plot {
        try drawPlots { try Pictures.writeEvaluation(report, truth: dataset.entries.map(\.label), probabilities: probabilities, data: data, directory: plot) }
      }
    case .sigmoid:
      let truth = dataset.entries.map { entry in (0..<classes).map { entry.labels.contains($0) } }
      let known = dataset.entries.map { entry in (0..<classes).map { !entry.unknown.contains($0) } }
      let report = MultiLabelReport(
        labelNames: names, truth: truth, known: known, probabilities: probabilities, thresholds: labelThresholds,
        backgroundFractions: fractions, resamples: resamples)
      print(json ? SegmentationReport.merge(report.json, segmentation) : report.table + (segmentation.map { "\nsegmentation head\n" + $0.table } ?? ""), terminator: "")
      if let plot {
        try drawPlots { try Pictures.writeEvaluation(report, truth: truth, probabilities: probabilities, data: data, directory: plot) }
      }
    case .segmentation:
      preconditionFailure("segmentation models are evaluated by evaluateSegmentation")
    }
  }

  /// Runs `body` on the folder's entries in batches of `--batch` (the index of the batch's
  /// first entry, its entries) under a progress bar; an error stops the command, named.
  func forEachBatch(of dataset: DatasetFolder, _ body: (Int, [DatasetFolder.Entry]) throws -> Void) throws {
    let progress = Progress(total: dataset.entries.count, label: "evaluating")
    var start = 0
    while start < dataset.entries.count {
      let batch = Array(dataset.entries[start..<min(start + inference.batch, dataset.entries.count)])
      do { try body(start, batch) } catch { throw fail(error) }
      start += batch.count
      progress.update(start)
    }
    progress.finish()
  }

  /// Runs a plot writer, naming the files on standard error (standard output keeps the report).
  private func drawPlots(_ body: () throws -> [String]) throws {
    do {
      printError("plots: " + (try body()).joined(separator: ", "))
    } catch let error as ExitCode {
      throw error
    } catch {
      throw fail(error)
    }
  }
}
