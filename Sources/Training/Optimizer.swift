/// The optimizers the paper trains with (section 4.11: SGD with momentum 0.99, learning
/// rate 1e-3, gradient-norm clipping at 1, no weight decay) and Adam, with PyTorch's update
/// rules, so a step here is the step `torch.optim` takes from the same gradients.
///
/// The state (momentum buffers, Adam's moments and step count) is a set of named tensors,
/// so a checkpoint holds it and a resumed run continues bit for bit.

import Foundation
import Runtime

public enum OptimizerKind: String, Sendable, Codable, CaseIterable {
  case sgd
  case adam
}

/// The learning rate over a run's epochs.
public enum LearningRateSchedule: String, Sendable, Codable, CaseIterable {
  /// The rate as set, every epoch.
  case constant
  /// Half a cosine from the rate at epoch 1 towards 0 after the last epoch: the last
  /// epochs take small steps, so the weights kept are not caught mid-oscillation.
  case cosine

  /// The factor on the learning rate in `epoch` (from 1) of `epochs`.
  public func scale(epoch: Int, of epochs: Int) -> Double {
    switch self {
    case .constant: return 1
    case .cosine: return 0.5 * (1 + cos(Double.pi * Double(epoch - 1) / Double(max(epochs, 1))))
    }
  }
}

public struct OptimizerSettings: Sendable, Codable, Equatable {
  public var kind: OptimizerKind
  public var learningRate: Double
  /// SGD's momentum (PyTorch's, no dampening, not Nesterov).
  public var momentum: Double
  public var beta1: Double
  public var beta2: Double
  public var adamEpsilon: Double
  /// L2 penalty added to the gradient (PyTorch's `weight_decay`). The paper uses none: it
  /// pulls the weights towards the zero solution, whose heatmaps are empty (section 4.11).
  public var weightDecay: Double
  /// The largest global L2 norm of the gradient; larger gradients are scaled down
  /// (`clip_grad_norm_`). Nil: no clipping.
  public var clipNorm: Double?

  public init(
    kind: OptimizerKind = .sgd, learningRate: Double = 1e-3, momentum: Double = 0.99, beta1: Double = 0.9,
    beta2: Double = 0.999, adamEpsilon: Double = 1e-8, weightDecay: Double = 0, clipNorm: Double? = 1
  ) {
    self.kind = kind
    self.learningRate = learningRate
    self.momentum = momentum
    self.beta1 = beta1
    self.beta2 = beta2
    self.adamEpsilon = adamEpsilon
    self.weightDecay = weightDecay
    self.clipNorm = clipNorm
  }
}

/// A gradient that cannot be applied: a NaN or infinity, named by parameter.
public struct NonFiniteGradient: Error, Sendable, CustomStringConvertible {
  public var parameter: String
  public var description: String { "the gradient of '\(parameter)' is not finite" }
}

public final class Optimizer {
  public let settings: OptimizerSettings
  /// The schedule's factor on the learning rate for the current epoch (1: as set).
  public var learningRateScale = 1.0
  /// Updates taken so far (Adam's bias correction reads it).
  public private(set) var steps = 0
  /// Per parameter: SGD's momentum buffer, or Adam's first moment.
  private var first: [String: [Float]] = [:]
  /// Per parameter: Adam's second moment.
  private var second: [String: [Float]] = [:]

  /// Parameters kept as they are: no update, and left out of the gradient's norm.
  public var frozen: Set<String> = []

  public init(settings: OptimizerSettings) {
    self.settings = settings
  }

  /// Clips and applies the session's gradients to its parameters. Returns the gradient's
  /// global L2 norm before clipping; throws, changing nothing, if a gradient is not finite.
  @discardableResult
  public func step(_ session: TrainingSession) throws -> Double {
    var squares = 0.0
    var badParameter: String?
    session.withParametersAndGradients { name, _, gradient, count in
      guard !frozen.contains(name) else { return }
      var sum = 0.0
      for i in 0..<count { sum += Double(gradient[i]) * Double(gradient[i]) }
      if !sum.isFinite, badParameter == nil { badParameter = name }
      squares += sum
    }
    if let badParameter { throw NonFiniteGradient(parameter: badParameter) }
    let norm = squares.squareRoot()
    // PyTorch: clip_coef = max_norm / (total_norm + 1e-6), applied when below 1.
    var scale: Float = 1
    if let limit = settings.clipNorm, limit / (norm + 1e-6) < 1 { scale = Float(limit / (norm + 1e-6)) }
    steps += 1
    session.withParametersAndGradients { name, value, gradient, count in
      guard !frozen.contains(name) else { return }
      switch settings.kind {
      case .sgd: sgd(name, value, gradient, count, scale)
      case .adam: adam(name, value, gradient, count, scale)
      }
    }
    return norm
  }

