/// The receiver operating characteristic of a score for one class (or label) against the
/// rest: the (false positive rate, true positive rate) of "score ≥ t" for every threshold
/// t, from the highest score down. Tied scores enter together (one diagonal segment), so
/// the trapezoidal area under the points equals `binaryAUC`, ties counting one half.

/// The ROC points from (0, 0) to (1, 1); nil without both a positive and a negative sample.
public func rocCurve(scores: [Double], positive: [Bool]) -> [(falsePositiveRate: Double, truePositiveRate: Double)]? {
  precondition(scores.count == positive.count)
  let positives = positive.filter { $0 }.count
  let negatives = positive.count - positives
  guard positives > 0, negatives > 0 else { return nil }
  // A NaN score (a model that failed) ranks lowest.
  let scores = scores.map { $0.isNaN ? -Double.infinity : $0 }
  let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
  var points: [(falsePositiveRate: Double, truePositiveRate: Double)] = [(0, 0)]
  var (tp, fp) = (0, 0)
  var i = 0
  while i < order.count {
    let t = scores[order[i]]
    repeat {
      if positive[order[i]] { tp += 1 } else { fp += 1 }
      i += 1
    } while i < order.count && scores[order[i]] == t
    points.append((Double(fp) / Double(negatives), Double(tp) / Double(positives)))
  }
  return points
}
