/// Attributes as key–value lists: the one place that fixes their names and order in the
/// text form, for printing (`Op.attributes`) and parsing back (`Op(name:attributes:)`).

public enum AttributeValue: Sendable, Hashable, CustomStringConvertible {
  case int(Int)
  case pair(Pair)
  case float(Double)
  case bool(Bool)
  case range(Double, Double)
  case name(String)
  case ints([Int])

  public var description: String {
    switch self {
    case .int(let v): String(v)
    case .pair(let p): p.description
    case .float(let v): v.description
    case .bool(let v): v ? "true" : "false"
    case .range(let low, let high): "[\(low.description),\(high.description)]"
    case .name(let v): v
    case .ints(let v): "[" + v.map(String.init).joined(separator: ",") + "]"
    }
  }
}

public typealias Attribute = (key: String, value: AttributeValue)

extension Op {
  /// The op's attributes in their fixed text-form order. Deployment fusions come last and
  /// only when present, so a classifier's text does not mention them.
  public var attributes: [Attribute] {
    switch self {
    case .input(let a):
      [("range", .range(a.low, a.high))]
    case .conv2d(let a):
      Self.conv(a)
    case .batchNorm(let a), .batchNormTranspose(let a):
      [("eps", .float(a.epsilon)), ("momentum", .float(a.momentum))]
        + (a.fusedReLU ? [("relu", .bool(true))] : [])
    case .pool(let pooling):
      pooling.attributes
    case .lrpEpsilonDivide(let a):
      [("eps", .float(a.epsilon))]
    case .conv2dTranspose(let a):
      Self.conv(a.forward) + [("in", .ints(a.inputDims))]
    case .linearTranspose(let a):
      [("in", .int(a.inFeatures)), ("out", .int(a.outFeatures))]
    case .poolTranspose(let a):
      a.forward.attributes + [("in", .ints(a.inputDims))]
    case .sliceChannels(let a):
      [("start", .int(a.start)), ("count", .int(a.count))]
    case .unflatten(let a):
      [("dims", .ints(a.dims))]
    case .zbPreactivation(let a), .zbRelevance(let a):
      Self.conv(a.conv) + [("in", .ints(a.inputDims)), ("range", .range(a.low, a.high))]
    case .lrpSeed(let a):
      a.onePerSample ? [("one_per_sample", .bool(true))] : []
    case .lrpMultiply:
      []
    case .linear(let a):
      [("out", .int(a.outFeatures)), ("bias", .bool(a.hasBias))] + Self.fusions(a.epilogue)
    case .dropout(let a):
      [("p", .float(a.probability))]
    case .upsample(let a):
      [("scale", .pair(a.scale))]
    case .relu, .elementwise, .flatten, .concat, .add, .mul:
      []
    }
  }

  private static func conv(_ a: Conv2DAttributes) -> [Attribute] {
    [
      ("out", .int(a.outChannels)), ("kernel", .pair(a.kernel)), ("stride", .pair(a.stride)),
      ("pad", .pair(a.padding)), ("dilation", .pair(a.dilation)), ("groups", .int(a.groups)),
      ("bias", .bool(a.hasBias)),
    ] + fusions(a.epilogue)
  }

  private static func fusions(_ e: Epilogue) -> [Attribute] {
    (e.foldedNorm.map { [("fold", .name($0.name)), ("fold_eps", .float($0.epsilon))] } ?? [])
      + (e.relu ? [("relu", .bool(true))] : [])
  }

  private static func epilogue(_ r: inout AttributeReader) throws(AttributeError) -> Epilogue {
    var norm: FoldedNorm? = nil
    if let name = try r.optionalName("fold") { norm = FoldedNorm(name: name, epsilon: try r.float("fold_eps")) }
    return Epilogue(foldedNorm: norm, relu: try r.optionalBool("relu") ?? false)
  }

  /// Whether `name` names an op in the text form.
  static func isKnown(_ name: String) -> Bool {
    ElementwiseFunction(named: name) != nil
      || Pooling.members.contains { $0.name == name || $0.transposeName == name }
      || readers[name] != nil
  }

  /// Rebuilds an op from its text-form name and attributes; nil for an unknown name.
  public init?(name: String, attributes: AttributeReader) throws(AttributeError) {
    var r = attributes
    if let function = ElementwiseFunction(named: name) {
      self = .elementwise(function)
    } else if let pooling = try Pooling.read(name, transpose: false, &r) {
      self = .pool(pooling)
    } else if let pooling = try Pooling.read(name, transpose: true, &r) {
      self = .poolTranspose(PoolTransposeAttributes(forward: pooling, inputDims: try r.ints("in")))
    } else if let read = Self.readers[name] {
      self = try read(&r)
    } else {
      return nil
    }
    try r.finish()
  }

