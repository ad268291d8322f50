/// Areas under ROC curves.

/// The binary AUC: the probability that a random positive scores above a random negative,
/// ties counting one half (the Mann–Whitney statistic). nil without both kinds of sample.
public func binaryAUC(scores: [Double], positive: [Bool]) -> Double? {
  precondition(scores.count == positive.count)
  let pos = zip(scores, positive).filter { $0.1 }.map(\.0)
  let neg = zip(scores, positive).filter { !$0.1 }.map(\.0)
  guard !pos.isEmpty, !neg.isEmpty else { return nil }
  return meanPlacement(pos, above: neg)
}

/// Σ over pairs of [x > y] + ½[x = y], divided by the number of pairs, by sorting (n log n).
func meanPlacement(_ xs: [Double], above ys: [Double]) -> Double {
  let sorted = ys.sorted()
  var total = 0.0
  for x in xs {
    let below = lowerBound(sorted, x)
    let notAbove = upperBound(sorted, x)
    total += Double(below) + 0.5 * Double(notAbove - below)
  }
  return total / (Double(xs.count) * Double(ys.count))
}

private func lowerBound(_ a: [Double], _ v: Double) -> Int {
  var (lo, hi) = (0, a.count)
  while lo < hi { let mid = (lo + hi) / 2; if a[mid] < v { lo = mid + 1 } else { hi = mid } }
  return lo
}

private func upperBound(_ a: [Double], _ v: Double) -> Int {
  var (lo, hi) = (0, a.count)
  while lo < hi { let mid = (lo + hi) / 2; if a[mid] <= v { lo = mid + 1 } else { hi = mid } }
  return lo
}

/// DeLong's 95% interval for a binary AUC (DeLong, DeLong and Clarke-Pearson 1988): the
/// variance from the placement values of positives and negatives. nil without at least
/// two samples of each kind.
public func deLongInterval(scores: [Double], positive: [Bool], z: Double = normal95) -> ClosedRange<Double>? {
  let pos = zip(scores, positive).filter { $0.1 }.map(\.0)
  let neg = zip(scores, positive).filter { !$0.1 }.map(\.0)
  guard pos.count >= 2, neg.count >= 2 else { return nil }
  let auc = meanPlacement(pos, above: neg)
  // V10: each positive's share of negatives below it; V01: each negative's of positives above.
  let v10 = pos.map { meanPlacement([$0], above: neg) }
  let v01 = neg.map { 1 - meanPlacement([$0], above: pos) }
  func variance(_ v: [Double]) -> Double {
    let mean = v.reduce(0, +) / Double(v.count)
    return v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)
  }
  let se = (variance(v10) / Double(pos.count) + variance(v01) / Double(neg.count)).squareRoot()
  return max(0, auc - z * se)...min(1, auc + z * se)
}

/// Hand and Till's (2001) multi-class AUC: the mean over class pairs (i, j) of
/// ½[A(i|j) + A(j|i)], A(i|j) the probability that a sample of class i has a higher score
/// for class i than a sample of class j. `scores[n][k]`: sample n's score for class k.
/// Pairs with a class absent are skipped; nil when no pair remains.
public func handTillAUC(scores: [[Double]], truth: [Int], classes: Int) -> Double? {
  var byClass = Array(repeating: [Int](), count: classes)
  for (n, t) in truth.enumerated() { byClass[t].append(n) }
  var sum = 0.0
  var pairs = 0
  for i in 0..<classes {
    for j in (i + 1)..<max(i + 1, classes) where !byClass[i].isEmpty && !byClass[j].isEmpty {
      let aij = meanPlacement(byClass[i].map { scores[$0][i] }, above: byClass[j].map { scores[$0][i] })
      let aji = meanPlacement(byClass[j].map { scores[$0][j] }, above: byClass[i].map { scores[$0][j] })
      sum += (aij + aji) / 2
      pairs += 1
    }
  }
  return pairs == 0 ? nil : sum / Double(pairs)
}
