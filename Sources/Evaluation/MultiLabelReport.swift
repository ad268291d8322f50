import Foundation

/// Every metric of a multi-label evaluation, computed once, printable as a table or JSON.
/// Each label is its own binary task: a sample is predicted positive for label k when its
/// probability reaches the label's threshold. Per label: precision, recall and specificity
/// with Wilson intervals, F1, the AUC with DeLong's interval, and the threshold that would
/// maximise F1 on these data (to be chosen on a validation set and passed back, never
/// tuned on the test set). Macro averages treat undefined ratios as 0, like the
/// single-label report.
public struct MultiLabelReport: Sendable {
  public struct LabelRow: Sendable {
    public var name: String
    /// Samples carrying the label.
    public var support: Int
    public var threshold: Double
    public var matrix: ConfusionMatrix
    public var precisionInterval: ClosedRange<Double>?
    public var recallInterval: ClosedRange<Double>?
    public var specificityInterval: ClosedRange<Double>?
    public var auc: Double?
    public var aucInterval: ClosedRange<Double>?
    public var bestF1Threshold: Double?
    public var backgroundFraction: Double?

    // The binary matrix's class 1 is "has the label".
    public var precision: Double? { matrix.precision(1) }
    public var recall: Double? { matrix.recall(1) }
    public var specificity: Double? { matrix.specificity(1) }
    public var f1: Double? { matrix.f1(1) }
  }

  public let rows: [LabelRow]
  public let samples: Int
  /// Samples whose predicted label set equals the true one (subset accuracy).
  public let exactMatches: Int
  public let exactMatchInterval: ClosedRange<Double>?
  public let macroAUC: Double?
  public let macroAUCInterval: ClosedRange<Double>?
  public let meanBackgroundFraction: Double?

  /// `truth[n][k]`: sample n carries label k; `known[n][k]`: that value is known (nil: all
  /// are; an unknown value is left out of label k's metrics and its sample out of exact
  /// match); `probabilities[n][k]`; `thresholds`: one per label; `backgroundFractions[k]`:
  /// one value per sample with a nonzero map.
  public init(
    labelNames: [String], truth: [[Bool]], known: [[Bool]]? = nil, probabilities: [[Double]], thresholds: [Double],
    backgroundFractions: [[Double]]?, resamples: Int = 1000, seed: UInt64 = 0
  ) {
    let labels = labelNames.count
    precondition(truth.count == probabilities.count && thresholds.count == labels && (known?.count ?? truth.count) == truth.count)
    func mean(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.reduce(0, +) / Double(v.count) }
    func isKnown(_ n: Int, _ k: Int) -> Bool { known?[n][k] ?? true }
    let predicted = probabilities.map { p in (0..<labels).map { p[$0] >= thresholds[$0] } }
    rows = (0..<labels).map { k in
      let samples = truth.indices.filter { isKnown($0, k) }
      let positive = samples.map { truth[$0][k] }
      let scores = samples.map { probabilities[$0][k] }
      let m = ConfusionMatrix(classes: 2, truth: positive.map { $0 ? 1 : 0 }, predicted: samples.map { predicted[$0][k] ? 1 : 0 })
      return LabelRow(
        name: labelNames[k], support: m.truePositives(1) + m.falseNegatives(1), threshold: thresholds[k], matrix: m,
        precisionInterval: wilsonInterval(successes: m.truePositives(1), trials: m.truePositives(1) + m.falsePositives(1)),
        recallInterval: wilsonInterval(successes: m.truePositives(1), trials: m.truePositives(1) + m.falseNegatives(1)),
        specificityInterval: wilsonInterval(successes: m.trueNegatives(1), trials: m.trueNegatives(1) + m.falsePositives(1)),
        auc: binaryAUC(scores: scores, positive: positive), aucInterval: deLongInterval(scores: scores, positive: positive),
        bestF1Threshold: bestF1Threshold(scores: scores, positive: positive),
        backgroundFraction: backgroundFractions.flatMap { mean($0[k]) })
    }
    let complete = truth.indices.filter { n in (0..<labels).allSatisfy { isKnown(n, $0) } }
    samples = complete.count
    exactMatches = complete.filter { truth[$0] == predicted[$0] }.count
    exactMatchInterval = wilsonInterval(successes: exactMatches, trials: samples)
    func macroAUC(_ indices: [Int]) -> Double? {
      let aucs = (0..<labels).compactMap { k in
        let known = indices.filter { isKnown($0, k) }
        return binaryAUC(scores: known.map { probabilities[$0][k] }, positive: known.map { truth[$0][k] })
      }
      return mean(aucs)
    }
    self.macroAUC = macroAUC(Array(truth.indices))
    macroAUCInterval = bootstrapInterval(count: truth.count, resamples: resamples, seed: seed, macroAUC)
    meanBackgroundFraction = backgroundFractions.flatMap { fractions in mean(fractions.compactMap(mean)) }
  }

