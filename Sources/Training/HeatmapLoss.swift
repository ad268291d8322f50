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
  /// and the mean of H (the standard deviation's centre).
  func divisors(_ heatmaps: [Double], maps: Int) -> (s: [Double], mean: Double) {
    let n = heatmaps.count
    let mean = heatmaps.reduce(0, +) / Double(n)
    // All-zero heatmaps: 0/0 = 0, as the stabiliser makes it in the paper's form.
    func meanAbsolute(_ values: ArraySlice<Double>) -> Double {
      let m = values.reduce(0) { $0 + abs($1) } / Double(values.count)
      return m > 0 ? m : 1
    }
    switch normalization {
    case .standardDeviation:
      let variance = heatmaps.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(n - 1, 1))
      return (Array(repeating: (variance + stabilizer).squareRoot(), count: maps), mean)
    case .meanAbsolute:
      return (Array(repeating: meanAbsolute(heatmaps[...]), count: maps), mean)
    case .perMap:
      let perMap = n / maps
      return ((0..<maps).map { meanAbsolute(heatmaps[$0 * perMap..<($0 + 1) * perMap]) }, mean)
    }
  }

  /// `heatmaps`: [B, K, C, H, W] flattened; `masks`: [B, C, H, W] or [B, H, W] (then
  /// broadcast over channels). Returns L_H and, when asked, ∂L_H/∂heatmaps.
  public func evaluate(heatmaps: [Double], masks: [Double], batch: Int, classes: Int, channels: Int, gradient: Bool) -> (loss: Double, gradient: [Double]?) {
    let n = heatmaps.count
    let layout = HeatmapLayout(heatmaps: n, masks: masks, batch: batch, classes: classes, channels: channels)
    let perClass = layout.perClass
    func background(_ b: Int, _ i: Int) -> Double { 1 - layout.mask(b, i) }
    let (s, mean) = divisors(heatmaps, maps: batch * classes)
    var loss = 0.0
    var du = [Double](repeating: 0, count: batch * classes)  // ∂L/∂u
    let terms = Double(batch * classes)
    for b in 0..<batch {
      for k in 0..<classes {
        let start = (b * classes + k) * perClass
        var u = 0.0
        for i in 0..<perClass { u += background(b, i) * abs(heatmaps[start + i] / s[b * classes + k]) }
        let raw = u / (u + scale)
        let f = min(max(raw, 0), 1 - stabilizer)
        loss += -log(1 - f) / terms
        if raw >= 0, raw <= 1 - stabilizer {
          du[b * classes + k] = 1 / (1 - f) * scale / ((u + scale) * (u + scale)) / terms
        }
      }
    }
    guard gradient else { return (loss, nil) }
    // G = ∂L/∂Hn, then through the normalisation.
    var g = [Double](repeating: 0, count: n)
    // Σ G ⊙ H: over each map (its own divisor's) and over all (in the element order the
    // batch-wide divisors have always summed in, so their gradients keep their bits).
    var gh = [Double](repeating: 0, count: batch * classes)
    var ghTotal = 0.0
    for b in 0..<batch {
      for k in 0..<classes {
        let start = (b * classes + k) * perClass
        for i in 0..<perClass {
          let h = heatmaps[start + i]
          g[start + i] = du[b * classes + k] * background(b, i) * absDerivative(h)
          gh[b * classes + k] += g[start + i] * h
          ghTotal += g[start + i] * h
        }
      }
    }
    switch normalization {
    case .standardDeviation:
      let s = s[0]
      let coefficient = ghTotal / (s * s * s) / Double(max(n - 1, 1))
      return (loss, (0..<n).map { g[$0] / s - coefficient * (heatmaps[$0] - mean) })
    case .meanAbsolute:
      // ∂s/∂H = sign(H) / n.
      let s = s[0]
      let coefficient = ghTotal / (s * s) / Double(n)
      return (loss, (0..<n).map { g[$0] / s - coefficient * absDerivative(heatmaps[$0]) })
    case .perMap:
      // ∂s[map]/∂H = sign(H) / (C·H·W) within the map.
      return (
        loss,
        (0..<n).map {
          let map = $0 / perClass
          return g[$0] / s[map] - gh[map] / (s[map] * s[map]) / Double(perClass) * absDerivative(heatmaps[$0])
        }
      )
    }
  }

  /// The mean over samples and classes of u, the background sum of the normalised |H|
  /// (the quantity E is compared with; the paper's rule of thumb sets E from it).
  public func meanBackground(heatmaps: [Double], masks: [Double], batch: Int, classes: Int, channels: Int) -> Double {
    let layout = HeatmapLayout(heatmaps: heatmaps.count, masks: masks, batch: batch, classes: classes, channels: channels)
    let s = divisors(heatmaps, maps: batch * classes).s
    var total = 0.0
    for b in 0..<batch {
      for k in 0..<classes {
        let start = layout.start(b, k)
        for i in 0..<layout.perClass { total += (1 - layout.mask(b, i)) * abs(heatmaps[start + i] / s[b * classes + k]) }
      }
    }
    return total / Double(batch * classes)
  }
}
