import Testing

@testable import Evaluation

/// Metrics against cases worked out by hand, degenerate ones included.
@Suite struct MetricsTests {
  /// truth 0 0 0 1 1 2, predicted 0 0 1 1 2 2:
  /// class 0: TP 2 FP 0 FN 1; class 1: TP 1 FP 1 FN 1; class 2: TP 1 FP 1 FN 0.
  let matrix = ConfusionMatrix(classes: 3, truth: [0, 0, 0, 1, 1, 2], predicted: [0, 0, 1, 1, 2, 2])

  @Test func perClassCounts() {
    #expect(matrix.counts == [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    #expect((0..<3).map(matrix.truePositives) == [2, 1, 1])
    #expect((0..<3).map(matrix.falsePositives) == [0, 1, 1])
    #expect((0..<3).map(matrix.falseNegatives) == [1, 1, 0])
    #expect((0..<3).map(matrix.trueNegatives) == [3, 3, 4])
  }

  @Test func ratios() {
    let precision: [Double?] = (0..<3).map(matrix.precision)
    let recall: [Double?] = (0..<3).map(matrix.recall)
    let specificity: [Double?] = (0..<3).map(matrix.specificity)
    let f1: [Double?] = (0..<3).map(matrix.f1)
    #expect(precision == [1, 0.5, 0.5])
    #expect(recall == [2.0 / 3, 0.5, 1])
    #expect(specificity == [1, 0.75, 0.8])
    #expect(f1 == [0.8, 0.5, 2.0 / 3])
    #expect(matrix.accuracy == 4.0 / 6)
    let balanced: Double = (2.0 / 3 + 0.5 + 1) / 3
    let macroF1: Double = (0.8 + 0.5 + 2.0 / 3) / 3
    #expect(abs(matrix.balancedAccuracy - balanced) < 1e-15)
    #expect(abs(matrix.macroF1 - macroF1) < 1e-15)
  }

  @Test func classNeverPredictedOrAbsent() {
    // Class 2 is never predicted and class 1 never occurs.
    let m = ConfusionMatrix(classes: 3, truth: [0, 0, 2, 2], predicted: [0, 1, 0, 0])
    #expect(m.precision(2) == nil)  // nothing predicted as 2
    #expect(m.recall(1) == nil)  // no sample of class 1
    #expect(m.f1(2) == 0)  // 2·0 / (0 + 0 + 2)
    #expect(m.f1(1) == 0)  // 0 / (0 + 1 + 0)
    // Undefined values count as 0 in the macro average.
    let expected: Double = 0.5 / 3
    #expect(m.balancedAccuracy == expected)
  }

  @Test func singleClassPresent() {
    let m = ConfusionMatrix(classes: 2, truth: [1, 1, 1], predicted: [1, 1, 0])
    #expect(m.recall(1) == 2.0 / 3)
    #expect(m.recall(0) == nil)
    #expect(m.specificity(1) == nil)  // no negatives of class 1
    #expect(binaryAUC(scores: [0.9, 0.8, 0.1], positive: [true, true, true]) == nil)
    #expect(handTillAUC(scores: [[0.1, 0.9], [0.2, 0.8], [0.9, 0.1]], truth: [1, 1, 1], classes: 2) == nil)
  }

  @Test func binaryAUCCountsTiesAsHalf() {
    // Positives 0.8, 0.4; negatives 0.4, 0.2: pairs (0.8>0.4) (0.8>0.2) (0.4=0.4) (0.4>0.2).
    let expectedAUC: Double = 3.5 / 4
    #expect(binaryAUC(scores: [0.8, 0.4, 0.4, 0.2], positive: [true, true, false, false]) == expectedAUC)
    #expect(binaryAUC(scores: [1, 2], positive: [true, false]) == 0)
  }

  @Test func handTillOnThreeClasses() {
    // Perfect separation on every pair gives 1; reversed scores give 0.
    let scores: [[Double]] = [[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7]]
    #expect(handTillAUC(scores: scores, truth: [0, 0, 1, 2], classes: 3) == 1)
    let reversed = scores.map { $0.map { 1 - $0 } }
    #expect(handTillAUC(scores: reversed, truth: [0, 0, 1, 2], classes: 3) == 0)
    // One pair half-right: class 0 vs 1 with A(0|1) = 1/2 and A(1|0) = 1 → 0.75; the
    // other pairs perfect: (0.75 + 1 + 1) / 3.
    let mixed: [[Double]] = [[0.5, 0.0, 0.1], [0.3, 0.1, 0.1], [0.4, 0.9, 0.1], [0.1, 0.1, 0.9]]
    let auc = handTillAUC(scores: mixed, truth: [0, 0, 1, 2], classes: 3)!
    let expectedAUC: Double = 2.75 / 3
    #expect(abs(auc - expectedAUC) < 1e-15)
  }

  @Test func wilsonMatchesTheFormula() {
    // 8 of 10: centre (0.8 + 1.92/20) / (1 + 3.84/10) with z = 1.96; Wilson's own example
    // values, about [0.490, 0.943].
    let interval = wilsonInterval(successes: 8, trials: 10)!
    #expect(abs(interval.lowerBound - 0.4902) < 1e-3)
    #expect(abs(interval.upperBound - 0.9433) < 1e-3)
    #expect(wilsonInterval(successes: 0, trials: 5)!.lowerBound == 0)
    #expect(wilsonInterval(successes: 5, trials: 5)!.upperBound == 1)
    #expect(wilsonInterval(successes: 0, trials: 0) == nil)
  }

  @Test func deLongIntervalContainsTheAUCAndNarrowsWithData() {
    var scores: [Double] = []
    var labels: [Bool] = []
    for i in 0..<40 {
      scores.append(Double(i % 10) / 10 + (i % 2 == 0 ? 0.3 : 0))
      labels.append(i % 2 == 0)
    }
    let auc = binaryAUC(scores: scores, positive: labels)!
    let small = deLongInterval(scores: Array(scores.prefix(10)), positive: Array(labels.prefix(10)))!
    let large = deLongInterval(scores: scores, positive: labels)!
    #expect(large.contains(auc))
    #expect(large.upperBound - large.lowerBound < small.upperBound - small.lowerBound)
  }

  @Test func bootstrapIsSeededAndBracketsTheStatistic() {
    let values: [Double] = (0..<50).map { Double($0 % 7) }
    let mean = values.reduce(0, +) / 50
    let statistic = { (indices: [Int]) -> Double? in indices.reduce(0) { $0 + values[$1] } / Double(indices.count) }
    let a = bootstrapInterval(count: 50, seed: 3, statistic)!
    let b = bootstrapInterval(count: 50, seed: 3, statistic)!
    #expect(a == b)
    #expect(a.contains(mean))
  }

  @Test func backgroundFraction() {
    // Two channels of a 1×2 map: |R| = [1, 3] and [1, 1]; the first pixel is foreground.
    let fraction = backgroundRelevanceFraction(heatmap: [1, -3, -1, 1], channels: 2, mask: [1, 0])
    let expected: Double = 4.0 / 6
    #expect(fraction == expected)
    #expect(backgroundRelevanceFraction(heatmap: [0, 0], channels: 1, mask: [1, 0]) == nil)
  }
}
