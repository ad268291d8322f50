/// Element-wise functions of one tensor: ops with no attributes and no parameters whose
/// output has the input's shape, each element a function of the input element at the same
/// place. A function's whole description is its row in this file; every pass treats the
/// family as one (docs/adding-an-op.md):
///
/// - language and text form: the op is written `name(x)` in both;
/// - shape inference: the input's shape, any rank; cost: no multiply-accumulates;
/// - LRP (paper section 4.1, eq. 2): an activation point, like ReLU. Relevance reaching the
///   function's output passes unchanged to its input z, and the ε-rule takes
///   s = R / (z + ε·sign(z)) there: the nonlinearity itself has no rule of its own;
/// - reverse mode: one differentiable operand, dx += f′ · dy, with f′ computed from the
///   input or the output as `derivativeFrom` says (the training memory plan keeps that one);
/// - kernels: `ElementwiseKernels.swift` (Runtime) names the C function code; the forward and
///   the derivative are one `case` each in `elementwise_functions.c`;
/// - export: the standard ONNX operators computing the same function (`onnxOperators`, in
///   turn) and the torch function (`torchFunction`).

public enum ElementwiseFunction: Sendable, Hashable, CaseIterable {
  // Add a function here, then follow docs/adding-an-op.md.
  case sigmoid
  /// The Heaviside step, 1 where x > 0: a threshold (a pipeline's binary mask).
  case step
}

extension ElementwiseFunction {
  /// Everything GraphIR and the language know of the function.
  public var description: ElementwiseDescription {
    switch self {
    case .sigmoid:
      // σ′ = σ·(1 − σ): from the output.
      ElementwiseDescription(name: "sigmoid", formula: "1 / (1 + exp(−x))", derivativeFrom: .output, onnxOperators: ["Sigmoid"], torchFunction: "torch.sigmoid")
    case .step:
      // Flat where defined: f′ = 0. ONNX has no step; Relu(Sign(x)) is one for x > 0 and
      // zero elsewhere, x = 0 included, as here.
      ElementwiseDescription(name: "step", formula: "1 where x > 0, else 0", derivativeFrom: .input, onnxOperators: ["Sign", "Relu"], torchFunction: "O.step")
    }
  }

  /// The op's name in the language and in the text form.
  public var name: String { description.name }

  /// The function named `name`, if any.
  public init?(named name: String) {
    guard let function = Self.allCases.first(where: { $0.name == name }) else { return nil }
    self = function
  }
}

public struct ElementwiseDescription: Sendable {
  /// The value the derivative is a function of.
  public enum DerivativeInput: Sendable { case input, output }

  /// The op's name in the language and in the text form (one name).
  public var name: String
  /// y as a function of x, for the reference (`docs/language.md`).
  public var formula: String
  public var derivativeFrom: DerivativeInput
  /// The ONNX operators (default domain, opset 17), applied in turn, that compute the same
  /// function.
  public var onnxOperators: [String]
  /// The torch function computing it (`isnetc export --format pytorch`).
  public var torchFunction: String

  public init(name: String, formula: String, derivativeFrom: DerivativeInput, onnxOperators: [String], torchFunction: String) {
    self.name = name
    self.formula = formula
    self.derivativeFrom = derivativeFrom
    self.onnxOperators = onnxOperators
    self.torchFunction = torchFunction
  }
}