  public var macroF1: Double { macro(\.f1) }
  public var macroRecall: Double { macro(\.recall) }
  public var macroPrecision: Double { macro(\.precision) }
  public var macroSpecificity: Double { macro(\.specificity) }
  private func macro(_ metric: KeyPath<LabelRow, Double?>) -> Double {
    rows.isEmpty ? 0 : rows.reduce(0) { $0 + ($1[keyPath: metric] ?? 0) } / Double(rows.count)
  }


  public var table: String {
    let width = max(10, rows.map(\.name.count).max() ?? 0)
    let pad = ReportFormat.pad
    var out = pad("label", width)
      + "  support  threshold  TP     FP     FN     TN     precision [95% CI]        recall [95% CI]           "
      + "specificity [95% CI]      F1     AUC [95% CI]              best-F1 threshold  background |R|\n"
    for r in rows {
      let m = r.matrix
      out += pad(r.name, width) + "  " + pad(String(r.support), 7) + "  " + pad(ReportFormat.number(r.threshold), 9) + "  "
        + [m.truePositives(1), m.falsePositives(1), m.falseNegatives(1), m.trueNegatives(1)].map { pad(String($0), 6) }.joined(separator: " ")
        + " " + pad(ReportFormat.cell(r.precision, r.precisionInterval), 25) + " " + pad(ReportFormat.cell(r.recall, r.recallInterval), 25) + " "
        + pad(ReportFormat.cell(r.specificity, r.specificityInterval), 25) + " " + pad(ReportFormat.number(r.f1), 6) + " "
        + pad(ReportFormat.cell(r.auc, r.aucInterval), 25) + " " + pad(ReportFormat.number(r.bestF1Threshold), 18) + " "
        + ReportFormat.number(r.backgroundFraction) + "\n"
    }
    out += "\n" + ReportFormat.line("exact match", samples == 0 ? nil : Double(exactMatches) / Double(samples), exactMatchInterval)
    out += ReportFormat.line("macro precision", macroPrecision)
    out += ReportFormat.line("macro recall", macroRecall)
    out += ReportFormat.line("macro specificity", macroSpecificity)
    out += ReportFormat.line("macro F1", macroF1)
    out += ReportFormat.line("macro AUC", macroAUC, macroAUCInterval)
    if let meanBackgroundFraction { out += ReportFormat.line("background |R|", meanBackgroundFraction, note: "(mean over labels)") }
    return out
  }

  public var json: String {
    func value(_ v: Double?) -> Any { ReportFormat.json(v) }
    func range(_ r: ClosedRange<Double>?) -> Any { ReportFormat.json(r) }
    let labelRows: [[String: Any]] = rows.map { r in
      [
        "name": r.name, "support": r.support, "threshold": r.threshold,
        "tp": r.matrix.truePositives(1), "fp": r.matrix.falsePositives(1), "fn": r.matrix.falseNegatives(1),
        "tn": r.matrix.trueNegatives(1), "precision": value(r.precision), "precision_ci": range(r.precisionInterval),
        "recall": value(r.recall), "recall_ci": range(r.recallInterval), "specificity": value(r.specificity),
        "specificity_ci": range(r.specificityInterval), "f1": value(r.f1), "auc": value(r.auc), "auc_ci": range(r.aucInterval),
        "best_f1_threshold": value(r.bestF1Threshold), "background_fraction": value(r.backgroundFraction),
      ]
    }
    let object: [String: Any] = [
      "labels": labelRows, "samples": samples, "exact_match": value(samples == 0 ? nil : Double(exactMatches) / Double(samples)),
      "exact_match_ci": range(exactMatchInterval), "macro_precision": macroPrecision, "macro_recall": macroRecall,
      "macro_specificity": macroSpecificity, "macro_f1": macroF1, "macro_auc": value(macroAUC),
      "macro_auc_ci": range(macroAUCInterval), "background_fraction": value(meanBackgroundFraction),
    ]
    return ReportFormat.text(object)
  }
}

/// The threshold t maximising F1 when "score ≥ t" predicts the label: one of the scores
/// (every distinct F1 is reached at one); ties go to the highest t (fewest positives).
/// nil without a positive sample.
public func bestF1Threshold(scores: [Double], positive: [Bool]) -> Double? {
  let positives = positive.filter { $0 }.count
  guard positives > 0 else { return nil }
  // Descending scores: lowering t past a run of equal scores admits them all at once.
  let order = scores.indices.sorted { scores[$0] > scores[$1] }
  var (tp, fp) = (0, 0)
  var best: (f1: Double, threshold: Double)?
  var i = 0
  while i < order.count {
    let t = scores[order[i]]
    while i < order.count, scores[order[i]] == t {
      if positive[order[i]] { tp += 1 } else { fp += 1 }
      i += 1
    }
    let f1 = Double(2 * tp) / Double(2 * tp + fp + (positives - tp))
    if best == nil || f1 > best!.f1 { best = (f1, t) }
  }
  return best?.threshold
}
