import Foundation

/// The classification terms of the ISNet loss, with their gradients with respect to the
/// logits: cross-entropy for single-label models, binary cross-entropy with logits (and
/// optional positive-class weights) for multi-label ones; both averaged like PyTorch's
/// defaults (over the batch; BCE over batch and labels).
public enum ClassificationLoss {
  /// `logits`: [B, K]; `labels`: B class indices.
  public static func crossEntropy(logits: [Double], labels: [Int], classes: Int) -> (loss: Double, gradient: [Double]) {
    let batch = labels.count
    var loss = 0.0
    var gradient = [Double](repeating: 0, count: logits.count)
    for b in 0..<batch {
      let row = Array(logits[b * classes..<(b + 1) * classes])
      let top = row.max() ?? 0
      let exps = row.map { exp($0 - top) }
      let sum = exps.reduce(0, +)
      loss += (log(sum) + top - row[labels[b]]) / Double(batch)
      for k in 0..<classes {
        gradient[b * classes + k] = (exps[k] / sum - (k == labels[b] ? 1 : 0)) / Double(batch)
      }
    }
    return (loss, gradient)
  }

  /// `targets`: [B, K] in {0, 1}; `positiveWeights`: K weights of the positive term;
  /// `known`: [B, K], 0 where a target is unknown (left out of the loss, which averages over
  /// the known ones; nil: all are known).
  public static func binaryCrossEntropy(
    logits: [Double], targets: [Double], classes: Int, positiveWeights: [Double]? = nil, known: [Double]? = nil
  ) -> (loss: Double, gradient: [Double]) {
    let count = max(known?.reduce(0, +) ?? Double(logits.count), 1)
    var loss = 0.0
    var gradient = [Double](repeating: 0, count: logits.count)
    for i in logits.indices where (known?[i] ?? 1) != 0 {
      let (z, y) = (logits[i], targets[i])
      let p = positiveWeights?[i % classes] ?? 1
      // log σ(z) and log(1 − σ(z)), stable for large |z|.
      let logSigmoid = -softplus(-z)
      let logOneMinus = -softplus(z)
      loss += -(p * y * logSigmoid + (1 - y) * logOneMinus) / count
      let sigma = 1 / (1 + exp(-z))
      gradient[i] = (sigma * (p * y + 1 - y) - p * y) / count
    }
    return (loss, gradient)
  }

  static func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }
}

/// L_IS = (1 − P)·L_C + P·L_H (paper eq. 11).
public func isnetLoss(classification: Double, heatmap: Double, weight p: Double) -> Double {
  (1 - p) * classification + p * heatmap
}
