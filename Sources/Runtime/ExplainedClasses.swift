/// The class each sample's heatmap explains when the LRP block was compiled with one
/// explained class per sample (`LRPOptions.onePerSample`): chosen at run time from the
/// run's own logits, just before the block starts (`explainedClasses` of InferenceSession
/// and TrainingSession). The block then runs one relevance pass per sample, whatever K is.

/// Chooses each sample's class from the run's logits (samples × K, dense).
public typealias ClassChooser = ([Float]) -> [Int]

/// The chooser and the classes of the current run, read by the seed kernel (and, in
/// training, by the seed's adjoint in the backward that follows). Each session forwards
/// `explainedClasses` (the chooser: set before a run) and `chosenClasses` (the last run's
/// choice; nil for a block that explains every class) to it.
final class ExplainedClassStorage {
  private let values: UnsafeMutablePointer<Int32>
  private let capacity: Int
  var chooser: ClassChooser?
  /// Why the last choice failed (no chooser, a class out of range), checked after a run.
  private(set) var failure: String?

  init(capacity: Int) {
    self.capacity = max(capacity, 1)
    values = .allocate(capacity: self.capacity)
    values.initialize(repeating: 0, count: self.capacity)
  }

  deinit { values.deallocate() }

  /// The classes of the last choice, one per sample, for the kernels.
  var classes: UnsafePointer<Int32> { UnsafePointer(values) }
  /// The classes of the last successful choice (nil before one, or after a failure).
  private(set) var lastChosen: [Int]?

  /// Asks the chooser for the classes of `samples` rows of `logits` (`stride` apart) and
  /// keeps them; on failure every sample gets class 0 and `failure` says why.
  func choose(logits: UnsafePointer<Float>, stride: Int, samples: Int, classes: Int) {
    failure = nil
    lastChosen = nil
    values.update(repeating: 0, count: capacity)
    guard let chooser else {
      failure = "the LRP block explains one class per sample: set explainedClasses before the run"
      return
    }
    var dense = [Float](repeating: 0, count: samples * classes)
    for b in 0..<samples { for k in 0..<classes { dense[b * classes + k] = logits[b * stride + k] } }
    let chosen = chooser(dense)
    guard chosen.count >= samples else {
      failure = "explainedClasses gave \(chosen.count) classes for \(samples) samples"
      return
    }
    if let b = chosen.prefix(samples).firstIndex(where: { !(0..<classes).contains($0) }) {
      failure = "explainedClasses gave class \(chosen[b]) for sample \(b); the model has \(classes) classes"
      return
    }
    for b in 0..<min(samples, capacity) { values[b] = Int32(chosen[b]) }
    lastChosen = Array(chosen.prefix(samples))
  }
}
