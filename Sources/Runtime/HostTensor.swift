/// Tensors in host memory as the runtime receives and returns them: float32, row-major.

public struct HostTensor: Sendable, Hashable {
  public var shape: [Int]
  public var values: [Float]

  public init(shape: [Int], values: [Float]) {
    precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
    self.shape = shape
    self.values = values
  }
}

/// Parameter values by name, as loaded from a weights file.
public typealias WeightTable = [String: HostTensor]

public struct RuntimeError: Error, Sendable, CustomStringConvertible, Equatable {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
