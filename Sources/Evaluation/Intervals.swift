import SeededRandom

/// Confidence intervals for the metrics.

/// The two-sided 95% standard-normal quantile.
public let normal95 = 1.959963984540054

/// Wilson's score interval for a proportion of `successes` out of `trials` (95% by
/// default): better than the normal approximation near 0 and 1 and for small counts, and
/// never outside [0, 1]. nil for zero trials.
public func wilsonInterval(successes: Int, trials: Int, z: Double = normal95) -> ClosedRange<Double>? {
  guard trials > 0 else { return nil }
  let n = Double(trials)
  let p = Double(successes) / n
  let z2 = z * z
  let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
  let half = z * ((p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()) / (1 + z2 / n)
  // At 0 or all successes the bound is exactly 0 or 1; rounding would leave ~1e-17.
  let low = successes == 0 ? 0 : max(0, centre - half)
  let high = successes == trials ? 1 : min(1, centre + half)
  return low...high
}

/// A seeded percentile-bootstrap interval of `statistic` over resampled sample indices
/// (95%, `resamples` draws); nil values of the statistic (a resample missing a class) are
/// skipped.
public func bootstrapInterval(
  count: Int, resamples: Int = 1000, seed: UInt64 = 0, level: Double = 0.95,
  _ statistic: ([Int]) -> Double?
) -> ClosedRange<Double>? {
  guard count > 0 else { return nil }
  var random = SplitMix64(seed: seed)
  var values: [Double] = []
  for _ in 0..<resamples {
    let indices = (0..<count).map { _ in Int(random.next() % UInt64(count)) }
    if let v = statistic(indices) { values.append(v) }
  }
  guard !values.isEmpty else { return nil }
  values.sort()
  let tail = (1 - level) / 2
  let low = values[min(values.count - 1, Int((tail * Double(values.count)).rounded(.down)))]
  let high = values[min(values.count - 1, Int(((1 - tail) * Double(values.count)).rounded(.up)) - 1)]
  return low...high
}
