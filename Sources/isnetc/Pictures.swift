/// The command line's pictures besides heatmaps: a training run's `curves.png` and the
/// ROC curves and confusion matrices of `isnetc eval --plot DIR`. Visualization draws
/// them from plain numbers; this file turns the run's records and the evaluation's
/// reports into those numbers and writes the PNGs, each atomically.

import Evaluation
import Foundation
import ImageIO
import Training
import Visualization

extension PNGCodec {
  static func write(canvas: Canvas, to path: String) throws {
    try write(rgb: canvas.rgb, height: canvas.height, width: canvas.width, to: path)
  }
}

enum Pictures {
  /// `RUN/curves.png` from the run's history so far.
  static func writeCurves(_ state: RunState, directory: String) throws {
    let epochs = state.history.map { r in
      TrainingCurves.Epoch(
        epoch: r.epoch, trainClassificationLoss: r.trainClassificationLoss, trainHeatmapLoss: r.trainHeatmapLoss,
        trainLoss: r.trainLoss, trainAccuracy: r.trainAccuracy, validationClassificationLoss: r.validationClassificationLoss,
        validationHeatmapLoss: r.validationHeatmapLoss, validationLoss: r.validationLoss, validationAccuracy: r.validationAccuracy,
        validationMacroF1: r.validationMacroF1, validationBackgroundFraction: r.validationBackgroundFraction)
    }
    let settings = state.settings
    let distillation = settings.distillation
    var title = "\(state.model): epoch \(state.epochsDone) of \(settings.epochs), "
      + (distillation == nil ? "P \(NumberText.short(settings.heatmapWeight))" : "distilled")
    if let best = state.bestEpoch {
      title += state.bestValue.map { ", best epoch \(best) (\(state.bestCriterion) \(NumberText.short($0, digits: 4)))" } ?? ", kept: the last epoch"
    }
    // A distillation run's heatmap term is its distance from the teacher's maps, L_D.
    let total = distillation.map { "L_D + \(NumberText.short($0.crossEntropyWeight))·L_C" } ?? "(1 − P)·L_C + P·L_H"
    let curves = TrainingCurves(
      title: title, epochs: epochs, heatmapLoss: settings.trainsHeatmaps, heatmapTerm: distillation == nil ? "L_H" : "L_D", total: total,
      bestEpoch: state.bestEpoch)
    try PNGCodec.write(canvas: curves.render(), to: "\(directory)/curves.png")
  }

  /// `DIR/roc.png` and `DIR/confusion.png` of a single-label evaluation; returns the paths.
  static func writeEvaluation(_ report: EvaluationReport, truth: [Int], probabilities: [[Double]], data: String, directory: String) throws -> [String] {
    let names = report.rows.map(\.name)
    let curves = names.indices.map { k in
      let positive = truth.map { $0 == k }
      let points = rocCurve(scores: probabilities.map { $0[k] }, positive: positive) ?? []
      return ROCPlot.Curve(name: names[k], points: points.map { ($0.falsePositiveRate, $0.truePositiveRate) }, auc: report.rows[k].auc)
    }
    let about = "\(data), \(truth.count) samples"
    let macro = report.macroAUC.map { ", macro AUC (one vs one) \(NumberText.fixed($0, decimals: 3))" } ?? ""
    let roc = ROCPlot(title: "ROC curves, each class against the rest", subtitle: about + macro, curves: curves)
    let matrix = ConfusionPlot.Matrix(title: "", rowNames: names, columnNames: names, counts: report.matrix.counts)
    let accuracy = report.matrix.accuracy.map { ", accuracy \(NumberText.fixed($0, decimals: 3))" } ?? ""
    let confusion = ConfusionPlot(
      title: "Confusion matrix", subtitle: about + accuracy + ", macro F1 \(NumberText.fixed(report.matrix.macroF1, decimals: 3))", matrices: [matrix])
    return try write(roc: roc, confusion: confusion, directory: directory)
  }

  /// The same for a multi-label evaluation: a curve and a 2×2 matrix per label.
  static func writeEvaluation(_ report: MultiLabelReport, truth: [[Bool]], probabilities: [[Double]], data: String, directory: String) throws -> [String] {
    let curves = report.rows.indices.map { k in
      let points = rocCurve(scores: probabilities.map { $0[k] }, positive: truth.map { $0[k] }) ?? []
      return ROCPlot.Curve(name: report.rows[k].name, points: points.map { ($0.falsePositiveRate, $0.truePositiveRate) }, auc: report.rows[k].auc)
    }
    let about = "\(data), \(truth.count) samples"
    let macro = report.macroAUC.map { ", macro AUC \(NumberText.fixed($0, decimals: 3))" } ?? ""
    let roc = ROCPlot(title: "ROC curves, one per label", subtitle: about + macro, curves: curves)
    let matrices = report.rows.map { row in
      ConfusionPlot.Matrix(
        title: "\(row.name) (p ≥ \(NumberText.short(row.threshold)))", rowNames: ["no", "yes"], columnNames: ["no", "yes"],
        counts: row.matrix.counts)
    }
    let confusion = ConfusionPlot(
      title: "Confusion matrices, one per label at its threshold", subtitle: about + ", macro F1 \(NumberText.fixed(report.macroF1, decimals: 3))",
      matrices: matrices, rowAxis: "has the label", columnAxis: "predicted")
    return try write(roc: roc, confusion: confusion, directory: directory)
  }

  /// Creates the plot directory (before the evaluation runs, so a bad path fails at once).
  static func prepare(directory: String) throws {
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw fail("--plot: cannot create the directory '\(directory)': \(error.localizedDescription)")
    }
  }

  private static func write(roc: ROCPlot, confusion: ConfusionPlot, directory: String) throws -> [String] {
    try prepare(directory: directory)
    let paths = ["\(directory)/roc.png", "\(directory)/confusion.png"]
    try PNGCodec.write(canvas: roc.render(), to: paths[0])
    try PNGCodec.write(canvas: confusion.render(), to: paths[1])
    return paths
  }
}
