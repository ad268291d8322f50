/// Shape inference: the output type of every op from its input types, with the checks
/// that make a graph well-formed (positive sizes, matching channels, non-empty windows).

public struct ShapeError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Largest size any one dimension may have; keeps element counts far from overflow.
public let maximumDimension = 1 << 24

extension Op {
  /// The type of the op's output given its inputs' types. Input nodes declare their type
  /// and are not inferred.
  public func inferType(_ inputs: [TensorType]) throws(ShapeError) -> TensorType {
    let opName = name
    guard arity.admits(inputs.count) else {
      throw ShapeError("\(opName) takes \(arity.description), got \(inputs.count)")
    }
    try validateAttributes()
    switch self {
    case .input:
      throw ShapeError("an input declares its type; it is not inferred")
    case .conv2d(let a):
      let (c, h, w) = try Self.image(inputs[0], opName)
      guard c % a.groups == 0, a.outChannels % a.groups == 0 else {
        throw ShapeError(
          "\(opName) groups (\(a.groups)) must divide input channels (\(c)) and output channels (\(a.outChannels))"
        )
      }
      let (ho, wo) = try Self.window(
        h: h, w: w, kernel: a.kernel, stride: a.stride, padding: a.padding, dilation: a.dilation,
        opName)
      return TensorType(dims: [a.outChannels, ho, wo])
    case .batchNorm:
      _ = try Self.channels(inputs[0], opName)
      return inputs[0]
    case .relu, .elementwise, .dropout:
      return inputs[0]
    case .pool(let pooling):
      return TensorType(dims: try pooling.outputDims(inputs[0]))
    case .linear(let a):
      let input = inputs[0]
      guard input.rank == 1 else {
        throw ShapeError(
          "linear needs a flat input [features], got \(shapeText(input.dims)); flatten it first")
      }
      return TensorType(dims: [a.outFeatures])
    case .flatten:
      guard let count = inputs[0].elementCount, inputs[0].rank >= 1 else {
        throw ShapeError("flatten input \(shapeText(inputs[0].dims)) is too large")
      }
      return TensorType(dims: [count])
    case .concat:
      let first = inputs[0]
      var channels = 0
      for (i, t) in inputs.enumerated() {
        _ = try Self.channels(t, opName)
        guard t.rank == first.rank, t.dims.dropFirst() == first.dims.dropFirst() else {
          throw ShapeError(
            "concat inputs differ in size: input 1 is \(shapeText(first.dims)), input \(i + 1) is \(shapeText(t.dims)) (only channels may differ)"
          )
        }
        channels += t.dims[0]
      }
      guard channels <= maximumDimension else {
        throw ShapeError("concat has \(channels) channels, more than \(maximumDimension)")
      }
      return TensorType(dims: [channels] + first.dims.dropFirst())
    case .add:
      for (i, t) in inputs.enumerated() where t.dims != inputs[0].dims {
        throw ShapeError(
          "add inputs differ in shape: input 1 is \(shapeText(inputs[0].dims)), input \(i + 1) is \(shapeText(t.dims))"
        )
      }
      return inputs[0]
    case .mul:
      // Rank 4 at most: an image, or an image's relevance in the LRP block.
      guard inputs[0].rank <= 4 else { throw ShapeError("mul takes tensors of rank 4 at most, got \(shapeText(inputs[0].dims))") }
      guard Self.broadcasts(inputs[1].dims, to: inputs[0].dims) else {
        throw ShapeError(
          "mul's second input \(shapeText(inputs[1].dims)) does not broadcast to its first \(shapeText(inputs[0].dims)) (each of its last dims must equal the first's or be 1)"
        )
      }
      return inputs[0]
    case .upsample(let a):
      let (c, h, w) = try Self.image(inputs[0], opName)
      guard h * a.scale.h <= maximumDimension, w * a.scale.w <= maximumDimension else {
        throw ShapeError("\(opName) output [\(h * a.scale.h),\(w * a.scale.w)] is larger than \(maximumDimension)")
      }
      return TensorType(dims: [c, h * a.scale.h, w * a.scale.w])
    case .lrpSeed(let a):
      guard inputs[0].rank == 1 else { throw ShapeError("lrp_seed needs logits [K], got \(shapeText(inputs[0].dims))") }
      return TensorType(dims: [a.onePerSample ? 1 : inputs[0].dims[0], inputs[0].dims[0]])
    case .lrpEpsilonDivide, .lrpMultiply:
      // Relevance first for the division, activation first for the product.
      let (relevance, value) = self == .lrpMultiply ? (inputs[1], inputs[0]) : (inputs[0], inputs[1])
      guard relevance.rank == value.rank + 1, Array(relevance.dims.dropFirst()) == value.dims else {
        throw ShapeError("\(opName) needs relevance [K] + \(shapeText(value.dims)), got \(shapeText(relevance.dims))")
      }
      return relevance
    case .batchNormTranspose:
      guard inputs[0].rank >= 2 else { throw ShapeError("batch_norm_transpose needs relevance [K, C, …]") }
      return inputs[0]
    case .conv2dTranspose(let a):
      return try Self.transposed(inputs[0], forward: .conv2d(a.forward), inputDims: a.inputDims, opName)
    case .linearTranspose(let a):
      guard inputs[0].rank == 2, inputs[0].dims[1] == a.outFeatures else {
        throw ShapeError("linear_transpose needs relevance [K, \(a.outFeatures)], got \(shapeText(inputs[0].dims))")
      }
      return TensorType(dims: [inputs[0].dims[0], a.inFeatures])
    case .poolTranspose(let a):
      let result = try Self.transposed(inputs[0], forward: .pool(a.forward), inputDims: a.inputDims, opName)
      if inputs.count == 2, inputs[1].dims != Array(inputs[0].dims.dropFirst()) {
        throw ShapeError("\(opName)'s second input must be the forward pool's output \(shapeText(Array(inputs[0].dims.dropFirst())))")
      }
      return result
    case .sliceChannels(let a):
      let t = inputs[0]
      guard t.rank >= 2, a.start >= 0, a.count >= 1, a.start + a.count <= t.dims[1] else {
        throw ShapeError("slice_channels [\(a.start), \(a.start + a.count)) does not fit relevance \(shapeText(t.dims))")
      }
      var dims = t.dims
      dims[1] = a.count
      return TensorType(dims: dims)
    case .unflatten(let a):
      let t = inputs[0]
      guard t.rank == 2, !a.dims.isEmpty, a.dims.allSatisfy({ $0 >= 1 }), checkedProduct(a.dims) == t.dims[1] else {
        throw ShapeError("unflatten to \(shapeText(a.dims)) does not fit relevance \(shapeText(t.dims))")
      }
      return TensorType(dims: [t.dims[0]] + a.dims)
    case .zbPreactivation(let a):
      guard inputs[0].dims == a.inputDims else {
        throw ShapeError("zb_preactivation expects input \(shapeText(a.inputDims)), got \(shapeText(inputs[0].dims))")
      }
      return try Op.conv2d(a.conv).inferType([inputs[0]])
    case .zbRelevance(let a):
      guard inputs[0].dims == a.inputDims else {
        throw ShapeError("zb_relevance expects input \(shapeText(a.inputDims)), got \(shapeText(inputs[0].dims))")
      }
      return try Self.transposed(inputs[1], forward: .conv2d(a.conv), inputDims: a.inputDims, opName)
    }
  }

