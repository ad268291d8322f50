/// Work per node, in multiply-accumulates per sample: what the summary reports and what
/// benchmarks compare against.
///
/// Counted: convolution and linear (one MAC per weight use), batch norm (one per element:
/// a folded scale and shift) and average pooling (one per window element read). ReLU, max
/// pooling, concatenation, addition, flatten, dropout and nearest upsampling move or compare
/// data and count 0; a product counts one per element, bilinear upsampling four;
/// element-wise functions count 0 too (no multiply-accumulates, whatever they cost).

extension Graph {
  /// Multiply-accumulates per sample of `node`, saturating at `Int.max`.
  public func multiplyAccumulates(of id: NodeID) -> Int {
    let node = self[id]
    let output = node.type.elementCount ?? Int.max
    func times(_ factors: Int...) -> Int { product(factors) }
    func product(_ factors: [Int]) -> Int {
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
    case .batchNorm, .mul:
      return output
    case .upsample(let a):
      return a.mode == .bilinear ? times(output, 4) : 0
    case .pool(let pooling):
      return pooling.multiplyAccumulates(output: output, input: self[node.inputs[0]].type.elementCount ?? Int.max, times: product)
    case .conv2dTranspose(let a):
      // The same multiply-accumulates as the forward convolution, once per class.
      return times(self[node.inputs[0]].type.elementCount ?? Int.max, (a.inputDims.first ?? 0) / a.forward.groups, a.forward.kernel.h, a.forward.kernel.w)
    case .linearTranspose(let a):
      return times(output, a.outFeatures)
    case .zbPreactivation(let a):
      return times(output, (a.inputDims.first ?? 0) / a.conv.groups, a.conv.kernel.h, a.conv.kernel.w)
    case .zbRelevance(let a):
      // Three transposed convolutions.
      return times(3, self[node.inputs[1]].type.elementCount ?? Int.max, (a.inputDims.first ?? 0) / a.conv.groups, a.conv.kernel.h, a.conv.kernel.w)
    case .batchNormTranspose, .lrpEpsilonDivide, .lrpMultiply:
      return output
    case .poolTranspose(let a):
      return a.forward.transposeMultiplyAccumulates(relevance: self[node.inputs[0]].type.elementCount ?? Int.max, output: output, times: product)
    case .input, .relu, .elementwise, .flatten, .dropout, .concat, .add, .lrpSeed, .sliceChannels, .unflatten:
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
