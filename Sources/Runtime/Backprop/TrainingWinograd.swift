/// A training step's 3×3 stride-1 convolutions by Winograd F(4×4, 3×3), as the deployment
/// forward runs them (WinogradConvolution): the forward, and the input adjoint, which is
/// the transposed convolution. About twice as fast as im2col + GEMM on these layers (the
/// DenseNets' 3×3s: 128 → 32 channels). The weights change at every step, so each use
/// transforms them first (a few hundredths of the convolution's work). The weight gradient
/// stays a GEMM (conv2d.c).
///
/// Off by default where the graph has an LRP block: its ε-rule divides by the forward's z,
/// and the fixtures' heatmap and gradient comparisons pin those to the direct convolution.

import CKernels
import GraphIR

/// One convolution's transformed weights, rewritten at each use.
final class WinogradLayer {
  /// For the forward (isn_winograd_weight_size floats).
  let forward: UnsafeMutablePointer<Float>
  /// For the input adjoint, and the flipped weights it is made from; nil when the
  /// transpose cannot run as Winograd.
  let transposed: (weights: UnsafeMutablePointer<Float>, flipped: UnsafeMutablePointer<Float>)?

  init(forwardFloats: Int, transposedFloats: Int?, weightFloats: Int) {
    forward = .allocate(capacity: forwardFloats)
    transposed = transposedFloats.map { (.allocate(capacity: $0), .allocate(capacity: weightFloats)) }
  }

  deinit {
    forward.deallocate()
    if let transposed {
      transposed.weights.deallocate()
      transposed.flipped.deallocate()
    }
  }

  /// The layers of `graph` that run as Winograd in training, by node index, and the
  /// workspace their kernels need with `batch` samples on `threads` threads.
  static func layers(of graph: Graph, batch: Int, threads: Int) -> (layers: [Int: WinogradLayer], workspaceFloats: Int) {
    var layers: [Int: WinogradLayer] = [:]
    var workspaceFloats = 0
    for (index, node) in graph.nodes.enumerated() {
      guard case .conv2d(let a) = node.op, let input = node.inputs.first else { continue }
      let inputDims = graph[input].type.dims
      guard var forward = WinogradConvolution.forward(a, input: inputDims, output: node.type.dims, batch: batch) else { continue }
      workspaceFloats = max(workspaceFloats, isn_winograd_workspace(&forward, Int32(threads)))
      var transposedFloats: Int?
      if var t = WinogradConvolution.transpose(a, inputDims: inputDims, outputDims: node.type.dims, batch: batch) {
        workspaceFloats = max(workspaceFloats, isn_winograd_workspace(&t, Int32(threads)))
        transposedFloats = isn_winograd_weight_size(&t)
      }
      layers[index] = WinogradLayer(
        forwardFloats: isn_winograd_weight_size(&forward), transposedFloats: transposedFloats,
        weightFloats: a.outChannels * inputDims[0] * 9)
    }
    return (layers, workspaceFloats)
  }
}

extension TrainingSession {
  /// How many convolutions run as Winograd in this session.
  public var winogradLayerCount: Int { winogradLayers.count }

  /// y = conv(x) by Winograd when node `id` is one of `winogradLayers`; false otherwise.
  func winogradForward(_ id: NodeID, _ a: Conv2DAttributes, x: UnsafePointer<Float>, inputDims: [Int], bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) -> Bool {
    let node = graph[id]
    guard let layer = winogradLayers[id.index],
      var g = WinogradConvolution.forward(a, input: inputDims, output: node.type.dims, batch: samples)
    else { return false }
    isn_winograd_weights(&g, parameter("\(node.name!).weight"), layer.forward)
    isn_winograd_conv2d(&g, x, inputDims.reduce(1, *), layer.forward, bias, 0, y, perSample(id), workspace.pointer, Int32(threads))
    return true
  }

  /// dx = convᵀ(g) (written, not added) by Winograd when node `id` is one of
  /// `winogradLayers` and its transpose runs as one; false otherwise.
  func winogradInputAdjoint(_ id: NodeID, _ a: Conv2DAttributes, g: UnsafePointer<Float>, inputDims: [Int], into dx: UnsafeMutablePointer<Float>) -> Bool {
    let node = graph[id]
    guard let transposed = winogradLayers[id.index]?.transposed,
      var t = WinogradConvolution.transpose(a, inputDims: inputDims, outputDims: node.type.dims, batch: samples)
    else { return false }
    WinogradConvolution.transposedWeights(&t, weight: parameter("\(node.name!).weight"), flipped: transposed.flipped, into: transposed.weights)
    isn_winograd_conv2d(&t, g, perSample(id), transposed.weights, nil, 0, dx, inputDims.reduce(1, *), workspace.pointer, Int32(threads))
    return true
  }
}
