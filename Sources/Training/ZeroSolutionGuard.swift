import Foundation
import GraphIR

/// Watches a run for the zero solution (paper section 4.11): the heatmap loss satisfied by
/// removing relevance everywhere, the classifier left at chance. After each epoch it
/// compares the training classification loss with its chance level (ln K for softmax,
/// ln 2 for sigmoid outputs: the loss of constant logits) and the foreground relevance
/// F = Σ_fg |R| with the initial model's. It never stops a run; it says what it sees and
/// what to change, in the progress line and in `run.json`.
public struct ZeroSolutionGuard: Sendable {
  /// L_C above its chance level less this fraction of it counts as "at chance".
  public var chanceTolerance = 0.02
  /// F below this fraction of its initial value counts as collapsed.
  public var collapseRatio = 0.05
  /// Epochs before "at chance" alone is reported (early epochs of a run from scratch sit
  /// at chance for a while).
  public var patience = 3

  public init() {}

  /// The chance level of the classification loss.
  public static func chance(classes: Int, kind: OutputKind) -> Double {
    kind == .softmax ? log(Double(classes)) : log(2)
  }

  /// The finding for `record` (nil: nothing to report). `history`: the run's earlier
  /// epochs; `initialForeground`: F of the initial model.
  public func check(_ record: EpochRecord, history: [EpochRecord], initialForeground: Double?, classes: Int, kind: OutputKind, settings: TrainingSettings) -> String? {
    let chance = Self.chance(classes: classes, kind: kind)
    // Not better than chance: within the tolerance of it, or above it.
    func atChance(_ r: EpochRecord) -> Bool { r.trainClassificationLoss >= (1 - chanceTolerance) * chance }
    guard atChance(record) else { return nil }
    let lossText = String(format: "L_C %.4f, chance ln %@ = %.4f", record.trainClassificationLoss, kind == .softmax ? "\(classes)" : "2", chance)
    if settings.heatmapWeight > 0, let f = record.foregroundRelevance, let f0 = initialForeground, f0 > 0, f < collapseRatio * f0 {
      var advice: [String] = []
      if settings.loss == .paper { advice.append("--loss gwrp (its foreground band forbids empty heatmaps)") }
      if settings.weightDecay > 0 { advice.append("--weight-decay 0") }
      advice.append("a lower --P")
      advice.append("--weights of a standard classifier (train one with --P 0)")
      if settings.loss == .gwrp { advice.append("a larger --decay or a lower --lr") }
      return String(format: "zero solution: the foreground relevance fell to %.3g, %.0f× below the initial %.3g, while the classifier is at chance (%@); the heatmap loss is being met by removing all relevance. Change: ", f, f0 / f, f0, lossText)
        + advice.joined(separator: "; ")
    }
    let stuck = (history.suffix(patience - 1) + [record]).filter(atChance).count
    guard record.epoch >= patience, stuck >= patience else { return nil }
    return "at chance for \(stuck) epochs (\(lossText)): the classifier is not learning. Change: a lower --lr or --optimizer adam"
      + (settings.heatmapWeight > 0 ? "; a lower --P; --weights of a standard classifier" : "")
  }
}

extension TrainingSettings {
  var weightDecay: Double { optimizer.weightDecay }
}
