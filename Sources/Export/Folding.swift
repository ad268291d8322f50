/// Batch-norm folding for export, with the runtime's arithmetic (Runtime's
/// BoundParameters): scale = γ/sqrt(var + eps) and shift = β − μ·scale in double precision,
/// each rounded to float; then W' = W·scale and b' = b·scale + shift per output, in double
/// from the rounded scale and shift, rounded to float. The same operations in the same
/// order give the same bits, so the deployment graph's folded weights are isnetc's own.

enum Folding {
  static func norm(gamma: [Float], beta: [Float], mean: [Float], variance: [Float], epsilon: Double) -> (scale: [Float], shift: [Float]) {
    var scale = [Float](repeating: 0, count: gamma.count)
    var shift = scale
    for c in gamma.indices {
      let s = Double(gamma[c]) / (Double(variance[c]) + epsilon).squareRoot()
      scale[c] = Float(s)
      shift[c] = Float(Double(beta[c]) - Double(mean[c]) * s)
    }
    return (scale, shift)
  }

  static func fold(weight: [Float], bias: [Float]?, outputs: Int, scale: [Float], shift: [Float]) -> (weight: [Float], bias: [Float]) {
    let perOutput = weight.count / outputs
    var w = weight
    var b = [Float](repeating: 0, count: outputs)
    for o in 0..<outputs {
      let s = Double(scale[o])
      for i in o * perOutput..<(o + 1) * perOutput { w[i] = Float(Double(weight[i]) * s) }
      b[o] = Float(Double(bias?[o] ?? 0) * s + Double(shift[o]))
    }
    return (w, b)
  }
}
