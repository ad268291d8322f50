import Foundation
import Testing

@testable import Training

/// Multi-label training pieces: BCE leaves unknown targets out, exact-match accuracy and
/// macro F1 over the known labels.
@Suite struct MultiLabelTrainingTests {
  @Test func unknownTargetsLeaveTheLossAndGetNoGradient() {
    let logits: [Double] = [0.3, -1.2, 2.0, 0.7]
    let targets: [Double] = [1, 0, 0, 1]
    let known: [Double] = [1, 0, 1, 1]
    let masked = ClassificationLoss.binaryCrossEntropy(logits: logits, targets: targets, classes: 2, known: known)
    let subset = ClassificationLoss.binaryCrossEntropy(logits: [0.3, 2.0, 0.7], targets: [1, 0, 1], classes: 1)
    // The same three float64 terms in the same order: equal to the last bits.
    #expect(masked.loss == subset.loss)
    #expect(masked.gradient[1] == 0)
    #expect([masked.gradient[0], masked.gradient[2], masked.gradient[3]] == subset.gradient)
  }

  @Test func exactMatchIgnoresUnknownLabels() {
    // Two samples, three labels; logits ≥ 0 predict a label.
    let logits: [Float] = [1, -1, 2, /* sample 2 */ -1, -1, 1]
    let batch = Batch(
      images: [], masks: nil, labels: [0, 2], targets: [1, 0, 1, /* */ 1, 0, 1], known: [1, 1, 1, /* */ 0, 1, 1], samples: 2)
    #expect(Trainer.correct(logits, batch) == 2)
    var wrong = batch
    wrong.known = [1, 1, 1, 1, 1, 1]
    #expect(Trainer.correct(logits, wrong) == 1)
  }

  @Test func macroF1AveragesTheLabels() {
    // Label 0: F1 = 2·2 / (2·2 + 1 + 1) = 2/3; label 1: never present nor predicted, 0.
    #expect(abs(Trainer.macroF1([(2, 1, 1), (0, 0, 0)]) - 1.0 / 3) < 1e-15)
  }

  @Test func positiveWeightsMustBePositive() {
    var settings = TrainingSettings()
    settings.positiveWeights = [1, 0]
    #expect(settings.problems == ["--positive-weights must be positive numbers, one per label, got 1.0,0.0"])
  }
}
