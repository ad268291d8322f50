/// The segmentation loss of a segmenter's per-pixel logits against the masks: per-pixel
/// binary cross-entropy plus the soft Dice loss (the U-Net baselines' training, Milletari
/// et al. 2016 for Dice), in float64, and the overlap counts evaluation reports.
///
/// For sample b with pixel logits z, probabilities p = σ(z) and mask m ∈ {0, 1} over its P
/// pixels:
///   BCE_b  = −(1/P)·Σ [m·log p + (1 − m)·log(1 − p)],   ∂/∂z = (p − m)/P
///   Dice_b = 1 − (2·Σ p·m + 1)/(Σ p + Σ m + 1),          ∂/∂p = −(2m·(U + 1) − (2I + 1))/(U + 1)²
/// with I = Σ p·m and U = Σ p + Σ m (the 1 keeps an empty mask's loss finite and zero when
/// nothing is predicted), ∂p/∂z = p(1 − p). The loss is the mean over samples of
/// BCE_b + Dice_b.

import Foundation

public enum SegmentationLoss {
  /// The loss and its gradient by the logits ([B, P] each); `masks` [B, P].
  public static func evaluate(logits: [Float], masks: [Float], samples: Int) -> (loss: Double, gradient: [Double]) {
    precondition(samples > 0 && logits.count == masks.count && logits.count % samples == 0, "segmentation: logits and masks differ in size")
    let pixels = logits.count / samples
    var gradient = [Double](repeating: 0, count: logits.count)
    var total = 0.0
    for b in 0..<samples {
      var bce = 0.0, intersection = 0.0, union = 0.0
      var p = [Double](repeating: 0, count: pixels)
      for i in 0..<pixels {
        let z = Double(logits[b * pixels + i]), m = Double(masks[b * pixels + i])
        p[i] = 1 / (1 + exp(-z))
        // log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z), stable for any z.
        bce += m * softplus(-z) + (1 - m) * softplus(z)
        intersection += p[i] * m
        union += p[i] + m
      }
      let denominator = union + 1
      total += bce / Double(pixels) + 1 - (2 * intersection + 1) / denominator
      for i in 0..<pixels {
        let m = Double(masks[b * pixels + i])
        let dDice = -(2 * m * denominator - (2 * intersection + 1)) / (denominator * denominator)
        gradient[b * pixels + i] = ((p[i] - m) / Double(pixels) + dDice * p[i] * (1 - p[i])) / Double(samples)
      }
    }
    return (total / Double(samples), gradient)
  }

  /// log(1 + eˣ) without overflow.
  static func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }

  /// Pixels predicted foreground (logit > 0) against the mask, per sample.
  public struct Overlap: Sendable, Equatable {
    public var intersection = 0
    public var union = 0
    public var predicted = 0
    public var truth = 0
    public var correct = 0
    public var pixels = 0
    public init() {}

    /// IoU = |A ∩ B| / |A ∪ B|; 1 when both are empty.
    public var iou: Double { union == 0 ? 1 : Double(intersection) / Double(union) }
    /// Dice = 2|A ∩ B| / (|A| + |B|); 1 when both are empty.
    public var dice: Double { predicted + truth == 0 ? 1 : Double(2 * intersection) / Double(predicted + truth) }
    public var pixelAccuracy: Double { pixels == 0 ? 0 : Double(correct) / Double(pixels) }

    public static func += (a: inout Overlap, b: Overlap) {
      a.intersection += b.intersection
      a.union += b.union
      a.predicted += b.predicted
      a.truth += b.truth
      a.correct += b.correct
      a.pixels += b.pixels
    }
  }

  /// Each sample's overlap of logits [B, P] > 0 with masks [B, P] > 0.5.
  public static func overlaps(logits: [Float], masks: [Float], samples: Int) -> [Overlap] {
    let pixels = logits.count / max(samples, 1)
    return (0..<samples).map { b in
      var o = Overlap()
      for i in b * pixels..<(b + 1) * pixels {
        let (predicted, truth) = (logits[i] > 0, masks[i] > 0.5)
        if predicted && truth { o.intersection += 1 }
        if predicted || truth { o.union += 1 }
        if predicted { o.predicted += 1 }
        if truth { o.truth += 1 }
        if predicted == truth { o.correct += 1 }
      }
      o.pixels = pixels
      return o
    }
  }
}