  /// Whether `small` broadcasts to `large`: aligned at the last dimension, each of its
  /// dimensions equal to `large`'s or 1, no more of them.
  public static func broadcasts(_ small: [Int], to large: [Int]) -> Bool {
    guard small.count <= large.count else { return false }
    return zip(small.reversed(), large.reversed()).allSatisfy { $0 == $1 || $0 == 1 }
  }

  /// The output of a transposed op: [K] + the forward op's input, after checking that the
  /// forward op maps that input to the relevance's per-class shape.
  private static func transposed(_ relevance: TensorType, forward: Op, inputDims: [Int], _ opName: String) throws(ShapeError) -> TensorType {
    let forwardOutput = try forward.inferType([TensorType(dims: inputDims)])
    guard relevance.rank == forwardOutput.rank + 1, Array(relevance.dims.dropFirst()) == forwardOutput.dims else {
      throw ShapeError("\(opName) needs relevance [K] + \(shapeText(forwardOutput.dims)), got \(shapeText(relevance.dims))")
    }
    return TensorType(dims: [relevance.dims[0]] + inputDims)
  }

  /// Checks attribute values that no input shape can make valid.
  public func validateAttributes() throws(ShapeError) {
    let opName = name
    func positive(_ value: Int, _ what: String) throws(ShapeError) { try Self.positive(value, what, opName) }
    func positive(_ pair: Pair, _ what: String) throws(ShapeError) { try Self.positive(pair, what, opName) }
    func nonNegative(_ pair: Pair, _ what: String) throws(ShapeError) { try Self.nonNegative(pair, what, opName) }
    switch self {
    case .input(let a):
      guard a.low.isFinite, a.high.isFinite, a.low < a.high else {
        throw ShapeError("input range [\(a.low), \(a.high)] must have low < high")
      }
    case .conv2d(let a):
      try positive(a.outChannels, "output channels")
      try positive(a.kernel, "kernel")
      try positive(a.stride, "stride")
      try nonNegative(a.padding, "padding")
      try positive(a.dilation, "dilation")
      try positive(a.groups, "groups")
    case .batchNorm(let a):
      guard a.epsilon > 0, a.epsilon.isFinite else {
        throw ShapeError("\(opName) eps must be positive, got \(a.epsilon)")
      }
      guard a.momentum >= 0, a.momentum <= 1 else {
        throw ShapeError("\(opName) momentum must be in [0, 1], got \(a.momentum)")
      }
    case .pool(let pooling):
      try pooling.validate()
    case .linear(let a):
      try positive(a.outFeatures, "output features")
    case .dropout(let a):
      guard a.probability >= 0, a.probability < 1 else {
        throw ShapeError("dropout p must be in [0, 1), got \(a.probability)")
      }
    case .lrpEpsilonDivide(let a):
      guard a.epsilon >= 0, a.epsilon.isFinite else { throw ShapeError("lrp_epsilon_divide eps must be ≥ 0, got \(a.epsilon)") }
    case .zbPreactivation(let a), .zbRelevance(let a):
      guard a.low < a.high, a.low.isFinite, a.high.isFinite else {
        throw ShapeError("\(opName) bounds [\(a.low), \(a.high)] must have low < high")
      }
    case .upsample(let a):
      try positive(a.scale, "scale")
    case .relu, .elementwise, .flatten, .concat, .add, .mul, .lrpSeed, .lrpMultiply, .batchNormTranspose,
      .conv2dTranspose, .linearTranspose, .poolTranspose, .sliceChannels, .unflatten:
      break
    }
  }

