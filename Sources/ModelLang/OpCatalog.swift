/// The ops of the language: their attribute names and types, and how each maps to GraphIR
/// ops. Defaults are GraphIR's (each declared once, beside its attribute struct); the
/// element-wise functions come from GraphIR's table (Ops/Elementwise.swift) unchanged.
/// `docs/language.md`'s op table is rendered from this catalog (`markdownTable`), and a
/// test fails when the two differ.

import GraphIR

struct OpSignature: Sendable {
  enum AttributeType: Sendable {
    case int
    case float
    case bool
    /// An int (square) or `[h, w]`.
    case pair

    var name: String {
      switch self {
      case .int: "int"
      case .float: "float"
      case .bool: "bool"
      case .pair: "int or [int, int]"
      }
    }
  }

  enum Default: Sendable {
    case required
    case value(Value)
    /// Defaults to another attribute's value (a pool's stride defaults to its kernel).
    case sameAs(String)
  }

  struct Attribute: Sendable {
    var name: String
    var type: AttributeType
    var defaultValue: Default
  }

  var name: String
  var inputs: Arity
  var attributes: [Attribute]
  /// What the op computes, in a few words (the reference's op table).
  var summary: String
  /// Its trainable parameters and statistics, by name suffix ("" when none).
  var parameters: String = ""
  /// Builds the GraphIR ops (applied in sequence) from the checked attribute values.
  var build: @Sendable (AttributeValues) -> [Op]
}

/// Attribute values after defaulting and type checks: lookups cannot fail.
struct AttributeValues: Sendable {
  var values: [String: Value]

  func int(_ name: String) -> Int {
    if case .int(let v) = values[name] { return v }
    return 0
  }

  func float(_ name: String) -> Double {
    switch values[name] {
    case .float(let v): v
    case .int(let v): Double(v)
    default: 0
    }
  }

  func bool(_ name: String) -> Bool {
    if case .bool(let v) = values[name] { return v }
    return false
  }

  func pair(_ name: String) -> Pair {
    switch values[name] {
    case .int(let v): Pair(square: v)
    case .list(let items):
      if items.count == 2, case .int(let h) = items[0], case .int(let w) = items[1] { Pair(h, w) } else { Pair(square: 0) }
    default: Pair(square: 0)
    }
  }
}

enum OpCatalog {
  private typealias A = OpSignature.Attribute

  static let signatures: [String: OpSignature] = Dictionary(
    uniqueKeysWithValues: all.map { ($0.name, $0) })

  static let all: [OpSignature] =
    layers + Pooling.members.map(pooling) + UpsampleAttributes.Mode.allCases.map(upsample) + reshaping
    + ElementwiseFunction.allCases.map(elementwise)

  private static let layers: [OpSignature] = [
    OpSignature(
      name: "conv", inputs: .exactly(1),
      attributes: [
        A(name: "out", type: .int, defaultValue: .required),
        A(name: "k", type: .pair, defaultValue: .required),
        A(name: "stride", type: .pair, defaultValue: pair(Conv2DAttributes.defaultStride)),
        A(name: "pad", type: .pair, defaultValue: pair(Conv2DAttributes.defaultPadding)),
        A(name: "dilation", type: .pair, defaultValue: pair(Conv2DAttributes.defaultDilation)),
        A(name: "groups", type: .int, defaultValue: .value(.int(Conv2DAttributes.defaultGroups))),
        A(name: "bias", type: .bool, defaultValue: .value(.bool(Conv2DAttributes.defaultHasBias))),
      ],
      summary: "2-D convolution (cross-correlation), zero padding",
      parameters: "`weight`, `bias`",
      build: { a in
        [
          .conv2d(
            Conv2DAttributes(
              outChannels: a.int("out"), kernel: a.pair("k"), stride: a.pair("stride"),
              padding: a.pair("pad"), dilation: a.pair("dilation"), groups: a.int("groups"),
              hasBias: a.bool("bias")))
        ]
      }),
    OpSignature(
      name: "bn", inputs: .exactly(1),
      attributes: [
        A(name: "eps", type: .float, defaultValue: .value(.float(BatchNormAttributes.defaultEpsilon))),
        A(name: "momentum", type: .float, defaultValue: .value(.float(BatchNormAttributes.defaultMomentum))),
      ],
      summary: "batch normalization per channel",
      parameters: "`weight`, `bias`; `running_mean`, `running_var`",
      build: { a in [.batchNorm(BatchNormAttributes(epsilon: a.float("eps"), momentum: a.float("momentum")))] }),
    OpSignature(name: "relu", inputs: .exactly(1), attributes: [], summary: "`max(x, 0)` element-wise", build: { _ in [.relu] }),
  ]

