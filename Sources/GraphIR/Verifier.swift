/// The graph verifier: checks the invariants every pass may assume and must preserve.
/// Run it after building or parsing a graph and after every pass (in tests).

public struct VerificationError: Error, Sendable, Equatable, CustomStringConvertible {
  public var node: NodeID?
  public var message: String
  public var description: String {
    if let node { "\(node): \(message)" } else { message }
  }
}

extension Graph {
  /// Every violated invariant, in node order; empty when the graph is well-formed.
  public func verify() -> [VerificationError] {
    var errors: [VerificationError] = []
    func fail(_ index: Int?, _ message: String) {
      errors.append(VerificationError(node: index.map(NodeID.init), message: message))
    }
    for (index, node) in nodes.enumerated() {
      // Inputs must come first in the array: its order is the execution order.
      guard node.inputs.allSatisfy({ $0.index >= 0 && $0.index < index }) else {
        fail(index, "\(node.op.name) reads a value that is not defined before it")
        continue
      }
      if case .input = node.op {
        if let error = Result(catching: { () throws(ShapeError) in try node.op.validateAttributes() })
          .failureError
        {
          fail(index, error.message)
        }
        if !node.inputs.isEmpty { fail(index, "input takes no operands") }
        let dims = node.type.dims
        if !(dims.count == 1 || dims.count == 3) || !dims.allSatisfy({ $0 >= 1 && $0 <= maximumDimension }) {
          fail(index, "input shape \(shapeText(dims)) must be [C, H, W] or [F] with sizes from 1 to \(maximumDimension)")
        }
        if !node.type.batched || node.type.dtype != .f32 {
          fail(index, "input must be a batched f32 tensor, got \(node.type)")
        }
      } else {
        do {
          let inferred = try node.op.inferType(node.inputs.map { nodes[$0.index].type })
          if inferred != node.type {
            fail(index, "\(node.op.name) has type \(node.type), but its inputs give \(inferred)")
          }
        } catch {
          fail(index, error.message)
        }
      }
      if let name = node.name, !isValidScopedName(name) {
        fail(index, "name '\(name)' is not dot-separated segments of letters, digits and '_'")
      }
      if node.op.ownsParameters && node.name == nil {
        fail(index, "\(node.op.name) owns parameters but has no name")
      }
    }
    var owners: [String: Parameter] = [:]
    for parameter in parameters {
      if let first = owners[parameter.name] {
        fail(parameter.owner.index, "parameter '\(parameter.name)' is also defined by \(first.owner)")
      } else {
        owners[parameter.name] = parameter
      }
    }
    for (index, node) in nodes.enumerated() where node.op.parameterUse == .reads {
      if node.name == nil { fail(index, "\(node.op.name) reads parameters but names none") }
      for read in parameterNames(of: NodeID(index)) {
        guard let owned = owners[read.name] else {
          fail(index, "\(node.op.name) reads parameter '\(read.name)', which no node owns")
          continue
        }
        if owned.shape != read.shape {
          fail(index, "\(node.op.name) reads '\(read.name)' as \(shapeText(read.shape)), but it is \(shapeText(owned.shape))")
        }
      }
    }
    if outputs.isEmpty { fail(nil, "graph has no outputs") }
    for output in outputs where output.index < 0 || output.index >= nodes.count {
      fail(nil, "output \(output) is not a node")
    }
    if let segmentation {
      if segmentation.index < 0 || segmentation.index >= nodes.count {
        fail(nil, "segmentation \(segmentation) is not a node")
      } else if let input = inputIDs.first, nodes[input.index].type.rank == 3,
        nodes[segmentation.index].type.dims != [1] + nodes[input.index].type.dims.dropFirst()
      {
        fail(segmentation.index, "the segmentation head must be one logit per pixel [1, H, W] of the input")
      }
    }
    return errors
  }
}

/// Whether `name` is dot-separated segments of `[A-Za-z0-9_]+`.
public func isValidScopedName(_ name: String) -> Bool {
  let segments = name.split(separator: ".", omittingEmptySubsequences: false)
  return segments.allSatisfy { segment in
    !segment.isEmpty
      && segment.utf8.allSatisfy { byte in
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
          || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
      }
  }
}

extension Result {
  var failureError: Failure? {
    if case .failure(let error) = self { error } else { nil }
  }
}
