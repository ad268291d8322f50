/// The operations a graph is made of: the single source of truth.
///
/// Every pass, printer, cost model and (later) kernel dispatch switches over `Op`
/// exhaustively, so adding a case breaks the build wherever it needs handling.
/// Attributes live in small structs; their fixed field order is the text form's order.
public enum Op: Sendable, Hashable {
  /// A graph input. Its type is declared by the node; `range` bounds its values
  /// (the Zᴮ rule of the LRP block needs them, paper section 4.4.3).
  case input(InputAttributes)
  case conv2d(Conv2DAttributes)
  case batchNorm(BatchNormAttributes)
  case relu
  /// An element-wise function of one tensor (Ops/Elementwise.swift: one row per function).
  case elementwise(ElementwiseFunction)
  /// A pooling of an image's windows (Ops/Pooling.swift: one member per pooling).
  case pool(Pooling)
  case linear(LinearAttributes)
  /// Flattens a per-sample [C, H, W] to [C·H·W].
  case flatten
  case dropout(DropoutAttributes)
  /// Concatenation along the channel axis.
  case concat
  /// Elementwise sum of inputs of one shape.
  case add
  /// Elementwise product x ⊙ g, g broadcast to x's shape (right-aligned; each of g's dims
  /// equal to x's or 1): an attention gate or a mask applied to features. In the LRP block
  /// g is a constant (relevance reaches x alone, as attention gates are treated).
  case mul
  /// Resampling of an image [C, H, W] by an integer scale (nearest or bilinear).
  case upsample(UpsampleAttributes)

  // The LRP block (LRPTransform.swift). Relevance tensors carry a class axis first:
  // [K, C, H, W] per sample, one slice per explained class. Ops that read a forward op's
  // parameters carry that op's name and read them by it (weights are shared, not copied).

  /// logits [K] → [K, K]: row k holds logit k at position k, zero elsewhere (each class's
  /// heatmap starts from its own logit, bias included). One per sample: → [1, K], the row
  /// of the class the run chooses for the sample (the LRP block then costs one relevance
  /// pass whatever K is).
  case lrpSeed(LRPSeedAttributes)
  /// (R [K, …], z […]) → R / (z + ε·sign(z)), sign(0) = +1, z broadcast over classes.
  case lrpEpsilonDivide(EpsilonAttributes)
  /// (a […], c [K, …]) → a ⊙ c, a broadcast over classes.
  case lrpMultiply
  /// [K, C, …] → each channel scaled by γ/σ of the named batch norm (σ from its running
  /// variance): the transpose of its linear part.
  case batchNormTranspose(BatchNormAttributes)
  /// [K, out, Ho, Wo] → [K, in, H, W]: the transposed convolution with the named
  /// convolution's weights (no bias).
  case conv2dTranspose(ConvTransposeAttributes)
  /// [K, out] → [K, in]: multiplication by the named linear layer's weights (no bias).
  case linearTranspose(LinearTransposeAttributes)
  /// [K, C, Ho, Wo] → [K, C, H, W]: the transpose of a pooling, as its LRP rule says
  /// (Ops/Pooling.swift). A winner-take-all one also reads the forward pool's output and
  /// routes each value to its window's arg-max, summing where windows share one.
  case poolTranspose(PoolTransposeAttributes)
  /// [K, C, …] → [K, count, …]: channels [start, start + count) (the transpose of concat).
  case sliceChannels(SliceAttributes)
  /// [K, F] → [K, dims…] (the transpose of flatten).
  case unflatten(UnflattenAttributes)
  /// x → the Zᴮ pre-activation of the named first convolution (and folded batch norm):
  /// conv(x, W', b') − conv(L, W'⁺, l·b'⁺) − conv(H, W'⁻, h·b'⁻), L and H images of l and h
  /// zero-padded like x (paper section 4.4.3).
  case zbPreactivation(ZBetaAttributes)
  /// (x, s [K, out, Ho, Wo]) → x ⊙ convᵀ(s, W') − l·convᵀ(s, W'⁺) − h·convᵀ(s, W'⁻).
  case zbRelevance(ZBetaAttributes)