  static func positive(_ value: Int, _ what: String, _ opName: String) throws(ShapeError) {
    guard value >= 1, value <= maximumDimension else {
      throw ShapeError("\(opName) \(what) must be between 1 and \(maximumDimension), got \(value)")
    }
  }

  static func positive(_ pair: Pair, _ what: String, _ opName: String) throws(ShapeError) {
    try positive(pair.h, what, opName)
    try positive(pair.w, what, opName)
  }

  static func nonNegative(_ pair: Pair, _ what: String, _ opName: String) throws(ShapeError) {
    guard pair.h >= 0, pair.w >= 0, pair.h <= maximumDimension, pair.w <= maximumDimension else {
      throw ShapeError("\(opName) \(what) must be between 0 and \(maximumDimension), got \(pair)")
    }
  }

  private static func channels(_ t: TensorType, _ opName: String) throws(ShapeError) -> Int {
    guard t.rank >= 1 else { throw ShapeError("\(opName) needs an input with channels") }
    return t.dims[0]
  }

  static func image(_ t: TensorType, _ opName: String) throws(ShapeError) -> (Int, Int, Int) {
    guard t.rank == 3 else {
      throw ShapeError("\(opName) needs an image [channels, height, width], got \(shapeText(t.dims))")
    }
    return (t.dims[0], t.dims[1], t.dims[2])
  }

  /// Output size of a sliding window: (size + 2·pad − dilation·(k−1) − 1) / stride + 1.
  static func window(
    h: Int, w: Int, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
    _ opName: String
  ) throws(ShapeError) -> (Int, Int) {
    func size(_ n: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int? {
      let span = d * (k - 1) + 1
      let padded = n + 2 * p
      return padded < span ? nil : (padded - span) / s + 1
    }
    guard let ho = size(h, kernel.h, stride.h, padding.h, dilation.h),
      let wo = size(w, kernel.w, stride.w, padding.w, dilation.w)
    else {
      throw ShapeError(
        "\(opName) window \(kernel) (dilation \(dilation)) does not fit the padded input [\(h + 2 * padding.h),\(w + 2 * padding.w)]"
      )
    }
    return (ho, wo)
  }
}
