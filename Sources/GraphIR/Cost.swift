/// Work per node, in multiply-accumulates per sample: what the summary reports and what
/// benchmarks compare against.
///
/// Counted: convolution and linear (one MAC per weight use), batch norm (one per element:
/// a folded scale and shift) and average pooling (one per window element read). ReLU, max
/// pooling, concatenation, addition, flatten and dropout move or compare data and count 0.

extension Graph {
  /// Multiply-accumulates per sample of `node`, saturating at `Int.max`.
  public func multiplyAccumulates(of id: NodeID) -> Int {
    let node = self[id]
    let output = node.type.elementCount ?? Int.max
    func times(_ factors: Int...) -> Int {
      factors.reduce(1) { product, factor in
        let (result, overflow) = product.multipliedReportingOverflow(by: factor)
        return overflow ? Int.max : result
      }
    }
    switch node.op {
    case .conv2d(let a):
      let inChannels = self[node.inputs[0]].type.dims[0]
      return times(output, inChannels / a.groups, a.kernel.h, a.kernel.w)
    case .linear:
      return times(output, self[node.inputs[0]].type.dims[0])
    case .batchNorm:
      return output
    case .avgPool2d(let a):
      return times(output, a.kernel.h, a.kernel.w)
    case .adaptiveAvgPool2d:
      return self[node.inputs[0]].type.elementCount ?? Int.max
    case .input, .relu, .maxPool2d, .flatten, .dropout, .concat, .add:
      return 0
    }
  }

  /// Multiply-accumulates per sample of the whole graph.
  public var totalMultiplyAccumulates: Int {
    nodes.indices.reduce(0) { total, index in
      let (sum, overflow) = total.addingReportingOverflow(multiplyAccumulates(of: NodeID(index)))
      return overflow ? Int.max : sum
    }
  }
}
