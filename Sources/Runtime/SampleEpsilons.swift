/// The ε of the LRP ε-rule chosen per sample at run time (`sampleEpsilons` of
/// InferenceSession and TrainingSession), instead of each `lrp_epsilon_divide` node's
/// compiled attribute. The inference session's kernel calls are closures built once at
/// init, so the values live in storage those closures capture and read at each run.

/// One ε per sample of the current run, handed to the kernels as `sample_eps`.
final class SampleEpsilonStorage {
  private let values: UnsafeMutablePointer<Float>
  private let capacity: Int
  /// Whether the current run uses `values`; when false every node uses its attribute ε.
  private(set) var isActive = false

  init(capacity: Int) {
    self.capacity = max(capacity, 1)
    values = .allocate(capacity: self.capacity)
    values.initialize(repeating: 0, count: self.capacity)
  }

  deinit { values.deallocate() }

  /// What the kernels take as `sample_eps`: the values, or nil for the attribute ε.
  var kernelArgument: UnsafePointer<Float>? { isActive ? UnsafePointer(values) : nil }

  /// Checks `epsilons` for a run of `samples` and, when valid, makes them the current run's
  /// (nil: the attribute ε). On error nothing changes.
  func load(_ epsilons: [Float]?, samples: Int) throws(RuntimeError) {
    guard let epsilons else {
      isActive = false
      return
    }
    if let problem = Self.problem(epsilons, samples: samples) { throw RuntimeError(problem) }
    let count = min(samples, capacity)
    epsilons.withUnsafeBufferPointer { values.update(from: $0.baseAddress!, count: count) }
    isActive = true
  }

  /// Why `epsilons` cannot serve a run of `samples`, or nil.
  static func problem(_ epsilons: [Float], samples: Int) -> String? {
    if epsilons.count < samples {
      return "sampleEpsilons has \(epsilons.count) value\(epsilons.count == 1 ? "" : "s"), fewer than the run's \(samples) samples"
    }
    if let index = epsilons.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
      return "sampleEpsilons[\(index)] is \(epsilons[index]); each sample's LRP ε must be positive and finite"
    }
    return nil
  }
}
