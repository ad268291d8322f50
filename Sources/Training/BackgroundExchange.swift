import SeededRandom

/// Mask-guided background exchange: a training sample keeps its foreground (mask > 0) and
/// takes the rest of its picture from the batch's other samples. Drawn per sample with
/// probability `probability`; the donors are the batch's other samples in a random order.
///
/// Why: a background cue (a shape, a patch, a watermark) is learnable only while it
/// correlates with the label. With every background exchanged, the background a sample
/// shows belongs to donors drawn independently of the sample's class, so the cue
/// carries no information about the label and the classification loss no longer pulls
/// relevance onto it, against the heatmap loss (paper section 4.3: L_C and L_H compete
/// exactly where the shortcut lies). The heatmap loss then only has to keep the
/// explanation inside the mask, which it does without the zero solution.
///
/// Only background is taken: where the partner's own object lies, the pixel comes from the
/// next of the batch's samples (in a seeded order) whose background it is, and from the
/// sample itself when none is. An image never shows two objects under one label, which
/// no classifier could resolve without the mask.
public struct BackgroundExchange: Sendable, Equatable {
  public var probability: Double

  public init(probability: Double) { self.probability = probability }

  /// Exchanges the backgrounds of `samples` (after augmentation, before any masked-input
  /// fill). `indices` are the samples' places in the data set: with the run's seed and the
  /// epoch they fix every draw, so the same batch gets the same pictures on every run.
  /// Samples without a mask keep their picture and give none (where their object lies is
  /// unknown); a donor is read as it was before any exchange.
  public func apply(to samples: inout [TrainingSample], indices: [Int], seed: UInt64, epoch: Int, channels: Int) {
    precondition(samples.count == indices.count, "one data-set index per sample")
    guard probability > 0, samples.count >= 2 else { return }
    let originals = samples.map(\.image)
    let foregrounds = samples.map { sample in sample.mask.map { Self.foreground($0, plane: sample.image.count / channels) } }
    for k in samples.indices {
      guard let foreground = foregrounds[k] else { continue }
      var random = SplitMix64(seed: Self.seed(seed, epoch: epoch, sample: indices[k]))
      guard random.unit() < probability else { continue }
      // The other samples in a random order: the first whose background a pixel is gives it.
      var donors = samples.indices.filter { $0 != k && foregrounds[$0]?.count == foreground.count }
      random.shuffle(&donors)
      let plane = foreground.count
      for p in 0..<plane where !foreground[p] {
        guard let donor = donors.first(where: { !foregrounds[$0]![p] }) else { continue }
        for c in 0..<channels { samples[k].image[c * plane + p] = originals[donor][c * plane + p] }
      }
    }
  }

  /// A pixel is foreground when any channel of its mask is positive.
  static func foreground(_ mask: [Float], plane: Int) -> [Bool] {
    var result = [Bool](repeating: false, count: plane)
    for i in mask.indices where mask[i] > 0 { result[i % plane] = true }
    return result
  }

  /// The seed of sample `index`'s draws in `epoch`, apart from the augmentation's and the
  /// fill's.
  static func seed(_ seed: UInt64, epoch: Int, sample: Int) -> UInt64 {
    (seed ^ 0x7A64_6E0C_3B9F_11D5) &+ UInt64(truncatingIfNeeded: epoch) &* 0xD6E8_FEB8_6659_FD93
      &+ UInt64(truncatingIfNeeded: sample) &* 0x94D0_49BB_1331_11EB
  }
}
