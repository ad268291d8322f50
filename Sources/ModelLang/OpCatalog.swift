/// The ops of the language: their attribute names, types and defaults, and how each maps
/// to GraphIR ops. `docs/language.md` documents this table; keep them in step.

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

  static let all: [OpSignature] = [
    OpSignature(
      name: "conv", inputs: .exactly(1),
      attributes: [
        A(name: "out", type: .int, defaultValue: .required),
        A(name: "k", type: .pair, defaultValue: .required),
        A(name: "stride", type: .pair, defaultValue: .value(.int(1))),
        A(name: "pad", type: .pair, defaultValue: .value(.int(0))),
        A(name: "dilation", type: .pair, defaultValue: .value(.int(1))),
        A(name: "groups", type: .int, defaultValue: .value(.int(1))),
        A(name: "bias", type: .bool, defaultValue: .value(.bool(true))),
      ],
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
        A(name: "eps", type: .float, defaultValue: .value(.float(1e-5))),
        A(name: "momentum", type: .float, defaultValue: .value(.float(0.1))),
      ],
      build: { a in [.batchNorm(BatchNormAttributes(epsilon: a.float("eps"), momentum: a.float("momentum")))] }),
    OpSignature(name: "relu", inputs: .exactly(1), attributes: [], build: { _ in [.relu] }),
    OpSignature(
      name: "maxpool", inputs: .exactly(1), attributes: poolAttributes,
      build: { a in [.maxPool2d(pool(a))] }),
    OpSignature(
      name: "avgpool", inputs: .exactly(1), attributes: poolAttributes,
      build: { a in [.avgPool2d(pool(a))] }),
    OpSignature(
      name: "adaptive_avgpool", inputs: .exactly(1),
      attributes: [A(name: "out", type: .pair, defaultValue: .required)],
      build: { a in [.adaptiveAvgPool2d(AdaptivePoolAttributes(outputSize: a.pair("out")))] }),
    OpSignature(
      name: "global_avgpool", inputs: .exactly(1), attributes: [],
      build: { _ in [.adaptiveAvgPool2d(AdaptivePoolAttributes(outputSize: Pair(square: 1))), .flatten] }),
    OpSignature(
      name: "linear", inputs: .exactly(1),
      attributes: [
        A(name: "out", type: .int, defaultValue: .required),
        A(name: "bias", type: .bool, defaultValue: .value(.bool(true))),
      ],
      build: { a in [.linear(LinearAttributes(outFeatures: a.int("out"), hasBias: a.bool("bias")))] }),
    OpSignature(name: "flatten", inputs: .exactly(1), attributes: [], build: { _ in [.flatten] }),
    OpSignature(
      name: "dropout", inputs: .exactly(1),
      attributes: [A(name: "p", type: .float, defaultValue: .value(.float(0.5)))],
      build: { a in [.dropout(DropoutAttributes(probability: a.float("p")))] }),
    OpSignature(name: "concat", inputs: .atLeast(1), attributes: [], build: { _ in [.concat] }),
    OpSignature(name: "add", inputs: .atLeast(2), attributes: [], build: { _ in [.add] }),
  ]

  private static let poolAttributes: [A] = [
    A(name: "k", type: .pair, defaultValue: .required),
    A(name: "stride", type: .pair, defaultValue: .sameAs("k")),
    A(name: "pad", type: .pair, defaultValue: .value(.int(0))),
  ]

  private static func pool(_ a: AttributeValues) -> Pool2DAttributes {
    Pool2DAttributes(kernel: a.pair("k"), stride: a.pair("stride"), padding: a.pair("pad"))
  }
}
