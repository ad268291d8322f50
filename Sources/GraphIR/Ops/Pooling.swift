/// Pooling: ops that reduce each channel's windows of an image [C, H, W] to one value each.
/// A member's whole description is here, so that every pass treats the family as one
/// (docs/adding-an-op.md):
///
/// - its one name, in the language and the text form, its transpose's name (LRP block);
/// - its attributes, their defaults, validation and shape inference;
/// - its LRP rule (`lrpRule`): max pooling with its arg-max fixed is a selection, and the
///   transpose routes each value to its window's winner (winner-take-all, paper section
///   4.4.1); average pooling is an ε-layer, its transpose the depthwise convolution with
///   weights 1/window (`asConvolution`);
/// - what its adjoint needs: one differentiable operand, no parameters, a region op of the
///   LRP view; a winner-take-all member keeps its arg-max for the backward pass;
/// - its ONNX operator (`onnx`) and torch calls (`torchCall`, `torchTransposeCall`); the
///   kernels are Runtime's `PoolingKernels.swift`.

public enum Pooling: Sendable, Hashable {
  // Add a member here, then follow docs/adding-an-op.md.
  case max(Pool2DAttributes)
  /// Zero padding counts in the divisor (PyTorch's default).
  case average(Pool2DAttributes)
  case adaptiveAverage(AdaptivePoolAttributes)

  /// How relevance crosses the op (LRPTransform).
  public enum LRPRule: Sendable {
    /// Plumbing: the transpose routes each value to its window's arg-max, summing where
    /// windows share one; it reads the pooled output (which locates the arg-max).
    case winnerTakesAll
    /// An ε-layer: one LRP step, the transpose of its linear map.
    case epsilonLayer
  }

  /// Every member, each with attributes of its form: the language's catalog and the text
  /// parser read this list (a test prints and parses every member).
  public static let members: [Pooling] = [
    .max(Pool2DAttributes(kernel: Pair(square: 1))),
    .average(Pool2DAttributes(kernel: Pair(square: 1))),
    .adaptiveAverage(AdaptivePoolAttributes(outputSize: Pair(square: 1))),
  ]

  /// The op's one name, in the language and the text form.
  public var name: String {
    switch self {
    case .max: "maxpool"
    case .average: "avgpool"
    case .adaptiveAverage: "adaptive_avgpool"
    }
  }

  /// The name of its transpose (an LRP block op).
  public var transposeName: String {
    switch self {
    case .max: "max_unpool2d"
    case .average: "avg_pool2d_transpose"
    case .adaptiveAverage: "adaptive_avg_pool2d_transpose"
    }
  }

  /// What it computes, in a few words (the language reference's op table).
  public var summary: String {
    switch self {
    case .max: "maximum over each window"
    case .average: "average over each window, padding included"
    case .adaptiveAverage: "average pooling to a fixed output size"
    }
  }

  public var lrpRule: LRPRule {
    switch self {
    case .max: .winnerTakesAll
    case .average, .adaptiveAverage: .epsilonLayer
    }
  }

  /// Whether the forward records each window's arg-max (for the backward pass and the
  /// winner-take-all transpose).
  public var recordsArgmax: Bool { lrpRule == .winnerTakesAll }

  // MARK: Attributes

  /// Its attributes: a sliding window or an output size.
  public var window: PoolingWindow {
    switch self {
    case .max(let a), .average(let a): .sliding(a)
    case .adaptiveAverage(let a): .outputSize(a)
    }
  }

  /// The same member with other attributes of its form; nil for another form.
  public func with(_ window: PoolingWindow) -> Pooling? {
    switch (self, window) {
    case (.max, .sliding(let a)): .max(a)
    case (.average, .sliding(let a)): .average(a)
    case (.adaptiveAverage, .outputSize(let a)): .adaptiveAverage(a)
    case (.max, _), (.average, _), (.adaptiveAverage, _): nil
    }
  }

  /// The text form's attributes, in their fixed order.
  var attributes: [Attribute] {
    switch window {
    case .sliding(let a): [("kernel", .pair(a.kernel)), ("stride", .pair(a.stride)), ("pad", .pair(a.padding))]
    case .outputSize(let a): [("out", .pair(a.outputSize))]
    }
  }

  /// Reads the member named `name` (the forward op, or with `transpose` its transpose).
  static func read(_ name: String, transpose: Bool, _ r: inout AttributeReader) throws(AttributeError) -> Pooling? {
    guard let member = members.first(where: { (transpose ? $0.transposeName : $0.name) == name }) else { return nil }
    let window: PoolingWindow = switch member.window {
    case .sliding: .sliding(Pool2DAttributes(kernel: try r.pair("kernel"), stride: try r.pair("stride"), padding: try r.pair("pad")))
    case .outputSize: .outputSize(AdaptivePoolAttributes(outputSize: try r.pair("out")))
    }
    return member.with(window)
  }

