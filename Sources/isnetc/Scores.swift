import Foundation
import GraphIR

/// One input's logits turned into probabilities the way the model's output kind says.
struct Scores {
  var name: String
  var logits: [Float]
  var probabilities: [Double]
  var kind: OutputKind

  init(name: String, logits: [Float], kind: OutputKind) {
    self.name = name
    self.logits = logits
    self.kind = kind
    switch kind {
    case .softmax:
      let top = Double(logits.max() ?? 0)
      let exps = logits.map { exp(Double($0) - top) }
      let sum = exps.reduce(0, +)
      probabilities = exps.map { $0 / sum }
    case .sigmoid, .segmentation:
      probabilities = logits.map { 1 / (1 + exp(-Double($0))) }
    }
  }

  /// Softmax: the most probable class; sigmoid: every class with probability ≥ 0.5.
  var predicted: [Int] {
    switch kind {
    case .softmax: [probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0]
    case .sigmoid, .segmentation: probabilities.indices.filter { probabilities[$0] >= 0.5 }
    }
  }

  /// `files`: per row, the heatmap files written for it (the table names the contact sheet).
  static func table(_ rows: [Scores], classNames: [String], files: [[String]]? = nil) -> String {
    let header = ["input", "predicted"] + classNames + (files == nil ? [] : ["heatmaps"])
    let body = rows.enumerated().map { index, row in
      [row.name, row.predicted.map { classNames[$0] }.joined(separator: ",")]
        + row.probabilities.map { String(format: "%.4f", $0) }
        + (files.map { [$0[index].last ?? ""] } ?? [])
    }
    let all = [header] + body
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
      row.enumerated().map { column, cell in
        column < 2 || column == classNames.count + 2 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
          : String(repeating: " ", count: widths[column] - cell.count) + cell
      }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
  }

  static func json(_ rows: [Scores], classNames: [String], files: [[String]]? = nil) -> String {
    let objects: [[String: Any]] = rows.enumerated().map { index, row in
      var object: [String: Any] = [
        "input": row.name,
        "logits": row.logits.map(Double.init),
        "probabilities": row.probabilities,
        "predicted": row.predicted.map { classNames[$0] },
        "output": row.kind.rawValue,
      ]
      if let files { object["heatmap_files"] = files[index] }
      return object
    }
    let data = (try? JSONSerialization.data(withJSONObject: ["classes": classNames, "results": objects], options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}
