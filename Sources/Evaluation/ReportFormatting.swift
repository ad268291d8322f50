import Foundation

/// The formatting both reports share: numbers to three places, intervals in brackets, "-"
/// for what is undefined; JSON with null for it.
enum ReportFormat {
  static func number(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "-" }

  static func interval(_ r: ClosedRange<Double>?) -> String {
    r.map { String(format: "[%.3f, %.3f]", $0.lowerBound, $0.upperBound) } ?? "-"
  }

  /// A value and its interval, or "-" when the value is undefined.
  static func cell(_ v: Double?, _ r: ClosedRange<Double>?) -> String { v == nil ? "-" : "\(number(v)) \(interval(r))" }

  /// One summary line: the name in a column of 19, the value, then the interval (or "-"
  /// when it is undefined) for metrics that have one.
  static func line(_ name: String, _ v: Double?, _ r: ClosedRange<Double>?? = .none, note: String? = nil) -> String {
    pad(name, 19) + number(v) + (r.map { " " + interval($0) } ?? "") + (note.map { " " + $0 } ?? "") + "\n"
  }

  static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

  static func json(_ v: Double?) -> Any { v ?? NSNull() }
  static func json(_ r: ClosedRange<Double>?) -> Any { r.map { [$0.lowerBound, $0.upperBound] } ?? NSNull() }

  /// Pretty-printed with sorted keys, so the output is stable.
  static func text(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}