  private static let reshaping: [OpSignature] = [
    OpSignature(
      name: "global_avgpool", inputs: .exactly(1), attributes: [],
      summary: "average over all positions, flattened",
      build: { _ in [.pool(.adaptiveAverage(AdaptivePoolAttributes(outputSize: Pair(square: 1)))), .flatten] }),
    OpSignature(
      name: "linear", inputs: .exactly(1),
      attributes: [
        A(name: "out", type: .int, defaultValue: .required),
        A(name: "bias", type: .bool, defaultValue: .value(.bool(LinearAttributes.defaultHasBias))),
      ],
      summary: "`W·x + b`",
      parameters: "`weight`, `bias`",
      build: { a in [.linear(LinearAttributes(outFeatures: a.int("out"), hasBias: a.bool("bias")))] }),
    OpSignature(name: "flatten", inputs: .exactly(1), attributes: [], summary: "to one dimension, channel-major", build: { _ in [.flatten] }),
    OpSignature(
      name: "dropout", inputs: .exactly(1),
      attributes: [A(name: "p", type: .float, defaultValue: .value(.float(DropoutAttributes.defaultProbability)))],
      summary: "zeroes elements in training; the identity otherwise",
      build: { a in [.dropout(DropoutAttributes(probability: a.float("p")))] }),
    OpSignature(name: "concat", inputs: .atLeast(1), attributes: [], summary: "concatenation along channels", build: { _ in [.concat] }),
    OpSignature(name: "add", inputs: .atLeast(2), attributes: [], summary: "element-wise sum", build: { _ in [.add] }),
    OpSignature(
      name: "mul", inputs: .exactly(2), attributes: [],
      summary: "element-wise product `x1 ⊙ x2`, `x2` broadcast (each of its last dims equal to `x1`'s or 1); a gate or mask, constant to LRP",
      build: { _ in [.mul] }),
  ]

  /// Upsampling by an integer scale, one op per mode.
  private static func upsample(_ mode: UpsampleAttributes.Mode) -> OpSignature {
    OpSignature(
      name: mode.opName, inputs: .exactly(1), attributes: [A(name: "scale", type: .pair, defaultValue: .value(.int(2)))],
      summary: mode == .nearest ? "upsampling, each output a copy of its source pixel" : "bilinear upsampling (align_corners=False)",
      build: { a in [.upsample(UpsampleAttributes(scale: a.pair("scale"), mode: mode))] })
  }

  /// An element-wise function of GraphIR's table, written `name(x)`.
  private static func elementwise(_ function: ElementwiseFunction) -> OpSignature {
    OpSignature(
      name: function.name, inputs: .exactly(1), attributes: [],
      summary: "`\(function.description.formula)` element-wise", build: { _ in [.elementwise(function)] })
  }

  /// A member of GraphIR's pooling family (Ops/Pooling.swift), its attributes by form.
  private static func pooling(_ member: Pooling) -> OpSignature {
    switch member.window {
    case .sliding:
      OpSignature(
        name: member.name, inputs: .exactly(1), attributes: slidingWindowAttributes, summary: member.summary,
        build: { a in [.pool(member.with(.sliding(Pool2DAttributes(kernel: a.pair("k"), stride: a.pair("stride"), padding: a.pair("pad"))))!)] })
    case .outputSize:
      OpSignature(
        name: member.name, inputs: .exactly(1), attributes: [A(name: "out", type: .pair, defaultValue: .required)],
        summary: member.summary, build: { a in [.pool(member.with(.outputSize(AdaptivePoolAttributes(outputSize: a.pair("out"))))!)] })
    }
  }

  private static let slidingWindowAttributes: [A] = [
    A(name: "k", type: .pair, defaultValue: .required),
    A(name: "stride", type: .pair, defaultValue: .sameAs("k")),
    A(name: "pad", type: .pair, defaultValue: pair(Pool2DAttributes.defaultPadding)),
  ]

  /// A default pair as the language writes it: `n` when square, `[h, w]` otherwise.
  private static func pair(_ p: Pair) -> OpSignature.Default {
    .value(p.h == p.w ? .int(p.h) : .list([.int(p.h), .int(p.w)]))
  }

  /// The op table of `docs/language.md` section 11: one row per op, its call with the
  /// attributes' defaults, what it computes and its parameters.
  static var markdownTable: String {
    var lines = ["| op | call | computes | parameters |", "|---|---|---|---|"]
    for signature in all {
      let tensors = switch signature.inputs {
      case .exactly(1): ["x"]
      case .exactly(let n): (1...max(n, 1)).map { "x\($0)" }
      case .atLeast: ["a", "b", "..."]
      }
      let attributes = signature.attributes.map { a in
        switch a.defaultValue {
        case .required: "\(a.name): \(documented(a.type))"
        case .value(let v): "\(a.name): \(documented(a.type)) = \(describe(v))"
        case .sameAs(let other): "\(a.name): \(documented(a.type)) = \(other)"
        }
      }
      let call = "`\(signature.name)(\((tensors + attributes).joined(separator: ", ")))`"
      let parameters = signature.parameters.isEmpty ? "none" : signature.parameters
      lines.append("| [`\(signature.name)`](#\(signature.name)) | \(call.replacingOccurrences(of: "|", with: "\\|")) | \(signature.summary) | \(parameters) |")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// An attribute type as section 11 writes it.
  private static func documented(_ type: OpSignature.AttributeType) -> String {
    type == .pair ? "int|pair" : type.name
  }

  private static func describe(_ value: Value) -> String {
    switch value {
    case .int(let v): "\(v)"
    case .float(let v): "\(v)".replacingOccurrences(of: "e-0", with: "e-")
    case .bool(let v): "\(v)"
    case .list(let items): "[" + items.map(describe).joined(separator: ", ") + "]"
    default: value.typeName
    }
  }
}
