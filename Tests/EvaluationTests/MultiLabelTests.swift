import Testing

@testable import Evaluation

/// The multi-label report against a case worked out by hand:
///
///     sample  labels  p(label 0)  p(label 1)
///     0       {0}     0.9         0.1
///     1       {0, 1}  0.6         0.7
///     2       {1}     0.4         0.8
///     3       {}      0.2         0.6
///     4       {0}     0.3         0.2
@Suite struct MultiLabelTests {
  let truth = [[true, false], [true, true], [false, true], [false, false], [true, false]]
  let probabilities = [[0.9, 0.1], [0.6, 0.7], [0.4, 0.8], [0.2, 0.6], [0.3, 0.2]]

  func report(thresholds: [Double]) -> MultiLabelReport {
    MultiLabelReport(labelNames: ["a", "b"], truth: truth, probabilities: probabilities, thresholds: thresholds, backgroundFractions: nil, resamples: 200)
  }

  @Test func countsAndRatiosAtOneHalf() {
    let r = report(thresholds: [0.5, 0.5])
    // Label 0 predicted for samples 0, 1: TP 2, FP 0, FN 1 (sample 4), TN 2.
    let a = r.rows[0].matrix
    #expect([a.truePositives(1), a.falsePositives(1), a.falseNegatives(1), a.trueNegatives(1)] == [2, 0, 1, 2])
    #expect(r.rows[0].precision == 1 && r.rows[0].recall == 2.0 / 3 && r.rows[0].specificity == 1 && r.rows[0].f1 == 0.8)
    // Label 1 predicted for samples 1, 2, 3: TP 2, FP 1 (sample 3), FN 0, TN 2.
    let b = r.rows[1].matrix
    #expect([b.truePositives(1), b.falsePositives(1), b.falseNegatives(1), b.trueNegatives(1)] == [2, 1, 0, 2])
    #expect(r.rows[1].precision == 2.0 / 3 && r.rows[1].recall == 1 && r.rows[1].specificity == 2.0 / 3 && r.rows[1].f1 == 0.8)
    #expect(r.rows.map(\.support) == [3, 2])
    // Samples 3 ({} predicted {1}) and 4 ({0} predicted {}) miss.
    #expect(r.exactMatches == 3 && r.samples == 5)
    #expect(abs(r.macroF1 - 0.8) < 1e-15)
  }

  @Test func aucsAndBestThresholds() {
    let r = report(thresholds: [0.5, 0.5])
    // Label 0: positives 0.9, 0.6, 0.3 over negatives 0.4, 0.2: 5 of 6 pairs.
    #expect(r.rows[0].auc == 5.0 / 6)
    #expect(r.rows[1].auc == 1)
    #expect(abs(r.macroAUC! - 11.0 / 12) < 1e-15)
    // The bootstrap interval is seeded: the same data give the same interval.
    #expect(r.macroAUCInterval != nil && r.macroAUCInterval == report(thresholds: [0.5, 0.5]).macroAUCInterval)
    // Label 0: F1 at 0.9, 0.6, 0.4, 0.3, 0.2 is 1/2, 4/5, 2/3, 6/7, 3/4. Label 1: 1 at 0.7.
    #expect(r.rows[0].bestF1Threshold == 0.3)
    #expect(r.rows[1].bestF1Threshold == 0.7)
    // Passing them back reaches those F1s.
    let tuned = report(thresholds: [0.3, 0.7])
    #expect(tuned.rows[0].f1 == 6.0 / 7 && tuned.rows[1].f1 == 1)
    #expect(tuned.exactMatches == 4)  // only sample 2 misses: label 0 at 0.4 ≥ 0.3
  }

  @Test func labelNeverPresentOrNeverPredicted() {
    // Label 1 never occurs; label 0 is never predicted.
    let r = MultiLabelReport(
      labelNames: ["a", "b"], truth: [[true, false], [false, false], [true, false]],
      probabilities: [[0.1, 0.9], [0.2, 0.1], [0.3, 0.2]], thresholds: [0.5, 0.5], backgroundFractions: nil, resamples: 50)
    #expect(r.rows[0].precision == nil && r.rows[0].recall == 0 && r.rows[0].f1 == 0)
    #expect(r.rows[1].recall == nil && r.rows[1].auc == nil && r.rows[1].bestF1Threshold == nil)
    #expect(r.rows[1].f1 == 0)  // one false positive: 0 / (0 + 1 + 0)
    #expect(r.rows[0].auc == 0.5)  // positives 0.1, 0.3 over the negative 0.2: 1 of 2 pairs
    #expect(r.macroAUC == r.rows[0].auc)  // labels without an AUC are left out of the mean
  }

  @Test func tiesAdmitTogether() {
    // Equal scores cannot be split by a threshold: F1 at 0.5 counts both samples.
    #expect(bestF1Threshold(scores: [0.5, 0.5, 0.1], positive: [true, false, false]) == 0.5)
    #expect(bestF1Threshold(scores: [0.2, 0.1], positive: [false, false]) == nil)
  }
}
