import ArgumentParser

/// Which classes' heatmaps to write: every class, the top-scoring one(s), or a list.
enum ClassSelection: ExpressibleByArgument, Equatable {
  case all
  case top
  case list([Int])

  init?(argument: String) {
    switch argument {
    case "all": self = .all
    case "top": self = .top
    default:
      let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
      let numbers = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
      guard !parts.isEmpty, numbers.count == parts.count, numbers.allSatisfy({ $0 >= 0 }) else { return nil }
      self = .list(numbers)
    }
  }

  static let help: ArgumentHelp = ArgumentHelp(
    "Classes to explain: all, top (the predicted class or, multi-label, every predicted label), or a comma-separated list of class indices.",
    valueName: "all|top|LIST")

  /// The class indices for one input with the given scores.
  func classes(for scores: Scores) -> [Int] {
    switch self {
    case .all: Array(scores.logits.indices)
    case .top: scores.predicted.isEmpty ? [scores.probabilities.indices.max { scores.probabilities[$0] < scores.probabilities[$1] } ?? 0] : scores.predicted
    case .list(let list): list
    }
  }

  func validate(classCount: Int) throws {
    if case .list(let list) = self, let bad = list.first(where: { $0 >= classCount }) {
      throw fail("--explain: class \(bad) does not exist; the model has \(classCount) classes (0...\(classCount - 1))")
    }
  }
}
