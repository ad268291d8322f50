import Foundation

/// The ISNet authors' later heatmap loss (their public code after the paper; see
/// docs/training.md, "The later loss"), in float64 with its gradient by the heatmaps.
///
/// Per sample b and explained class k, with R the heatmap [C, H, W] and M the mask
/// (1 = foreground, broadcast over channels):
///
/// 1. F = Σ_fg |R|, the raw foreground relevance; m = F / n_fg + δ (n_fg: foreground
///    elements over C×H×W, δ = 1e-10); R̂ = |R| / m. The divisor is differentiated.
/// 2. Per channel c, x = R̂ ⊙ (1 − M) flattened and sorted in descending order;
///    g = Σᵢ dⁱ x₍ᵢ₎ / Σᵢ dⁱ over all H·W entries (foreground pixels enter as zeros):
///    Global Weighted Ranked Pooling. d = 1 is the mean, d = 0 the maximum.
/// 3. ℓ_bg = −log(1 − q), q = g / (g + E) clamped at 1 − 1e-7; mean over channels.
/// 4. ℓ_fg = the band penalty of F (`Band`): quadratic below C1, zero in [C1, C2], above.
/// 5. L_H = mean over b of mean over the explained k of A·ℓ_bg + B·ℓ_fg.
///
/// Ranked pooling is piecewise linear (its derivative by an entry is the weight of the
/// entry's rank; ties take the order of the sort, which is stable), |x|' = sign(x) with
/// sign(0) = 0, and a clamped q passes no gradient, as in PyTorch.
public struct GWRPHeatmapLoss: Sendable, Equatable {
  /// How the foreground term penalises F outside the band [C1, C2].
  public enum Penalty: String, Sendable, Codable, CaseIterable {
    /// ((C1 − F)/C1)² below, ((F − C2)/C1)² above (the authors' first form).
    case quadratic
    /// As quadratic below and up to C1 + C2 above, then 1 + (F − C1 − C2): linear, so a
    /// large excess does not dominate (the Faster-ISNet form, their later default).
    case hybrid
  }

  /// d: the geometric decay of the ranked pooling.
  public var decay: Double
  /// E: the pooled background at which ℓ_bg = log 2.
  public var scale: Double
  /// A and B: the weights of the background and foreground terms.
  public var backgroundWeight: Double
  public var foregroundWeight: Double
  /// C1 ≤ C2: the band the raw foreground relevance F should stay in.
  public var lower: Double
  public var upper: Double
  public var penalty: Penalty

  /// The clamp of q and the divisor's δ (the authors' constants).
  static let clamp = 1e-7
  static let delta = 1e-10

  public init(decay: Double, scale: Double, backgroundWeight: Double, foregroundWeight: Double, lower: Double, upper: Double, penalty: Penalty) {
    self.decay = decay
    self.scale = scale
    self.backgroundWeight = backgroundWeight
    self.foregroundWeight = foregroundWeight
    self.lower = lower
    self.upper = upper
    self.penalty = penalty
  }

  /// GWRP_d of `values` (any order) and, when asked, its derivative by each value.
  public static func rankedPool(_ values: [Double], decay: Double, gradient: Bool = false) -> (value: Double, gradient: [Double]?) {
    let n = values.count
    guard n > 0 else { return (0, gradient ? [] : nil) }
    let order = values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
    // Weights dⁱ / Σ dⁱ; 0⁰ = 1, so d = 0 keeps the largest entry alone.
    var weights = [Double](repeating: 0, count: n)
    var w = 1.0
    var total = 0.0
    for i in 0..<n {
      weights[i] = w
      total += w
      w *= decay
      if w == 0 { break }
    }
    var value = 0.0
    for i in 0..<n where weights[i] != 0 { value += weights[i] / total * values[order[i]] }
    guard gradient else { return (value, nil) }
    var g = [Double](repeating: 0, count: n)
    for i in 0..<n { g[order[i]] = weights[i] / total }
    return (value, g)
  }

