/// The constants of the Zᴮ first layer (paper section 4.4.3), computed once when weights
/// are bound. With W', b' the convolution's weights and bias with its batch norm folded in,
/// and W'⁺ = max(0, W'), W'⁻ = min(0, W') (b'⁺, b'⁻ likewise):
///
///   z   = conv(x, W', b') − [conv(L, W'⁺, l·b'⁺) + conv(H, W'⁻, h·b'⁻)]
///   R_x = x ⊙ convᵀ(s, W') − l·convᵀ(s, W'⁺) − h·convᵀ(s, W'⁻)
///       = (x − l) ⊙ convᵀ(s, W'⁺) + (x − h) ⊙ convᵀ(s, W'⁻)
///
/// L and H are images filled with the input's bounds l and h and zero-padded like x, so the
/// bracket is a constant map (smaller at the borders, where windows overlap the padding):
/// it is `correction`, stored negated. R_x is computed in its second form, whose two terms
/// never cancel (W'⁺ in `weight`, W'⁻ in `boundsWeight`).

import CKernels
import GraphIR

enum ZBetaConstants {
  enum Use { case preactivation, relevance }

  /// For the pre-activation: W' in `weight`, b' in `bias`; for the relevance: W'⁺ in
  /// `weight`, W'⁻ in `boundsWeight`.
  static func make(_ a: ZBetaAttributes, for use: Use, folded: NodeConstants) -> NodeConstants {
    let weight = folded.weight
    let bias = folded.bias ?? Array(repeating: 0, count: a.conv.outChannels)
    let (low, high) = (Float(a.low), Float(a.high))
    let positive = weight.map { max(0, $0) }
    let negative = weight.map { min(0, $0) }
    let dims = a.inputDims
    let outputDims = (try? Op.conv2d(a.conv).inferType([TensorType(dims: dims)]).dims) ?? []
    let outputCount = outputDims.reduce(1, *)
    var geometry = InferenceSession.geometry(a.conv, input: dims, output: outputDims, batch: 1)
    let workspaceThreads = isn_threads()
    let workspaceCount = max(1, isn_conv2d_workspace(&geometry, workspaceThreads))
    var workspace = [Float](repeating: 0, count: workspaceCount)
    func convolve(_ image: Float, _ w: [Float], _ b: [Float]) -> [Float] {
      let x = [Float](repeating: image, count: dims.reduce(1, *))
      var y = [Float](repeating: 0, count: outputCount)
      isn_conv2d(&geometry, x, x.count, w, b, 0, &y, outputCount, &workspace, workspaceThreads)
      return y
    }
    let lowTerm = convolve(low, positive, bias.map { low * max(0, $0) })
    let highTerm = convolve(high, negative, bias.map { high * min(0, $0) })
    var constants = NodeConstants(weight: use == .relevance ? positive : weight, bias: bias)
    constants.correction = zip(lowTerm, highTerm).map { -($0 + $1) }
    constants.boundsWeight = negative
    return constants
  }
}
