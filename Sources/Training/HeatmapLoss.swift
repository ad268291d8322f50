import Foundation

/// The ISNet heatmap loss (paper section 4.3, eqs. 4–11) and its gradient with respect to
/// the heatmaps, in float64, with the reference implementation's semantics:
///
/// 1. H ← H / sqrt(Var(H) + e): one unbiased variance over the whole [B, K, C, H, W]
///    tensor (it couples the samples of a batch);
/// 2. UH = (1 − M) ⊙ |H|, the mask M (1 = foreground) broadcast over classes;
/// 3. u[b, k] = Σ UH; f = u / (u + E), clamped to [0, 1 − e]; g = −log(1 − f);
///    L_H = the mean of g over b and k.
///
/// The gradient is written out by hand (the loss is a few reductions): with Hn = H / s,
/// G = ∂L/∂Hn and μ the mean of H, ∂L/∂H = G / s − (Σ G ⊙ H) / s³ · (H − μ) / (N − 1).
/// |x|' is sign(x) with sign(0) = 0, and a clamped f passes no gradient, as in PyTorch.
///
/// `.meanAbsolute` replaces step 1's divisor by the mean of |H|, `.perMap` by each map's own
/// (see `Normalization`).
public struct HeatmapLoss: Sendable, Equatable {
  /// How step 1 divides the heatmaps before the background sum.
  public enum Normalization: String, Sendable, Codable, CaseIterable {
    /// sqrt(Var(H) + e), the paper's (section 4.3). Where the heatmaps' variance is far
    /// below e (small images, small relevance), the divisor is ≈ sqrt(e), a constant: the
    /// loss then falls with the heatmaps' overall size, which the "zero solution" exploits.
    /// Where e is negligible it rewards sparse maps, wherever the sparse relevance lies.
    case standardDeviation = "std"
    /// mean(|H|) over the whole tensor (0/0 = 0): u is then the background's share of |H|,
    /// scaled by the number of elements per map, independent of the heatmaps' size and of
    /// how spiky they are. It keeps the paper's stated aims — undo relevance absorption,
    /// do not shift zero — without a stabiliser to dominate.
    case meanAbsolute = "mean-abs"
    /// Each map divided by its own mean |H| (0/0 = 0): u[b, k] is that map's background
    /// share times its elements. Every map then counts alike, whatever its size and
    /// whichever maps share its batch; with one divisor for the batch a map of small |H|
    /// adds little to the loss, however much of it lies outside.
    case perMap = "per-map"
  }

  /// E: the background sum at which the loss reaches −log(1/2).
  public var scale: Double
  /// e: the variance stabiliser and the clamp margin.
  public var stabilizer: Double
  public var normalization: Normalization

  /// No defaults here: a run's come from `TrainingSettings`.
  public init(scale: Double, stabilizer: Double, normalization: Normalization) {
    self.scale = scale
    self.stabilizer = stabilizer
    self.normalization = normalization
  }

  /// The divisors of step 1, one per map (the same for every map but with `.perMap`),
  /// and the mean of H (the standard deviation's centre; 0 where unused). Every sum runs
  /// over the values in order, one running sum per divisor.
  func divisors<H: BinaryFloatingPoint>(_ heatmaps: UnsafeBufferPointer<H>, maps: Int) -> (s: [Double], mean: Double) {
    let n = heatmaps.count
    // All-zero heatmaps: 0/0 = 0, as the stabiliser makes it in the paper's form.
    func meanAbsolute(_ range: Range<Int>) -> Double {
      var total = 0.0
      for i in range { total += abs(Double(heatmaps[i])) }
      let m = total / Double(range.count)
      return m > 0 ? m : 1
    }
    switch normalization {
    case .standardDeviation:
      var sum = 0.0
      for i in 0..<n { sum += Double(heatmaps[i]) }
      let mean = sum / Double(n)
      var squares = 0.0
      for i in 0..<n { squares += (Double(heatmaps[i]) - mean) * (Double(heatmaps[i]) - mean) }
      let variance = squares / Double(max(n - 1, 1))
      return (Array(repeating: (variance + stabilizer).squareRoot(), count: maps), mean)
    case .meanAbsolute:
      return (Array(repeating: meanAbsolute(0..<n), count: maps), 0)
    case .perMap:
      let perMap = n / maps
      return ((0..<maps).map { meanAbsolute($0 * perMap..<($0 + 1) * perMap) }, 0)
    }
  }

  /// `heatmaps`: [B, K, C, H, W] flattened; `masks`: [B, C, H, W] or [B, H, W] (then
  /// broadcast over channels). Returns L_H and, when asked, ∂L_H/∂heatmaps.
  public func evaluate(heatmaps: [Double], masks: [Double], batch: Int, classes: Int, channels: Int, gradient: Bool) -> (loss: Double, gradient: [Double]?) {
    var result = gradient ? [Double](repeating: 0, count: heatmaps.count) : nil
    let loss = heatmaps.withUnsafeBufferPointer { h in
      withOptionalBuffer(&result) { g in
        evaluateAll(heatmaps: h, masks: masks, batch: batch, classes: classes, channels: channels, gradient: g, gradientScale: 1).loss
      }
    }
    return (loss, result)
  }

