import Foundation

/// Every metric of a single-label evaluation, computed once, printable as a table or JSON.
public struct EvaluationReport: Sendable {
  public struct ClassRow: Sendable {
    public var name: String
    public var support: Int
    public var precision: Double?
    public var precisionInterval: ClosedRange<Double>?
    public var recall: Double?
    public var recallInterval: ClosedRange<Double>?
    public var specificity: Double?
    public var specificityInterval: ClosedRange<Double>?
    public var f1: Double?
    /// One-vs-rest AUC with DeLong's interval.
    public var auc: Double?
    public var aucInterval: ClosedRange<Double>?
    /// Mean share of this class's heatmap |R| outside the mask.
    public var backgroundFraction: Double?
  }

  public let matrix: ConfusionMatrix
  public let rows: [ClassRow]
  public let accuracyInterval: ClosedRange<Double>?
  public let macroAUC: Double?
  public let macroAUCInterval: ClosedRange<Double>?
  public let meanBackgroundFraction: Double?

  /// `probabilities[n][k]`; `backgroundFractions[k]`: one value per sample with a nonzero map.
  public init(classNames: [String], truth: [Int], probabilities: [[Double]], backgroundFractions: [[Double]]?, resamples: Int = 1000, seed: UInt64 = 0) {
    let classes = classNames.count
    let predicted = probabilities.map { p in p.indices.max { p[$0] < p[$1] } ?? 0 }
    let m = ConfusionMatrix(classes: classes, truth: truth, predicted: predicted)
    matrix = m
    func mean(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.reduce(0, +) / Double(v.count) }
    rows = (0..<classes).map { k in
      let tp = m.truePositives(k), fp = m.falsePositives(k), fn = m.falseNegatives(k), tn = m.trueNegatives(k)
      let positive = truth.map { $0 == k }
      let scores = probabilities.map { $0[k] }
      return ClassRow(
        name: classNames[k], support: tp + fn,
        precision: m.precision(k), precisionInterval: wilsonInterval(successes: tp, trials: tp + fp),
        recall: m.recall(k), recallInterval: wilsonInterval(successes: tp, trials: tp + fn),
        specificity: m.specificity(k), specificityInterval: wilsonInterval(successes: tn, trials: tn + fp),
        f1: m.f1(k), auc: binaryAUC(scores: scores, positive: positive),
        aucInterval: deLongInterval(scores: scores, positive: positive),
        backgroundFraction: backgroundFractions.flatMap { mean($0[k]) })
    }
    accuracyInterval = wilsonInterval(successes: m.correct, trials: m.total)
    macroAUC = handTillAUC(scores: probabilities, truth: truth, classes: classes)
    macroAUCInterval = bootstrapInterval(count: truth.count, resamples: resamples, seed: seed) { indices in
      handTillAUC(scores: indices.map { probabilities[$0] }, truth: indices.map { truth[$0] }, classes: classes)
    }
    meanBackgroundFraction = backgroundFractions.flatMap { fractions in mean(fractions.compactMap(mean)) }
  }


  public var table: String {
    let names = rows.map(\.name)
    let width = max(10, names.map(\.count).max() ?? 0)
    let pad = ReportFormat.pad
    var out = "confusion matrix (rows: true class, columns: predicted)\n"
    out += pad("", width) + "  " + names.map { pad($0, 8) }.joined(separator: " ") + "\n"
    for (k, row) in matrix.counts.enumerated() {
      out += pad(names[k], width) + "  " + row.map { pad(String($0), 8) }.joined(separator: " ") + "\n"
    }
    out += "\n" + pad("class", width) + "  support  precision [95% CI]        recall [95% CI]           specificity [95% CI]      F1     AUC [95% CI]              background |R|\n"
    for r in rows {
      out += pad(r.name, width) + "  " + pad(String(r.support), 7) + "  "
        + pad(ReportFormat.cell(r.precision, r.precisionInterval), 25) + " "
        + pad(ReportFormat.cell(r.recall, r.recallInterval), 25) + " "
        + pad(ReportFormat.cell(r.specificity, r.specificityInterval), 25) + " "
        + pad(ReportFormat.number(r.f1), 6) + " " + pad(ReportFormat.cell(r.auc, r.aucInterval), 25) + " "
        + ReportFormat.number(r.backgroundFraction) + "\n"
    }
    out += "\n" + ReportFormat.line("accuracy", matrix.accuracy, accuracyInterval)
    out += ReportFormat.line("balanced accuracy", matrix.balancedAccuracy)
    out += ReportFormat.line("macro F1", matrix.macroF1)
    out += ReportFormat.line("macro AUC (OvO)", macroAUC, macroAUCInterval)
    if let meanBackgroundFraction { out += ReportFormat.line("background |R|", meanBackgroundFraction, note: "(mean over classes)") }
    return out
  }

  public var json: String {
    func value(_ v: Double?) -> Any { ReportFormat.json(v) }
    func range(_ r: ClosedRange<Double>?) -> Any { ReportFormat.json(r) }
    let classRows: [[String: Any]] = rows.map { r in
      [
        "name": r.name, "support": r.support, "precision": value(r.precision), "precision_ci": range(r.precisionInterval),
        "recall": value(r.recall), "recall_ci": range(r.recallInterval), "specificity": value(r.specificity),
        "specificity_ci": range(r.specificityInterval), "f1": value(r.f1), "auc": value(r.auc), "auc_ci": range(r.aucInterval),
        "background_fraction": value(r.backgroundFraction),
      ]
    }
    let object: [String: Any] = [
      "confusion_matrix": matrix.counts, "classes": classRows, "accuracy": value(matrix.accuracy),
      "accuracy_ci": range(accuracyInterval), "balanced_accuracy": matrix.balancedAccuracy, "macro_f1": matrix.macroF1,
      "macro_auc": value(macroAUC), "macro_auc_ci": range(macroAUCInterval),
      "background_fraction": value(meanBackgroundFraction), "samples": matrix.total,
    ]
    return ReportFormat.text(object)
  }
}
