/// How many elements of two float arrays differ in their bits (a length mismatch counts
/// every unmatched element): bit-identity checks report this count, not whole arrays.
public func bitwiseDifferences(_ a: [Float], _ b: [Float]) -> Int {
  zip(a, b).count { $0.bitPattern != $1.bitPattern } + abs(a.count - b.count)
}

/// The same by value (−0 equals +0).
public func valueDifferences(_ a: [Float], _ b: [Float]) -> Int {
  zip(a, b).count { $0 != $1 } + abs(a.count - b.count)
}
