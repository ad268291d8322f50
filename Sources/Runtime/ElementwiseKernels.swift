/// The C kernel of each element-wise function (GraphIR's Ops/Elementwise.swift):
/// `isn_elementwise` runs the forward, `isn_elementwise_backward` the derivative.

import CKernels
import GraphIR

extension ElementwiseFunction {
  var kernel: isn_elementwise_function {
    switch self {
    case .sigmoid: ISN_ELEMENTWISE_SIGMOID
    case .step: ISN_ELEMENTWISE_STEP
    }
  }
}