  // MARK: Shapes

  func validate() throws(ShapeError) {
    switch window {
    case .sliding(let a):
      try Op.positive(a.kernel, "kernel", name)
      try Op.positive(a.stride, "stride", name)
      try Op.nonNegative(a.padding, "padding", name)
    case .outputSize(let a):
      try Op.positive(a.outputSize, "output size", name)
    }
  }

  /// The output of pooling an image [C, H, W] (`validate` first).
  public func outputDims(_ input: TensorType) throws(ShapeError) -> [Int] {
    let (c, h, w) = try Op.image(input, name)
    switch window {
    case .sliding(let a):
      guard a.padding.h * 2 <= a.kernel.h, a.padding.w * 2 <= a.kernel.w else {
        throw ShapeError("\(name) padding \(a.padding) must be at most half the kernel \(a.kernel)")
      }
      let (ho, wo) = try Op.window(h: h, w: w, kernel: a.kernel, stride: a.stride, padding: a.padding, dilation: Pair(square: 1), name)
      return [c, ho, wo]
    case .outputSize(let a):
      guard a.outputSize.h <= h, a.outputSize.w <= w else {
        throw ShapeError("\(name) output \(a.outputSize) is larger than its input [\(h),\(w)]")
      }
      return [c, a.outputSize.h, a.outputSize.w]
    }
  }

  /// Multiply-accumulates per sample of the forward, from its output's and input's element
  /// counts (the cost model, Cost.swift).
  func multiplyAccumulates(output: Int, input: Int, times: ([Int]) -> Int) -> Int {
    switch self {
    case .max: 0
    case .average(let a): times([output, a.kernel.h, a.kernel.w])
    case .adaptiveAverage: input
    }
  }

  /// Multiply-accumulates per sample of the transpose, from the element counts of the
  /// relevance it reads and of its output.
  func transposeMultiplyAccumulates(relevance: Int, output: Int, times: ([Int]) -> Int) -> Int {
    switch self {
    case .max: 0
    case .average(let a): times([relevance, a.kernel.h, a.kernel.w])
    case .adaptiveAverage: output
    }
  }

  // MARK: LRP

  /// An ε-layer member as the depthwise convolution it is (weights 1/(kh·kw)) over an input
  /// [C, H, W]: what its transpose computes. Adaptive pooling only with evenly dividing
  /// windows (kernel = stride = input / output); nil otherwise, and for max pooling.
  public func asConvolution(inputDims: [Int]) -> Conv2DAttributes? {
    let c = inputDims[0]
    switch self {
    case .max:
      return nil
    case .average(let a):
      return Conv2DAttributes(outChannels: c, kernel: a.kernel, stride: a.stride, padding: a.padding, groups: c, hasBias: false)
    case .adaptiveAverage(let a):
      guard inputDims[1] % a.outputSize.h == 0, inputDims[2] % a.outputSize.w == 0 else { return nil }
      let kernel = Pair(inputDims[1] / a.outputSize.h, inputDims[2] / a.outputSize.w)
      return Conv2DAttributes(outChannels: c, kernel: kernel, stride: kernel, groups: c, hasBias: false)
    }
  }

  // MARK: Export

  /// The ONNX operator (default domain, opset 17) computing the same pooling of an input
  /// [C, H, W], with its attributes; a failure, with the reason, when none does.
  public func onnx(inputDims: [Int]) -> Result<PoolingONNXForm, PoolingInexpressible> {
    switch self {
    case .max(let a):
      return .success(PoolingONNXForm(operator: "MaxPool", window: a))
    case .average(let a):
      var form = PoolingONNXForm(operator: "AveragePool", window: a)
      form.countIncludePad = 1
      return .success(form)
    case .adaptiveAverage(let a):
      if a.outputSize == Pair(square: 1) { return .success(PoolingONNXForm(operator: "GlobalAveragePool")) }
      guard let conv = asConvolution(inputDims: inputDims) else {
        return .failure(PoolingInexpressible(
          reason: "its windows differ in size (input [\(inputDims[1]),\(inputDims[2])] → output \(a.outputSize)); ONNX pools have one window shape"))
      }
      return .success(PoolingONNXForm(operator: "AveragePool", kernel: [conv.kernel.h, conv.kernel.w], strides: [conv.stride.h, conv.stride.w]))
    }
  }
}

