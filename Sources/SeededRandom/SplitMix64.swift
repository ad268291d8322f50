import Foundation

/// SplitMix64 (Steele, Lea and Flood 2014): a small, fast, well-mixed 64-bit generator.
/// isnetc draws everything seeded from it — initial weights, synthetic datasets,
/// augmentation, bootstrap resamples — so the same seed gives the same bits everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  public var state: UInt64
  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1) with 53 random bits.
  public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// Uniform in [low, high).
  public mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * unit() }

  /// Uniform in [low, high), as Float.
  public mutating func float(_ low: Float, _ high: Float) -> Float { low + (high - low) * Float(next() >> 40) / Float(1 << 24) }

  /// Uniform in `range` (modulo bias below 2⁻⁴⁰ for the small ranges used here).
  public mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

  public mutating func bool() -> Bool { next() & 1 == 1 }

  /// Fisher–Yates from the last element down, one `int(0...i)` draw per step (the epoch
  /// order and the exchange's donors; the PyTorch package's `SplitMix64.shuffle` draws the
  /// same).
  public mutating func shuffle<T>(_ items: inout [T]) {
    for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, int(0...i)) }
  }

  /// Standard normal by Box–Muller (one value per call; the pair's second is dropped to
  /// keep the stream position simple).
  public mutating func normal() -> Double {
    let u1 = max(unit(), 0x1p-53)
    let u2 = unit()
    return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
  }
}
