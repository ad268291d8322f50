/// A training step's 3×3 stride-1 convolutions by Winograd F(4×4, 3×3), as the inference
/// session runs them (WinogradConvolution): a classifier convolution's forward and input
/// adjoint (a transposed convolution), and the LRP block's relevance pass through one (a
/// transposed convolution) and that pass's adjoint (a forward convolution). About twice as
/// fast as im2col + GEMM on the DenseNets' 3×3s (128 → 32 channels). The weights change
/// at every step, so each use transforms them first (a few hundredths of the convolution's
/// work). Weight gradients stay GEMMs (conv2d.c).
///
/// By default the classifier's convolutions run directly where the graph has an LRP block:
/// its ε-rule divides by their outputs, and the inference session's heatmaps, which the
/// fixtures pin, compute those directly too.

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

  /// The convolutions of `graph` that run as Winograd in training, by node index, and the
  /// workspace their kernels need with `batch` samples on `threads` threads: the
  /// classifier's (`classifier`) and the LRP block's transposed ones (`lrpBlock`).
  static func layers(of graph: Graph, batch: Int, threads: Int, classifier: Bool, lrpBlock: Bool) -> (layers: [Int: WinogradLayer], workspaceFloats: Int) {
    var layers: [Int: WinogradLayer] = [:]
    var workspaceFloats = 0
    for (index, node) in graph.nodes.enumerated() {
      guard let input = node.inputs.first else { continue }
      let convolution: (a: Conv2DAttributes, inputDims: [Int], outputDims: [Int], rows: Int)
      switch node.op {
      case .conv2d(let a) where classifier:
        convolution = (a, graph[input].type.dims, node.type.dims, batch)
      case .conv2dTranspose(let a) where lrpBlock:
        convolution = (a.forward, a.inputDims, Array(graph[input].type.dims.dropFirst()), batch * node.type.dims[0])
      default:
        continue
      }
      let (a, inputDims, outputDims, rows) = convolution
      guard var forward = WinogradConvolution.forward(a, input: inputDims, output: outputDims, batch: rows) else { continue }
      workspaceFloats = max(workspaceFloats, isn_winograd_workspace(&forward, Int32(threads)))
      var transposedFloats: Int?
      if var t = WinogradConvolution.transpose(a, inputDims: inputDims, outputDims: outputDims, batch: rows) {
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

  /// y = conv(x) over `rows` rows by Winograd, with node `id`'s weight (forward convolution
  /// `a` from `inputDims` to `outputDims`), when `id` is one of `winogradLayers`; false
  /// otherwise. A classifier convolution's forward; an LRP transposed convolution's adjoint.
  func winogradConvolution(
    _ id: NodeID, _ a: Conv2DAttributes, inputDims: [Int], outputDims: [Int], rows: Int,
    x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
  ) -> Bool {
    guard let layer = winogradLayers[id.index], var g = WinogradConvolution.forward(a, input: inputDims, output: outputDims, batch: rows)
    else { return false }
    isn_winograd_weights(&g, parameter("\(graph[id].name!).weight"), layer.forward)
    isn_winograd_conv2d(&g, x, inputDims.reduce(1, *), layer.forward, bias, 0, y, outputDims.reduce(1, *), workspace.pointer, Int32(threads))
    return true
  }

  /// dx = convᵀ(g) over `rows` rows (written, not added) by Winograd, with node `id`'s
  /// weight (forward convolution `a` from `inputDims` to `outputDims`), when `id` is one of
  /// `winogradLayers` and its transpose runs as one; false otherwise. A classifier
  /// convolution's input adjoint; an LRP transposed convolution's forward.
  func winogradTransposedConvolution(
    _ id: NodeID, _ a: Conv2DAttributes, inputDims: [Int], outputDims: [Int], rows: Int,
    g: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>
  ) -> Bool {
    guard let transposed = winogradLayers[id.index]?.transposed,
      var t = WinogradConvolution.transpose(a, inputDims: inputDims, outputDims: outputDims, batch: rows)
    else { return false }
    WinogradConvolution.transposedWeights(&t, weight: parameter("\(graph[id].name!).weight"), flipped: transposed.flipped, into: transposed.weights)
    isn_winograd_conv2d(&t, g, outputDims.reduce(1, *), transposed.weights, nil, 0, dx, inputDims.reduce(1, *), workspace.pointer, Int32(threads))
    return true
  }
}
