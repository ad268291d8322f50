import SeededRandom

/// What replaces an image's background (mask = 0) before a classifier sees it: the input
/// of a teacher for explanation distillation, which cannot use what it never sees.
public enum MaskFill: String, Sendable, Codable, CaseIterable {
  /// The image as it is.
  case none
  /// 0 in the model's input values: black for inputs in [0, 1]. Gradient × input is 0
  /// there, so the ε-rule puts no relevance on the background.
  case zero
  /// i.i.d. uniform noise over the input's declared range, per pixel and channel (the
  /// authors' default).
  case noise

  /// `image` [C, H, W] with its background replaced; `mask` is [H, W] or [C, H, W]
  /// (1 = foreground). The noise is a function of `seed` alone.
  public func apply(to image: [Float], mask: [Float], channels: Int, range: ClosedRange<Float>, seed: UInt64) -> [Float] {
    guard self != .none else { return image }
    let perChannel = image.count / channels
    precondition(mask.count == perChannel || mask.count == image.count, "mask must be [H, W] or [C, H, W]")
    var random = SplitMix64(seed: seed)
    var out = image
    for i in out.indices {
      let fill: Float
      switch self {
      case .none: continue
      case .zero: fill = 0
      // Drawn for every pixel, foreground too: a pixel's noise does not depend on the mask.
      case .noise: fill = range.lowerBound + Float(random.unit()) * (range.upperBound - range.lowerBound)
      }
      if mask[mask.count == image.count ? i : i % perChannel] <= 0 { out[i] = fill }
    }
    return out
  }

  /// The seed of sample `index`'s fill in `epoch`: the same bits for the same run seed.
  public static func seed(_ seed: UInt64, epoch: Int, sample: Int) -> UInt64 {
    (seed ^ 0x2545_F491_4F6C_DD1D) &+ UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15
      &+ UInt64(truncatingIfNeeded: sample) &* 0xBF58_476D_1CE4_E5B9
  }
}
