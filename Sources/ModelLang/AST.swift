/// The syntax tree of a `.isnet` file, as written: nothing is evaluated or resolved yet.
/// Every node keeps its source location for diagnostics.

import GraphIR

public struct SourceFileAST: Sendable {
  public var version: Int?
  public var imports: [ImportDecl] = []
  public var blocks: [BlockDecl] = []
  public var models: [ModelDecl] = []
}

public struct ImportDecl: Sendable {
  public var path: String
  public var location: SourceLocation
}

public indirect enum TypeExpr: Sendable {
  case int
  case float
  case bool
  case tensor
  /// `f32[3, 224, 224] in [0, 1]`: a tensor of known per-sample shape and value range.
  case shaped(dims: [Expr], range: (low: Expr, high: Expr)?)

  var name: String {
    switch self {
    case .int: "int"
    case .float: "float"
    case .bool: "bool"
    case .tensor, .shaped: "tensor"
    }
  }
}

public struct ParamDecl: Sendable {
  public var name: String
  public var location: SourceLocation
  /// Absent means tensor.
  public var type: TypeExpr
  public var defaultValue: Expr?
}

public struct BlockDecl: Sendable {
  public var name: String
  public var location: SourceLocation
  public var params: [ParamDecl]
  public var body: [Stmt]
}

public struct ModelDecl: Sendable {
  public var name: String
  public var location: SourceLocation
  public var params: [ParamDecl]
  public var outputKind: OutputKind
  public var body: [Stmt]
}

public indirect enum Stmt: Sendable {
  case assign(name: String, location: SourceLocation, value: Expr)
  /// `return x;`, or a multi-task model's `return logits, segmentation;`.
  case `return`(Expr, second: Expr?, location: SourceLocation)
  case `repeat`(
    variable: String, location: SourceLocation, from: Expr, to: Expr, inclusive: Bool,
    body: [Stmt])
  case scope(Label, body: [Stmt])
}

public struct Expr: Sendable {
  public indirect enum Kind: Sendable {
    case integer(Int)
    case float(Double)
    case bool(Bool)
    case identifier(String)
    case call(Call)
    case binary(BinaryOperator, Expr, Expr)
    case negate(Expr)
    case list([Expr])
  }

  public var kind: Kind
  public var location: SourceLocation
}

public enum BinaryOperator: String, Sendable {
  case add = "+"
  case subtract = "-"
  case multiply = "*"
  case divide = "/"
  case remainder = "%"
}

public struct Call: Sendable {
  public var callee: String
  public var arguments: [CallArgument]
  public var label: Label?
}

public struct CallArgument: Sendable {
  public var name: String?
  public var nameLocation: SourceLocation
  public var value: Expr
  /// Where the value starts (`value.location` of `a + b` is its operator).
  public var valueLocation: SourceLocation
}

/// A label string: text with `{expr}` holes, evaluated when the call is elaborated.
public struct Label: Sendable {
  public enum Part: Sendable {
    case text(String)
    case hole(Expr)
  }

  public var parts: [Part]
  public var location: SourceLocation
}