  /// L_H and `meanBackground` (a training step needs both) and, into `gradient` when given,
  /// `gradientScale`·∂L_H/∂heatmaps, each value rounded to G once: the step reads float32
  /// heatmaps and writes its float32 seed directly, without float64 copies of either. All
  /// arithmetic is float64, the values as the float64 form would hold them.
  func evaluateAll<H: BinaryFloatingPoint, G: BinaryFloatingPoint>(
    heatmaps h: UnsafeBufferPointer<H>, masks: [Double], batch: Int, classes: Int, channels: Int,
    gradient g: UnsafeMutableBufferPointer<G>?, gradientScale: Double
  ) -> (loss: Double, meanBackground: Double) {
    let n = h.count
    let layout = HeatmapLayout(heatmaps: n, masks: masks, batch: batch, classes: classes, channels: channels)
    let perClass = layout.perClass
    let maps = batch * classes
    let terms = Double(maps)
    let (s, mean) = divisors(h, maps: maps)
    var loss = 0.0
    var backgroundTotal = 0.0  // Σ u, as one running sum over every value
    var du = [Double](repeating: 0, count: maps)  // ∂L/∂u
    for b in 0..<batch {
      for k in 0..<classes {
        let map = b * classes + k
        let start = map * perClass
        let divisor = s[map]
        var u = 0.0
        layout.forEachPosition(of: b) { i, m in
          let term = (1 - m) * abs(Double(h[start + i]) / divisor)
          u += term
          backgroundTotal += term
        }
        let raw = u / (u + scale)
        let f = min(max(raw, 0), 1 - stabilizer)
        loss += -log(1 - f) / terms
        if raw >= 0, raw <= 1 - stabilizer {
          du[map] = 1 / (1 - f) * scale / ((u + scale) * (u + scale)) / terms
        }
      }
    }
    let meanBackground = backgroundTotal / terms
    guard let g else { return (loss, meanBackground) }
    // G = ∂L/∂Hn, value by value the same in both passes: the first sums Σ G ⊙ H over each
    // map (its own divisor's) and over all (the batch-wide divisors'), one running sum each
    // in the values' order; the second takes G through the normalisation.
    func normalisedGradient(_ map: Int, _ i: Int, _ m: Double) -> (value: Double, gradient: Double) {
      let value = Double(h[map * perClass + i])
      return (value, du[map] * (1 - m) * absDerivative(value))
    }
    var gh = [Double](repeating: 0, count: maps)
    var ghTotal = 0.0
    for b in 0..<batch {
      for k in 0..<classes {
        let map = b * classes + k
        var sum = 0.0
        layout.forEachPosition(of: b) { i, m in
          let (value, gi) = normalisedGradient(map, i, m)
          sum += gi * value
          if normalization != .perMap { ghTotal += gi * value }
        }
        gh[map] = sum
      }
    }
    for b in 0..<batch {
      for k in 0..<classes {
        let map = b * classes + k
        let start = map * perClass
        let divisor = s[map]
        let through: (Double, Double) -> Double
        switch normalization {
        case .standardDeviation:
          let coefficient = ghTotal / (divisor * divisor * divisor) / Double(max(n - 1, 1))
          through = { value, gi in gi / divisor - coefficient * (value - mean) }
        case .meanAbsolute:
          // ∂s/∂H = sign(H) / n.
          let coefficient = ghTotal / (divisor * divisor) / Double(n)
          through = { value, gi in gi / divisor - coefficient * absDerivative(value) }
        case .perMap:
          // ∂s[map]/∂H = sign(H) / (C·H·W) within the map.
          let coefficient = gh[map] / (divisor * divisor) / Double(perClass)
          through = { value, gi in gi / divisor - coefficient * absDerivative(value) }
        }
        layout.forEachPosition(of: b) { i, m in
          let (value, gi) = normalisedGradient(map, i, m)
          g[start + i] = G(gradientScale * through(value, gi))
        }
      }
    }
    return (loss, meanBackground)
  }

  /// The mean over samples and classes of u, the background sum of the normalised |H|
  /// (the quantity E is compared with; the paper's rule of thumb sets E from it).
  public func meanBackground(heatmaps: [Double], masks: [Double], batch: Int, classes: Int, channels: Int) -> Double {
    heatmaps.withUnsafeBufferPointer { h in
      evaluateAll(heatmaps: h, masks: masks, batch: batch, classes: classes, channels: channels, gradient: UnsafeMutableBufferPointer<Double>?.none, gradientScale: 1)
        .meanBackground
    }
  }
}

/// Runs `body` with a buffer of `array`'s storage, or nil where there is no array.
func withOptionalBuffer<T, R>(_ array: inout [T]?, _ body: (UnsafeMutableBufferPointer<T>?) -> R) -> R {
  guard array != nil else { return body(nil) }
  return array!.withUnsafeMutableBufferPointer { body($0) }
}
