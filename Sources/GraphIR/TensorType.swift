/// Element types a graph value can hold. The runtime computes in `f32`; `i64` is for labels.
public enum DType: String, Sendable, Hashable, CaseIterable {
  case f32
  case i64
}

/// The static type of a graph value: element type and shape.
///
/// Shapes are per sample. A `batched` value has an implicit leading batch dimension `N`
/// (printed `f32[N,64,56,56]`), fixed only when the graph is run; an unbatched value
/// (a parameter, a loss) has exactly `dims`.
public struct TensorType: Sendable, Hashable, CustomStringConvertible {
  public var dtype: DType
  public var batched: Bool
  public var dims: [Int]

  public init(_ dtype: DType = .f32, batched: Bool = true, dims: [Int]) {
    self.dtype = dtype
    self.batched = batched
    self.dims = dims
  }

  public var rank: Int { dims.count }

  /// Elements per sample (the product of `dims`), or nil on overflow.
  public var elementCount: Int? { checkedProduct(dims) }

  public var description: String {
    let shown = (batched ? ["N"] : []) + dims.map(String.init)
    return "\(dtype.rawValue)[\(shown.joined(separator: ","))]"
  }
}

/// Formats a per-sample shape the way messages show it: `[64, 56, 56]`.
public func shapeText(_ dims: [Int]) -> String {
  "[" + dims.map(String.init).joined(separator: ", ") + "]"
}

/// The product of `values`, or nil when it overflows `Int`.
public func checkedProduct(_ values: [Int]) -> Int? {
  var product = 1
  for value in values {
    let (result, overflow) = product.multipliedReportingOverflow(by: value)
    if overflow { return nil }
    product = result
  }
  return product
}
