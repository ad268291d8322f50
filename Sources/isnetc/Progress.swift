import Foundation

/// A one-line progress bar on standard error, drawn only when it is a terminal and the
/// work has more than one step, so pipes and logs stay clean.
final class Progress {
  private let total: Int
  private let label: String
  private let enabled: Bool
  private let start = Date()

  init(total: Int, label: String) {
    self.total = total
    self.label = label
    enabled = total > 1 && isatty(STDERR_FILENO) == 1
  }

  func update(_ done: Int, detail: String = "") {
    guard enabled else { return }
    let width = 30
    let filled = total == 0 ? width : width * done / total
    let elapsed = Date().timeIntervalSince(start)
    let eta = done == 0 ? 0 : elapsed / Double(done) * Double(total - done)
    let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
    let line = "\r\(label) \(bar) \(done)/\(total)  \(String(format: "%.1f", elapsed))s elapsed, ETA \(String(format: "%.1f", eta))s \(detail)"
    FileHandle.standardError.write(Data(line.utf8))
  }

  /// Ends the bar's line so that a message can be printed below it.
  func interrupt() {
    guard enabled else { return }
    FileHandle.standardError.write(Data("\n".utf8))
  }

  func finish() {
    guard enabled else { return }
    FileHandle.standardError.write(Data("\n".utf8))
  }
}
