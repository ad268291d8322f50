/// A training step's 3×3 stride-1 convolutions by Winograd F(4×4, 3×3), as the inference
/// session runs them (WinogradConvolution): a classifier convolution's forward and input
/// adjoint (a transposed convolution), and the LRP block's relevance pass through one (a
/// transposed convolution) and that pass's adjoint (a forward convolution). About twice as
/// fast as im2col + GEMM on the DenseNets' 3×3s (128 → 32 channels). The weights change
/// at every step, so each use transforms them first (about a tenth of the convolution's
/// time at 224² batch 10). Weight gradients stay GEMMs (conv2d.c).
///
/// By default the classifier's convolutions run directly where the graph has an LRP block:
/// its ε-rule divides by their outputs, and the inference session's heatmaps, which the
/// fixtures pin, compute those directly too.

import CKernels
import GraphIR

/// Which convolutions of a training session run as Winograd, and one scratch for the
/// transformed weights of whichever is running (each use transforms them first, so no
/// layer needs its own).
final class TrainingWinograd {
  /// Node indices: convolutions whose forward runs as Winograd (a classifier convolution's
  /// forward, an LRP transposed convolution's adjoint)...
  let forwardLayers: Set<Int>
  /// ... and those whose transpose does (the input adjoint; the relevance pass).
  let transposedLayers: Set<Int>
  /// Floats the kernels' workspace needs for these layers.
  let workspaceFloats: Int
  let forwardWeights: UnsafeMutablePointer<Float>
  let transposedWeights: UnsafeMutablePointer<Float>
  let flippedWeights: UnsafeMutablePointer<Float>

  /// The convolutions of `graph` that run as Winograd with `batch` samples on `threads`
  /// threads: the classifier's (`classifier`) and the LRP block's transposed ones
  /// (`lrpBlock`).
  init(graph: Graph, batch: Int, threads: Int, classifier: Bool, lrpBlock: Bool) {
    var forwardLayers: Set<Int> = [], transposedLayers: Set<Int> = []
    var workspaceFloats = 0, forwardFloats = 0, transposedFloats = 0, weightFloats = 0
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
      forwardLayers.insert(index)
      workspaceFloats = max(workspaceFloats, isn_winograd_workspace(&forward, Int32(threads)))
      forwardFloats = max(forwardFloats, isn_winograd_weight_size(&forward))
      if var t = WinogradConvolution.transpose(a, inputDims: inputDims, outputDims: outputDims, batch: rows) {
        transposedLayers.insert(index)
        workspaceFloats = max(workspaceFloats, isn_winograd_workspace(&t, Int32(threads)))
        transposedFloats = max(transposedFloats, isn_winograd_weight_size(&t))
        weightFloats = max(weightFloats, a.outChannels * inputDims[0] * 9)
      }
    }
    self.forwardLayers = forwardLayers
    self.transposedLayers = transposedLayers
    self.workspaceFloats = workspaceFloats
    forwardWeights = .allocate(capacity: max(forwardFloats, 1))
    transposedWeights = .allocate(capacity: max(transposedFloats, 1))
    flippedWeights = .allocate(capacity: max(weightFloats, 1))
  }

  deinit {
    forwardWeights.deallocate()
    transposedWeights.deallocate()
    flippedWeights.deallocate()
  }
}

extension TrainingSession {
  /// How many convolutions run as Winograd in this session.
  public var winogradLayerCount: Int { winograd.forwardLayers.count }

  /// y = conv(x) over `rows` rows by Winograd, with node `id`'s weight (forward convolution
  /// `a` from `inputDims` to `outputDims`), when `id` runs as one (`winograd`); false
  /// otherwise. A classifier convolution's forward; an LRP transposed convolution's adjoint.
  func winogradConvolution(
    _ id: NodeID, _ a: Conv2DAttributes, inputDims: [Int], outputDims: [Int], rows: Int,
    x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
  ) -> Bool {
    guard winograd.forwardLayers.contains(id.index), var g = WinogradConvolution.forward(a, input: inputDims, output: outputDims, batch: rows)
    else { return false }
    isn_winograd_weights(&g, parameter("\(graph[id].name!).weight"), winograd.forwardWeights)
    isn_winograd_conv2d(&g, x, inputDims.reduce(1, *), winograd.forwardWeights, bias, 0, y, outputDims.reduce(1, *), workspace.pointer, Int32(threads))
    return true
  }

  /// dx = convᵀ(g) over `rows` rows (written, not added) by Winograd, with node `id`'s
  /// weight (forward convolution `a` from `inputDims` to `outputDims`), when `id`'s
  /// transpose runs as one (`winograd`); false otherwise. A classifier
  /// convolution's input adjoint; an LRP transposed convolution's forward.
  func winogradTransposedConvolution(
    _ id: NodeID, _ a: Conv2DAttributes, inputDims: [Int], outputDims: [Int], rows: Int,
    g: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>
  ) -> Bool {
    guard winograd.transposedLayers.contains(id.index),
      var t = WinogradConvolution.transpose(a, inputDims: inputDims, outputDims: outputDims, batch: rows)
    else { return false }
    WinogradConvolution.transposedWeights(&t, weight: parameter("\(graph[id].name!).weight"), flipped: winograd.flippedWeights, into: winograd.transposedWeights)
    isn_winograd_conv2d(&t, g, outputDims.reduce(1, *), winograd.transposedWeights, nil, 0, dx, inputDims.reduce(1, *), workspace.pointer, Int32(threads))
    return true
  }
}
