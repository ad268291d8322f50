/// Fitting text into a width: long names shortened with an ellipsis in the middle (a path
/// keeps its start and, longer, its end: the file name), sentences wrapped at spaces.

extension Drawing {
  /// `text` if it fits `width` in `font`; else its start and end around "…", as many
  /// characters as fit (a third from the start). "" when not even "…" fits.
  public func shortened(_ text: String, toFit width: Double, font: Font) -> String {
    if textWidth(text, font) <= width { return text }
    let characters = Array(text)
    func candidate(_ kept: Int) -> String {
      let head = kept / 3
      return String(characters[..<head]) + "…" + String(characters[(characters.count - (kept - head))...])
    }
    // The longest kept count that fits (width grows with it).
    var (low, high) = (0, characters.count - 1)
    while low < high {
      let mid = (low + high + 1) / 2
      if textWidth(candidate(mid), font) <= width { low = mid } else { high = mid - 1 }
    }
    let best = candidate(low)
    return textWidth(best, font) <= width ? best : ""
  }

  /// `text` broken into lines at spaces so each fits `width`; a word too long for a line
  /// of its own is shortened.
  public func wrapped(_ text: String, width: Double, font: Font) -> [String] {
    var lines: [String] = []
    var line = ""
    for word in text.split(separator: " ").map(String.init) {
      let joined = line.isEmpty ? word : line + " " + word
      if textWidth(joined, font) <= width {
        line = joined
      } else {
        if !line.isEmpty { lines.append(line) }
        line = shortened(word, toFit: width, font: font)
      }
    }
    if !line.isEmpty { lines.append(line) }
    return lines
  }
}

/// Numbers as pictures print them.
public enum NumberText {
  /// `v` with about `digits` significant digits: fixed-point between 0.001 and 100000,
  /// else scientific ("1.2e-05" as "1.2e-5"); trailing zeros dropped; "−" for minus.
  public static func short(_ v: Double, digits: Int = 3) -> String {
    guard v.isFinite else { return v.isNaN ? "NaN" : v > 0 ? "∞" : "−∞" }
    if v == 0 { return "0" }
    let magnitude = abs(v)
    let text: String
    if magnitude >= 1e-3, magnitude < 1e5 {
      let decimals = max(0, digits - 1 - Int(magnitude.log10Floor))
      text = trimmed(fixed(magnitude, decimals: decimals))
    } else {
      let exponent = Int(magnitude.log10Floor)
      var mantissa = magnitude / pow10(exponent)
      var e = exponent
      if (mantissa * pow10(digits - 1)).rounded() >= pow10(digits) {
        mantissa /= 10
        e += 1
      }
      text = trimmed(fixed(mantissa, decimals: digits - 1)) + "e" + (e < 0 ? "-" : "") + String(abs(e))
    }
    return (v < 0 ? "−" : "") + text
  }

  /// Tick labels for values `step` apart: as many decimals as the step needs.
  public static func tick(_ v: Double, step: Double) -> String {
    guard step > 0, step.isFinite, abs(v) < 1e5, step >= 1e-4 else { return short(v, digits: 2) }
    // The fewest decimals that write the step exactly (0.25 needs two).
    var decimals = 0
    while decimals < 8, abs(step * pow10(decimals) - (step * pow10(decimals)).rounded()) > 1e-6 * step * pow10(decimals) { decimals += 1 }
    let rounded = (v / step).rounded() * step
    let text = fixed(abs(rounded), decimals: decimals)
    return (rounded < 0 && text.contains(where: { $0 != "0" && $0 != "." }) ? "−" : "") + text
  }

  /// `v` ≥ 0 with exactly `decimals` digits after the point (locale-free).
  public static func fixed(_ v: Double, decimals: Int) -> String {
    let scale = pow10(decimals)
    let whole = (v * scale).rounded()
    guard whole < 9e15 else { return String(v) }
    let digits = String(UInt64(whole))
    guard decimals > 0 else { return digits }
    let padded = String(repeating: "0", count: max(0, decimals + 1 - digits.count)) + digits
    return String(padded.dropLast(decimals)) + "." + String(padded.suffix(decimals))
  }

  private static func trimmed(_ s: String) -> String {
    guard s.contains(".") else { return s }
    var t = s
    while t.hasSuffix("0") { t.removeLast() }
    if t.hasSuffix(".") { t.removeLast() }
    return t
  }

  static func pow10(_ n: Int) -> Double {
    var p = 1.0
    for _ in 0..<abs(n) { p *= 10 }
    return n < 0 ? 1 / p : p
  }
}

extension Double {
  /// ⌊log10(self)⌋ for a positive value, exact at powers of ten.
  var log10Floor: Double {
    guard isFinite, self > 0 else { return 0 }
    var e = 0
    var v = self
    while v >= 10 { v /= 10; e += 1 }
    while v < 1 { v *= 10; e -= 1 }
    return Double(e)
  }
}