  /// The op's one name, in the text form and (for the classifier's ops) the language. The
  /// text parser reads names back through `Op.readers` (Attributes.swift), which a test
  /// checks against this switch.
  public var name: String {
    switch self {
    case .input: "input"
    case .conv2d: "conv"
    case .batchNorm: "bn"
    case .relu: "relu"
    case .elementwise(let function): function.name
    case .pool(let pooling): pooling.name
    case .linear: "linear"
    case .flatten: "flatten"
    case .dropout: "dropout"
    case .concat: "concat"
    case .add: "add"
    case .mul: "mul"
    case .upsample(let a): a.mode.opName
    case .lrpSeed: "lrp_seed"
    case .lrpEpsilonDivide: "lrp_epsilon_divide"
    case .lrpMultiply: "lrp_multiply"
    case .batchNormTranspose: "batch_norm_transpose"
    case .conv2dTranspose: "conv2d_transpose"
    case .linearTranspose: "linear_transpose"
    case .poolTranspose(let a): a.forward.transposeName
    case .sliceChannels: "slice_channels"
    case .unflatten: "unflatten"
    case .zbPreactivation: "zb_preactivation"
    case .zbRelevance: "zb_relevance"
    }
  }

  /// Ops that only the LRP block uses (LRPTransform); the classifier's ops are the others.
  public var isLRPBlockOp: Bool {
    switch self {
    case .input, .conv2d, .batchNorm, .relu, .elementwise, .pool, .linear, .flatten, .dropout,
      .concat, .add, .mul, .upsample:
      false
    case .lrpSeed, .lrpEpsilonDivide, .lrpMultiply, .batchNormTranspose, .conv2dTranspose,
      .linearTranspose, .poolTranspose, .sliceChannels, .unflatten, .zbPreactivation, .zbRelevance:
      true
    }
  }

  /// How many inputs the op takes.
  public var arity: Arity {
    switch self {
    case .input: .exactly(0)
    case .conv2d, .batchNorm, .relu, .elementwise, .pool, .linear, .flatten, .dropout, .upsample, .lrpSeed,
      .batchNormTranspose, .conv2dTranspose, .linearTranspose, .sliceChannels, .unflatten,
      .zbPreactivation:
      .exactly(1)
    // A winner-take-all transpose reads the pooled output too.
    case .poolTranspose(let a): .exactly(a.forward.lrpRule == .winnerTakesAll ? 2 : 1)
    case .lrpEpsilonDivide, .lrpMultiply, .zbRelevance, .mul: .exactly(2)
    case .concat: .atLeast(1)
    case .add: .atLeast(2)
    }
  }
}

public enum Arity: Sendable, Hashable {
  case exactly(Int)
  case atLeast(Int)

  public func admits(_ count: Int) -> Bool {
    switch self {
    case .exactly(let n): count == n
    case .atLeast(let n): count >= n
    }
  }

  public var description: String {
    switch self {
    case .exactly(let n): n == 1 ? "1 input" : "\(n) inputs"
    case .atLeast(let n): "at least \(n) input\(n == 1 ? "" : "s")"
    }
  }
}

/// A (height, width) pair of a 2-D window, stride, padding or size.
public struct Pair: Sendable, Hashable, CustomStringConvertible {
  public var h: Int
  public var w: Int
  public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
  public init(square n: Int) { self.init(n, n) }
  public var description: String { "[\(h),\(w)]" }
}

public struct InputAttributes: Sendable, Hashable {
  public var low: Double
  public var high: Double
  public init(low: Double = 0, high: Double = 1) { self.low = low; self.high = high }
}

public struct Conv2DAttributes: Sendable, Hashable {
  public var outChannels: Int
  public var kernel: Pair
  public var stride: Pair
  public var padding: Pair
  public var dilation: Pair
  public var groups: Int
  public var hasBias: Bool
  /// Deployment fusions; none in a classifier as written.
  public var epilogue: Epilogue

  // The defaults, here only: the language's `conv` reads them (ModelLang's OpCatalog).
  public static let defaultStride = Pair(square: 1)
  public static let defaultPadding = Pair(square: 0)
  public static let defaultDilation = Pair(square: 1)
  public static let defaultGroups = 1
  public static let defaultHasBias = true

  public init(
    outChannels: Int, kernel: Pair, stride: Pair = defaultStride,
    padding: Pair = defaultPadding, dilation: Pair = defaultDilation, groups: Int = defaultGroups,
    hasBias: Bool = defaultHasBias, epilogue: Epilogue = Epilogue()
  ) {
    self.epilogue = epilogue
    self.outChannels = outChannels
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
    self.dilation = dilation
    self.groups = groups
    self.hasBias = hasBias
  }
}

public struct BatchNormAttributes: Sendable, Hashable {
  public var epsilon: Double
  public var momentum: Double
  /// A ReLU applied in the same pass (deployment only).
  public var fusedReLU: Bool
  // The defaults, here only (PyTorch's BatchNorm2d; the language's `bn` reads them).
  public static let defaultEpsilon = 1e-5
  public static let defaultMomentum = 0.1

