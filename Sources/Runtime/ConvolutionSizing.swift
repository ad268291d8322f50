/// The convolutions the runtime runs, from a node's attributes and its neighbours' shapes:
/// one definition of their geometry for the inference and training sessions (workspace
/// sizing before a run, kernel calls during one).

import CKernels
import GraphIR

enum ConvolutionSizing {
  /// The kernels' description of convolution `a` from `input` [C, H, W] to `output`
  /// [C', H', W'] over `batch` rows.
  static func geometry(_ a: Conv2DAttributes, input: [Int], output: [Int], batch: Int) -> isn_conv_geometry {
    isn_conv_geometry(
      batch: Int32(batch), in_channels: Int32(input[0]), in_h: Int32(input[1]), in_w: Int32(input[2]),
      out_channels: Int32(output[0]), out_h: Int32(output[1]), out_w: Int32(output[2]),
      kernel_h: Int32(a.kernel.h), kernel_w: Int32(a.kernel.w), stride_h: Int32(a.stride.h),
      stride_w: Int32(a.stride.w), pad_h: Int32(a.padding.h), pad_w: Int32(a.padding.w),
      dilation_h: Int32(a.dilation.h), dilation_w: Int32(a.dilation.w), groups: Int32(a.groups))
  }

  /// The convolution node `node` runs (forwards or, for the LRP block's transposes and the
  /// Zᴮ rule, the forward convolution it transposes) with `batch` samples, each class of a
  /// relevance tensor one row; nil for nodes that run none.
  static func convolution(of node: Node, in graph: Graph, batch: Int) -> (attributes: Conv2DAttributes, geometry: isn_conv_geometry)? {
    /// A relevance input's per-class shape.
    func perClass(_ input: NodeID) -> [Int] { Array(graph[input].type.dims.dropFirst()) }
    let classes = node.type.dims.first ?? 1
    switch node.op {
    case .conv2d(let a):
      return (a, geometry(a, input: graph[node.inputs[0]].type.dims, output: node.type.dims, batch: batch))
    case .conv2dTranspose(let a):
      return (a.forward, geometry(a.forward, input: a.inputDims, output: perClass(node.inputs[0]), batch: batch * classes))
    case .zbPreactivation(let a):
      return (a.conv, geometry(a.conv, input: a.inputDims, output: node.type.dims, batch: batch))
    case .zbRelevance(let a):
      return (a.conv, geometry(a.conv, input: a.inputDims, output: perClass(node.inputs[1]), batch: batch * classes))
    default:
      return nil
    }
  }
}