  typealias Reader = @Sendable (inout AttributeReader) throws(AttributeError) -> Op

  /// The text parser's reader of every op outside the families, by name. Each is keyed by
  /// an example op's `name`, so the names are `name`'s own; a test checks that every op
  /// prints and parses back.
  static let readers: [String: Reader] = {
    let conv = Conv2DAttributes(outChannels: 1, kernel: Pair(square: 1))
    let zb = ZBetaAttributes(conv: conv, inputDims: [], low: 0, high: 1)
    let table: [(example: Op, read: Reader)] = [
      (.input(InputAttributes()), { r throws(AttributeError) in
        let (low, high) = try r.range("range")
        return .input(InputAttributes(low: low, high: high))
      }),
      (.conv2d(conv), { r throws(AttributeError) in .conv2d(try conv2d(&r)) }),
      (.batchNorm(BatchNormAttributes()), { r throws(AttributeError) in .batchNorm(try norm(&r)) }),
      (.relu, { _ throws(AttributeError) in .relu }),
      (.linear(LinearAttributes(outFeatures: 1)), { r throws(AttributeError) in
        .linear(LinearAttributes(outFeatures: try r.int("out"), hasBias: try r.bool("bias"), epilogue: try epilogue(&r)))
      }),
      (.flatten, { _ throws(AttributeError) in .flatten }),
      (.dropout(DropoutAttributes()), { r throws(AttributeError) in .dropout(DropoutAttributes(probability: try r.float("p"))) }),
      (.concat, { _ throws(AttributeError) in .concat }),
      (.add, { _ throws(AttributeError) in .add }),
      (.mul, { _ throws(AttributeError) in .mul }),
      (.lrpSeed(LRPSeedAttributes()), { r throws(AttributeError) in
        .lrpSeed(LRPSeedAttributes(onePerSample: try r.optionalBool("one_per_sample") ?? false))
      }),
      (.lrpEpsilonDivide(EpsilonAttributes(epsilon: 0)), { r throws(AttributeError) in
        .lrpEpsilonDivide(EpsilonAttributes(epsilon: try r.float("eps")))
      }),
      (.lrpMultiply, { _ throws(AttributeError) in .lrpMultiply }),
      (.batchNormTranspose(BatchNormAttributes()), { r throws(AttributeError) in .batchNormTranspose(try norm(&r)) }),
      (.conv2dTranspose(ConvTransposeAttributes(forward: conv, inputDims: [])), { r throws(AttributeError) in
        .conv2dTranspose(ConvTransposeAttributes(forward: try conv2d(&r), inputDims: try r.ints("in")))
      }),
      (.linearTranspose(LinearTransposeAttributes(inFeatures: 1, outFeatures: 1)), { r throws(AttributeError) in
        .linearTranspose(LinearTransposeAttributes(inFeatures: try r.int("in"), outFeatures: try r.int("out")))
      }),
      (.sliceChannels(SliceAttributes(start: 0, count: 1)), { r throws(AttributeError) in
        .sliceChannels(SliceAttributes(start: try r.int("start"), count: try r.int("count")))
      }),
      (.unflatten(UnflattenAttributes(dims: [])), { r throws(AttributeError) in .unflatten(UnflattenAttributes(dims: try r.ints("dims"))) }),
      (.zbPreactivation(zb), { r throws(AttributeError) in .zbPreactivation(try zBeta(&r)) }),
      (.zbRelevance(zb), { r throws(AttributeError) in .zbRelevance(try zBeta(&r)) }),
    ]
    let upsamples: [(example: Op, read: Reader)] = UpsampleAttributes.Mode.allCases.map { mode in
      (.upsample(UpsampleAttributes(scale: Pair(square: 1), mode: mode)), { r throws(AttributeError) in
        .upsample(UpsampleAttributes(scale: try r.pair("scale"), mode: mode))
      })
    }
    return Dictionary(uniqueKeysWithValues: (table + upsamples).map { ($0.example.name, $0.read) })
  }()

  private static func zBeta(_ r: inout AttributeReader) throws(AttributeError) -> ZBetaAttributes {
    let conv = try conv2d(&r)
    let dims = try r.ints("in")
    let (low, high) = try r.range("range")
    return ZBetaAttributes(conv: conv, inputDims: dims, low: low, high: high)
  }