  /// The band penalty of F and its derivative.
  public func bandPenalty(_ f: Double) -> (value: Double, derivative: Double) {
    let (c1, c2) = (lower, upper)
    if f < c1 { return (pow((c1 - f) / c1, 2), -2 * (c1 - f) / (c1 * c1)) }
    if f <= c2 { return (0, 0) }
    if penalty == .hybrid, f > c1 + c2 { return (1 + (f - c1 - c2), 1) }
    return (pow((f - c2) / c1, 2), 2 * (f - c2) / (c1 * c1))
  }

  /// `heatmaps`: [B, K, C, H, W] flattened (K: the explained classes), `masks`:
  /// [B, C, H, W] or [B, H, W]. Returns L_H and, when asked, ∂L_H/∂heatmaps.
  public func evaluate(heatmaps: [Double], masks: [Double], batch: Int, classes: Int, channels: Int, gradient: Bool) -> (loss: Double, gradient: [Double]?) {
    let n = heatmaps.count
    let layout = HeatmapLayout(heatmaps: n, masks: masks, batch: batch, classes: classes, channels: channels)
    let (perClass, plane) = (layout.perClass, layout.plane)
    let terms = Double(batch * classes)
    var loss = 0.0
    var result = gradient ? [Double](repeating: 0, count: n) : nil
    for b in 0..<batch {
      // The sample's foreground at every position of a map (the mask broadcast once).
      var isForeground = [Bool](repeating: false, count: perClass)
      layout.forEachPosition(of: b) { i, m in isForeground[i] = m > 0 }
      var count = 0
      for i in 0..<perClass where isForeground[i] { count += 1 }
      for k in 0..<classes {
        let start = (b * classes + k) * perClass
        var f = 0.0
        for i in 0..<perClass where isForeground[i] { f += abs(heatmaps[start + i]) }
        let m = f / Double(max(count, 1)) + Self.delta
        // Background term, per channel.
        var dm = 0.0  // ∂ℓ/∂m
        var dAbs = gradient ? [Double](repeating: 0, count: perClass) : []  // ∂ℓ/∂|R| at fixed m
        for c in 0..<channels {
          let offset = c * plane
          let x = (0..<plane).map { p in isForeground[offset + p] ? 0 : abs(heatmaps[start + offset + p]) / m }
          let (g, dg) = Self.rankedPool(x, decay: decay, gradient: gradient)
          let raw = g / (g + scale)
          let q = min(raw, 1 - Self.clamp)
          loss += backgroundWeight * -log(1 - q) / Double(channels) / terms
          guard gradient, raw <= 1 - Self.clamp else { continue }
          // −log(1 − g/(g + E)) = log(1 + g/E): derivative 1/(g + E).
          let dl = backgroundWeight / (g + scale) / Double(channels) / terms
          for p in 0..<plane where !isForeground[offset + p] { dAbs[offset + p] += dl * dg![p] / m }
          dm -= dl * g / m  // g is homogeneous of degree −1 in m
        }
        let (band, dBand) = bandPenalty(f)
        loss += foregroundWeight * band / terms
        guard gradient else { continue }
        // F and m by each foreground |R|: ∂F = 1, ∂m = 1/n_fg.
        let dF = foregroundWeight * dBand / terms + dm / Double(max(count, 1))
        for i in 0..<perClass {
          let h = heatmaps[start + i]
          let d = isForeground[i] ? dF : dAbs[i]
          result![start + i] = absDerivative(h) * d
        }
      }
    }
    return (loss, result)
  }

  /// The band from a model's relevance: S, each sample's Σ|R| over the whole map averaged
  /// over its explained classes; μ and σ over the samples; C1 = max(μ/5, μ − 3σ) (the
  /// authors' rule) and C2 = 25·C1. The authors also cap C2 at μ + 3σ, which suits the
  /// trained classifier they measure; measured on a model at initialisation it pins the
  /// relevance, and with it the logits (conservation), near their initial size, and the
  /// classifier stays at chance (docs/training.md). Without the cap the band lets the
  /// relevance grow 25-fold.
  public static func band(totals: [Double]) -> (lower: Double, upper: Double) {
    let n = Double(totals.count)
    let mean = totals.reduce(0, +) / n
    let variance = totals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(n - 1, 1)
    let c1 = max(mean / 5, mean - 3 * variance.squareRoot())
    return (c1, 25 * c1)
  }
}