  public init(epsilon: Double = defaultEpsilon, momentum: Double = defaultMomentum, fusedReLU: Bool = false) {
    self.epsilon = epsilon
    self.momentum = momentum
    self.fusedReLU = fusedReLU
  }
}

/// What the deployment pass fuses into a convolution or linear layer: a following batch
/// norm folded into its weights and bias (paper's "run-time-only pruned graph"), and a
/// following ReLU applied as it writes its output. Both absent in a graph as written.
public struct Epilogue: Sendable, Hashable {
  /// The batch norm whose parameters are folded into this op's: its name (which names its
  /// parameters) and its eps.
  public var foldedNorm: FoldedNorm?
  public var relu: Bool
  public init(foldedNorm: FoldedNorm? = nil, relu: Bool = false) {
    self.foldedNorm = foldedNorm
    self.relu = relu
  }
  public var isEmpty: Bool { foldedNorm == nil && !relu }
}

public struct FoldedNorm: Sendable, Hashable {
  public var name: String
  public var epsilon: Double
  public init(name: String, epsilon: Double) {
    self.name = name
    self.epsilon = epsilon
  }
}

public struct LinearAttributes: Sendable, Hashable {
  public var outFeatures: Int
  public var hasBias: Bool
  /// Deployment fusions; none in a classifier as written.
  public var epilogue: Epilogue
  public static let defaultHasBias = true
  public init(outFeatures: Int, hasBias: Bool = defaultHasBias, epilogue: Epilogue = Epilogue()) {
    self.outFeatures = outFeatures
    self.hasBias = hasBias
    self.epilogue = epilogue
  }
}

/// Which classes an LRP block explains.
public struct LRPSeedAttributes: Sendable, Hashable {
  /// false: every class, K maps per sample; true: one class per sample, set at run time
  /// (the sessions' `explainedClasses`), one map.
  public var onePerSample: Bool
  public init(onePerSample: Bool = false) { self.onePerSample = onePerSample }
}

public struct EpsilonAttributes: Sendable, Hashable {
  public var epsilon: Double
  public init(epsilon: Double) { self.epsilon = epsilon }
}

/// A transposed convolution: the forward convolution's attributes and input shape.
public struct ConvTransposeAttributes: Sendable, Hashable {
  public var forward: Conv2DAttributes
  /// The forward convolution's input [C, H, W]: the transposed output's shape.
  public var inputDims: [Int]
  public init(forward: Conv2DAttributes, inputDims: [Int]) {
    self.forward = forward
    self.inputDims = inputDims
  }
}

public struct LinearTransposeAttributes: Sendable, Hashable {
  public var inFeatures: Int
  public var outFeatures: Int
  public init(inFeatures: Int, outFeatures: Int) {
    self.inFeatures = inFeatures
    self.outFeatures = outFeatures
  }
}

public struct SliceAttributes: Sendable, Hashable {
  public var start: Int
  public var count: Int
  public init(start: Int, count: Int) {
    self.start = start
    self.count = count
  }
}

public struct UnflattenAttributes: Sendable, Hashable {
  public var dims: [Int]
  public init(dims: [Int]) { self.dims = dims }
}

/// The Zᴮ rule's first layer: a convolution (its batch norm, if any, in `conv.epilogue`),
/// its input shape, and the input's value bounds.
public struct ZBetaAttributes: Sendable, Hashable {
  public var conv: Conv2DAttributes
  public var inputDims: [Int]
  public var low: Double
  public var high: Double
  public init(conv: Conv2DAttributes, inputDims: [Int], low: Double, high: Double) {
    self.conv = conv
    self.inputDims = inputDims
    self.low = low
    self.high = high
  }
}

public struct DropoutAttributes: Sendable, Hashable {
  public var probability: Double
  public static let defaultProbability = 0.5
  public init(probability: Double = defaultProbability) { self.probability = probability }
}

/// Resampling by an integer scale factor per axis: output [C, H·sh, W·sw].
public struct UpsampleAttributes: Sendable, Hashable {
  public enum Mode: String, Sendable, Hashable, CaseIterable {
    /// Each output takes its source pixel's value.
    case nearest
    /// Bilinear interpolation between the four nearest input pixels, pixel centres aligned
    /// (PyTorch's `align_corners=False`, ONNX's `half_pixel`), edges clamped.
    case bilinear

    /// The op's one name, in the language and the text form.
    public var opName: String { "upsample_\(rawValue)" }
  }

  public var scale: Pair
  public var mode: Mode
  public init(scale: Pair, mode: Mode) {
    self.scale = scale
    self.mode = mode
  }
}