  private static func conv2d(_ r: inout AttributeReader) throws(AttributeError) -> Conv2DAttributes {
    Conv2DAttributes(
      outChannels: try r.int("out"), kernel: try r.pair("kernel"), stride: try r.pair("stride"),
      padding: try r.pair("pad"), dilation: try r.pair("dilation"), groups: try r.int("groups"),
      hasBias: try r.bool("bias"), epilogue: try epilogue(&r))
  }

  private static func norm(_ r: inout AttributeReader) throws(AttributeError) -> BatchNormAttributes {
    BatchNormAttributes(
      epsilon: try r.float("eps"), momentum: try r.float("momentum"),
      fusedReLU: try r.optionalBool("relu") ?? false)
  }

}

public struct AttributeError: Error, Sendable, Equatable {
  public var message: String
  public init(_ message: String) { self.message = message }
}

/// Reads attributes parsed from text by key, checking each is present, well-typed and used.
public struct AttributeReader: Sendable {
  /// Raw attribute text as parsed: a scalar token or a bracketed list of scalar tokens.
  public enum Raw: Sendable, Hashable {
    case scalar(String)
    case list([String])
  }

  private var entries: [(key: String, raw: Raw)]
  private var used: Set<String> = []

  public init(_ entries: [(key: String, raw: Raw)]) { self.entries = entries }

  private mutating func take(_ key: String) throws(AttributeError) -> Raw {
    guard let entry = entries.first(where: { $0.key == key }) else {
      throw AttributeError("missing attribute '\(key)'")
    }
    used.insert(key)
    return entry.raw
  }

  mutating func int(_ key: String) throws(AttributeError) -> Int {
    guard case .scalar(let text) = try take(key), let value = Int(text) else {
      throw AttributeError("attribute '\(key)' must be an integer")
    }
    return value
  }

  mutating func float(_ key: String) throws(AttributeError) -> Double {
    guard case .scalar(let text) = try take(key), let value = Double(text), value.isFinite else {
      throw AttributeError("attribute '\(key)' must be a finite number")
    }
    return value
  }

  mutating func bool(_ key: String) throws(AttributeError) -> Bool {
    switch try take(key) {
    case .scalar("true"): return true
    case .scalar("false"): return false
    default: throw AttributeError("attribute '\(key)' must be true or false")
    }
  }

  /// An attribute that may be absent (deployment fusions).
  mutating func optionalBool(_ key: String) throws(AttributeError) -> Bool? {
    guard entries.contains(where: { $0.key == key }) else { return nil }
    return try bool(key)
  }

  mutating func optionalName(_ key: String) throws(AttributeError) -> String? {
    guard entries.contains(where: { $0.key == key }) else { return nil }
    guard case .scalar(let text) = try take(key), isValidScopedName(text) else {
      throw AttributeError("attribute '\(key)' must be a dotted name")
    }
    return text
  }

  mutating func pair(_ key: String) throws(AttributeError) -> Pair {
    guard case .list(let items) = try take(key), items.count == 2,
      let h = Int(items[0]), let w = Int(items[1])
    else { throw AttributeError("attribute '\(key)' must be [height,width] integers") }
    return Pair(h, w)
  }

  mutating func ints(_ key: String) throws(AttributeError) -> [Int] {
    guard case .list(let items) = try take(key) else {
      throw AttributeError("attribute '\(key)' must be a list of integers")
    }
    var values: [Int] = []
    for item in items {
      guard let value = Int(item) else { throw AttributeError("attribute '\(key)' must be a list of integers") }
      values.append(value)
    }
    return values
  }

  mutating func range(_ key: String) throws(AttributeError) -> (Double, Double) {
    guard case .list(let items) = try take(key), items.count == 2,
      let low = Double(items[0]), let high = Double(items[1]), low.isFinite, high.isFinite
    else { throw AttributeError("attribute '\(key)' must be [low,high] numbers") }
    return (low, high)
  }

  /// Fails on any attribute the op does not have, or one given twice.
  func finish() throws(AttributeError) {
    var seen: Set<String> = []
    for entry in entries {
      guard used.contains(entry.key) else { throw AttributeError("unknown attribute '\(entry.key)'") }
      guard seen.insert(entry.key).inserted else {
        throw AttributeError("attribute '\(entry.key)' given twice")
      }
    }
  }
}