extension Pooling {
  /// The torch call computing the same pooling of `x`; a winner-take-all member also
  /// returns its arg-max with `returnIndices`.
  public func torchCall(_ x: String, returnIndices: Bool = false) -> String {
    func tuple(_ p: Pair) -> String { "(\(p.h), \(p.w))" }
    return switch self {
    case .max(let a):
      "F.max_pool2d(\(x), \(tuple(a.kernel)), \(tuple(a.stride)), \(tuple(a.padding))\(returnIndices ? ", return_indices=True" : ""))"
    case .average(let a):
      "F.avg_pool2d(\(x), \(tuple(a.kernel)), \(tuple(a.stride)), \(tuple(a.padding)), count_include_pad=True)"
    case .adaptiveAverage(let a):
      "F.adaptive_avg_pool2d(\(x), \(tuple(a.outputSize)))"
    }
  }

  /// The call (the package's ops.py) of its transpose on relevance `r` [N, K, C, Ho, Wo],
  /// to [N, K, C, H, W]: `indices` names the forward's arg-max (winner-take-all),
  /// `convolutionTranspose` writes a transposed convolution's arguments.
  public func torchTransposeCall(_ r: String, indices: String?, inputDims: [Int], convolutionTranspose: (Conv2DAttributes) -> String) -> String {
    switch self {
    case .max:
      return "O.max_unpool(\(r), \(indices ?? "None"), (\(inputDims[1]), \(inputDims[2])))"
    case .average:
      let conv = asConvolution(inputDims: inputDims)!
      return "O.avg_pool_transpose(\(r), (\(conv.kernel.h), \(conv.kernel.w)), \(convolutionTranspose(conv)))"
    case .adaptiveAverage:
      return "O.adaptive_avg_pool_transpose(\(r), (\(inputDims[1]), \(inputDims[2])))"
    }
  }

  /// Why torch cannot compute the same pooling, or nil.
  public var torchRefusal: String? {
    switch self {
    case .max(let p), .average(let p):
      guard 2 * p.padding.h <= p.kernel.h, 2 * p.padding.w <= p.kernel.w else {
        return "its padding \(p.padding) exceeds half its window \(p.kernel), which torch's pools refuse"
      }
      return nil
    case .adaptiveAverage:
      return nil
    }
  }
}

/// An ONNX pooling node: its operator and the attributes it sets, in this order.
public struct PoolingONNXForm: Sendable, Hashable {
  public var `operator`: String
  public var kernel: [Int]?
  public var strides: [Int]?
  /// [top, left, bottom, right].
  public var pads: [Int]?
  public var countIncludePad: Int?

  init(operator: String, kernel: [Int]? = nil, strides: [Int]? = nil, pads: [Int]? = nil) {
    self.operator = `operator`
    self.kernel = kernel
    self.strides = strides
    self.pads = pads
  }

  init(operator: String, window a: Pool2DAttributes) {
    self.init(
      operator: `operator`, kernel: [a.kernel.h, a.kernel.w], strides: [a.stride.h, a.stride.w],
      pads: [a.padding.h, a.padding.w, a.padding.h, a.padding.w])
  }
}

public struct PoolingInexpressible: Error, Sendable, Hashable {
  public var reason: String
}

/// A pooling's attributes, in one of two forms.
public enum PoolingWindow: Sendable, Hashable {
  /// A window sliding over the input (max and average pooling).
  case sliding(Pool2DAttributes)
  /// An output size, each output averaging its share of the input (adaptive pooling).
  case outputSize(AdaptivePoolAttributes)
}

public struct Pool2DAttributes: Sendable, Hashable {
  public var kernel: Pair
  public var stride: Pair
  public var padding: Pair
  /// The stride defaults to the kernel.
  public static let defaultPadding = Pair(square: 0)
  public init(kernel: Pair, stride: Pair? = nil, padding: Pair = defaultPadding) {
    self.kernel = kernel
    self.stride = stride ?? kernel
    self.padding = padding
  }
}

public struct AdaptivePoolAttributes: Sendable, Hashable {
  public var outputSize: Pair
  public init(outputSize: Pair) { self.outputSize = outputSize }
}

/// The transpose of a pooling (LRP block): relevance [K, C, Ho, Wo] → [K, C, H, W], with
/// the forward pool and its input [C, H, W].
public struct PoolTransposeAttributes: Sendable, Hashable {
  public var forward: Pooling
  public var inputDims: [Int]
  public init(forward: Pooling, inputDims: [Int]) {
    self.forward = forward
    self.inputDims = inputDims
  }
}
