/// Counts of (true class, predicted class) pairs of a single-label classifier, and the
/// per-class and macro-averaged metrics read from them.
///
/// Undefined ratios (a class never predicted has no precision; a class absent from the
/// data has no recall) are nil per class and count as 0 in macro averages, as
/// scikit-learn's `zero_division=0` does: a classifier that never predicts a class is not
/// rewarded for it.
public struct ConfusionMatrix: Sendable, Equatable {
  public let classes: Int
  /// counts[t][p]: samples of true class t predicted as p.
  public private(set) var counts: [[Int]]

  public init(classes: Int) {
    precondition(classes >= 1)
    self.classes = classes
    counts = Array(repeating: Array(repeating: 0, count: classes), count: classes)
  }

  public init(classes: Int, truth: [Int], predicted: [Int]) {
    precondition(truth.count == predicted.count)
    self.init(classes: classes)
    for (t, p) in zip(truth, predicted) { add(truth: t, predicted: p) }
  }

  public mutating func add(truth: Int, predicted: Int) {
    precondition((0..<classes).contains(truth) && (0..<classes).contains(predicted))
    counts[truth][predicted] += 1
  }

  public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
  public var correct: Int { (0..<classes).reduce(0) { $0 + counts[$1][$1] } }

  public func truePositives(_ k: Int) -> Int { counts[k][k] }
  public func falsePositives(_ k: Int) -> Int { (0..<classes).reduce(0) { $0 + ($1 == k ? 0 : counts[$1][k]) } }
  public func falseNegatives(_ k: Int) -> Int { (0..<classes).reduce(0) { $0 + ($1 == k ? 0 : counts[k][$1]) } }
  public func trueNegatives(_ k: Int) -> Int { total - truePositives(k) - falsePositives(k) - falseNegatives(k) }

  public func precision(_ k: Int) -> Double? { ratio(truePositives(k), truePositives(k) + falsePositives(k)) }
  public func recall(_ k: Int) -> Double? { ratio(truePositives(k), truePositives(k) + falseNegatives(k)) }
  public func specificity(_ k: Int) -> Double? { ratio(trueNegatives(k), trueNegatives(k) + falsePositives(k)) }

  /// Harmonic mean of precision and recall: 2·TP / (2·TP + FP + FN).
  public func f1(_ k: Int) -> Double? {
    ratio(2 * truePositives(k), 2 * truePositives(k) + falsePositives(k) + falseNegatives(k))
  }

  public var accuracy: Double? { ratio(correct, total) }
  /// The mean recall over classes (balanced accuracy).
  public var balancedAccuracy: Double { macro(recall) }
  public var macroF1: Double { macro(f1) }
  public var macroPrecision: Double { macro(precision) }
  public var macroSpecificity: Double { macro(specificity) }

  private func macro(_ metric: (Int) -> Double?) -> Double {
    (0..<classes).reduce(0) { $0 + (metric($1) ?? 0) } / Double(classes)
  }

  private func ratio(_ a: Int, _ b: Int) -> Double? { b == 0 ? nil : Double(a) / Double(b) }
}
