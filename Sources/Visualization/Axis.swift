/// A plot axis: its range, linear or logarithmic, and its ticks at "nice" values (1, 2,
/// 2.5 or 5 times a power of ten; powers of ten on a logarithmic axis) with their labels.

import Foundation

struct Axis: Sendable, Equatable {
  var low: Double
  var high: Double
  var logarithmic: Bool
  var ticks: [Double]
  var labels: [String]

  /// A linear axis over `values` (non-finite ones ignored), widened to nice ticks; `fixed`
  /// sets the range outright; `includeZero` extends it to 0; `integer` keeps ticks whole.
  static func linear(values: [Double], fixed: ClosedRange<Double>? = nil, includeZero: Bool = false, integer: Bool = false, count: Int = 5) -> Axis {
    let finite = values.filter(\.isFinite)
    var lo = fixed?.lowerBound ?? finite.min() ?? 0
    var hi = fixed?.upperBound ?? finite.max() ?? 1
    if includeZero, fixed == nil { (lo, hi) = (min(lo, 0), max(hi, 0)) }
    if hi <= lo { (lo, hi) = integer ? (lo - 1, hi + 1) : lo == 0 ? (0, 1) : (lo - abs(lo) / 2, hi + abs(hi) / 2) }
    var step = niceStep(hi - lo, count: count)
    if integer { step = max(1, step.rounded(.up)) }
    if fixed == nil {
      lo = (lo / step).rounded(.down) * step
      hi = (hi / step).rounded(.up) * step
    }
    var ticks: [Double] = []
    var t = (lo / step).rounded(.up) * step
    while t <= hi + step * 1e-9, ticks.count < 100 {
      ticks.append(abs(t) < step * 1e-9 ? 0 : t)
      t += step
    }
    return Axis(low: lo, high: hi, logarithmic: false, ticks: ticks, labels: ticks.map { NumberText.tick($0, step: step) })
  }

  /// A logarithmic axis over the positive `values`: whole decades, ticks at the powers of
  /// ten (and at 2 and 5 times them when the range spans at most two decades).
  static func logarithmic(values: [Double]) -> Axis {
    let positive = values.filter { $0.isFinite && $0 > 0 }
    guard let minimum = positive.min(), let maximum = positive.max() else { return linear(values: values) }
    let lo = Int(minimum.log10Floor)
    var hi = Int(maximum.log10Floor)
    if NumberText.pow10(hi) < maximum { hi += 1 }
    if hi == lo { hi += 1 }
    var ticks: [Double] = []
    for e in lo...hi {
      let p = NumberText.pow10(e)
      ticks.append(p)
      if hi - lo <= 2, e < hi { ticks += [2 * p, 5 * p] }
    }
    return Axis(low: NumberText.pow10(lo), high: NumberText.pow10(hi), logarithmic: true, ticks: ticks, labels: ticks.map { NumberText.short($0, digits: 2) })
  }

  /// Whether `values` call for a logarithmic axis: all positive, spanning over 30 times.
  static func prefersLogarithmic(_ values: [Double]) -> Bool {
    let finite = values.filter(\.isFinite)
    guard let minimum = finite.min(), let maximum = finite.max(), minimum > 0 else { return false }
    return maximum / minimum > 30
  }

  /// The position of `v` along the axis, 0 at `low` and 1 at `high`; nil where it has none
  /// (not finite, or not positive on a logarithmic axis).
  func fraction(_ v: Double) -> Double? {
    guard v.isFinite else { return nil }
    if logarithmic {
      guard v > 0 else { return nil }
      return (log10(v) - log10(low)) / (log10(high) - log10(low))
    }
    return (v - low) / (high - low)
  }

  static func niceStep(_ span: Double, count: Int) -> Double {
    guard span > 0, span.isFinite else { return 1 }
    let raw = span / Double(max(count, 1))
    let magnitude = NumberText.pow10(Int(raw.log10Floor))
    let r = raw / magnitude
    let nice = r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10
    return nice * magnitude
  }
}
