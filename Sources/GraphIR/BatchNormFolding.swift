/// The arithmetic of folding an inference batch norm into the layer before it (the
/// deployment pass's fusion; paper eqs. 14–15 use the same scale): scale = γ/sqrt(var + eps)
/// and shift = β − μ·scale in double precision, each rounded to float; then W' = W·scale per
/// output and b' = b·scale + shift, in double from the rounded scale and shift, rounded to
/// float. The runtime and the ONNX export both fold with these functions, so their folded
/// weights are the same bits.
public enum BatchNormFolding {
  public static func scaleAndShift(gamma: [Float], beta: [Float], mean: [Float], variance: [Float], epsilon: Double)
    -> (scale: [Float], shift: [Float])
  {
    var scale = [Float](repeating: 0, count: gamma.count)
    var shift = scale
    for c in gamma.indices {
      let s = Double(gamma[c]) / (Double(variance[c]) + epsilon).squareRoot()
      scale[c] = Float(s)
      shift[c] = Float(Double(beta[c]) - Double(mean[c]) * s)
    }
    return (scale, shift)
  }

  /// `weight` holds `outputs` rows; a missing bias counts as zero.
  public static func fold(weight: [Float], bias: [Float]?, outputs: Int, scale: [Float], shift: [Float])
    -> (weight: [Float], bias: [Float])
  {
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

extension Graph {
  /// What keeps `tensors` (name → shape and values) from binding to this graph's
  /// parameters: missing, misshapen or non-finite tensors and names the model does not
  /// have; empty when they fit. `nil` from `tensor` means absent.
  public func weightProblems(names: some Sequence<String>, tensor: (String) -> (shape: [Int], values: [Float])?) -> [String] {
    var problems: [String] = []
    var expected: Set<String> = []
    for parameter in parameters {
      expected.insert(parameter.name)
      guard let (shape, values) = tensor(parameter.name) else {
        problems.append("missing tensor '\(parameter.name)' (expected shape \(shapeText(parameter.shape)))")
        continue
      }
      if shape != parameter.shape {
        problems.append("tensor '\(parameter.name)' has shape \(shapeText(shape)), the model needs \(shapeText(parameter.shape))")
      } else if let bad = values.firstIndex(where: { !$0.isFinite }) {
        problems.append("tensor '\(parameter.name)' holds a non-finite value (\(values[bad])) at flat index \(bad)")
      }
    }
    for name in names.sorted() where !expected.contains(name) {
      problems.append("unexpected tensor '\(name)': the model has no parameter of that name")
    }
    return problems
  }

  /// The message for `problems` from `weightProblems`, the first ten listed.
  public func weightMismatchMessage(source: String, problems: [String]) -> String {
    let shown = problems.prefix(10).map { "  \($0)" }.joined(separator: "\n")
    let more = problems.count > 10 ? "\n  … and \(problems.count - 10) more" : ""
    return "\(source): weights do not fit model '\(name)':\n\(shown)\(more)"
  }

}
