/// Values during elaboration: graph tensors and the compile-time scalars that configure them.

import GraphIR

enum Value: Sendable {
  case tensor(NodeID)
  case int(Int)
  case float(Double)
  case bool(Bool)
  case list([Value])
  /// The result of an expression that already failed with a reported error. Everything
  /// computed from it is poison too, silently, so one mistake gives one diagnostic.
  case poison

  var typeName: String {
    switch self {
    case .tensor: "tensor"
    case .int: "int"
    case .float: "float"
    case .bool: "bool"
    case .list: "list"
    case .poison: "error"
    }
  }

  var isPoison: Bool {
    if case .poison = self { true } else { false }
  }

  /// Whether the value can be passed where `type` is declared (an int widens to float).
  func conforms(to type: TypeExpr) -> Value? {
    switch (type, self) {
    case (_, .poison): .poison
    case (.int, .int), (.float, .float), (.bool, .bool), (.tensor, .tensor), (.shaped, .tensor): self
    case (.float, .int(let v)): .float(Double(v))
    default: nil
    }
  }
}