  private func sgd(_ name: String, _ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ count: Int, _ scale: Float) {
    let lr = Float(settings.learningRate * learningRateScale), mu = Float(settings.momentum), decay = Float(settings.weightDecay)
    let isFirst = first[name] == nil
    // In place in the dictionary's storage: no copy of the buffer per step.
    first[name, default: [Float](repeating: 0, count: count)].withUnsafeMutableBufferPointer { b in
      for i in 0..<count {
        let d = g[i] * scale + decay * p[i]
        // PyTorch starts the buffer at the first gradient itself.
        b[i] = isFirst ? d : mu * b[i] + d
        p[i] -= lr * b[i]
      }
    }
  }

  private func adam(_ name: String, _ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ count: Int, _ scale: Float) {
    let (b1, b2) = (settings.beta1, settings.beta2)
    let lr = settings.learningRate * learningRateScale, decay = Float(settings.weightDecay)
    let correction1 = 1 - pow(b1, Double(steps)), correction2 = 1 - pow(b2, Double(steps))
    let stepSize = Float(lr / correction1)
    let rootCorrection2 = Float(correction2.squareRoot())
    let (fb1, fb2, eps) = (Float(b1), Float(b2), Float(settings.adamEpsilon))
    let zeros = [Float](repeating: 0, count: count)
    first[name, default: zeros].withUnsafeMutableBufferPointer { m in
      second[name, default: zeros].withUnsafeMutableBufferPointer { v in
        for i in 0..<count {
          let d = g[i] * scale + decay * p[i]
          m[i] = fb1 * m[i] + (1 - fb1) * d
          v[i] = fb2 * v[i] + (1 - fb2) * d * d
          p[i] -= stepSize * m[i] / (v[i].squareRoot() / rootCorrection2 + eps)
        }
      }
    }
  }

  // MARK: - State for checkpoints

  /// The state as named tensors: `momentum.NAME` (SGD) or `adam.m.NAME` and `adam.v.NAME`.
  public var state: WeightTable {
    var table: WeightTable = [:]
    let prefix = settings.kind == .sgd ? "momentum." : "adam.m."
    for (name, values) in first { table[prefix + name] = HostTensor(shape: [values.count], values: values) }
    for (name, values) in second { table["adam.v." + name] = HostTensor(shape: [values.count], values: values) }
    return table
  }

  /// Restores `state` (as `state` wrote it) and the step count.
  public func restore(_ table: WeightTable, steps: Int, source: String) throws {
    let prefix = settings.kind == .sgd ? "momentum." : "adam.m."
    var first: [String: [Float]] = [:], second: [String: [Float]] = [:]
    for (key, tensor) in table {
      if key.hasPrefix(prefix) {
        first[String(key.dropFirst(prefix.count))] = tensor.values
      } else if settings.kind == .adam, key.hasPrefix("adam.v.") {
        second[String(key.dropFirst("adam.v.".count))] = tensor.values
      } else {
        throw RuntimeError("\(source): tensor '\(key)' is not \(settings.kind.rawValue) optimizer state")
      }
    }
    self.first = first
    self.second = second
    self.steps = steps
  }

  /// Checks that restored state covers the session's parameters with the right sizes.
  public func validate(against session: TrainingSession, source: String) throws {
    guard steps > 0 else { return }
    let tables = settings.kind == .sgd ? [("momentum", first)] : [("first moment", first), ("second moment", second)]
    var problem: String?
    session.withParametersAndGradients { name, _, _, count in
      guard !frozen.contains(name) else { return }
      for (label, table) in tables where problem == nil {
        if let values = table[name] {
          if values.count != count { problem = "\(source): the \(label) of '\(name)' has \(values.count) values, the parameter \(count)" }
        } else {
          problem = "\(source): no \(label) for '\(name)'"
        }
      }
    }
    if let problem { throw RuntimeError(problem) }
  }
}
