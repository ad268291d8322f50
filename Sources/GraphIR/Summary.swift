/// The per-node summary table (`isnetc compile --emit summary`): output shape, parameter
/// count and multiply-accumulates per node, then totals.

extension Graph {
  public var summary: String {
    let parameterCounts = Dictionary(grouping: parameters, by: \.owner)
      .mapValues { $0.filter(\.role.isTrainable).reduce(0) { $0 + $1.elementCount } }
    var rows: [[String]] = [["#", "op", "name", "output", "params", "MACs"]]
    for (index, node) in nodes.enumerated() {
      let id = NodeID(index)
      rows.append([
        "%\(index)", node.op.name, node.name ?? "", node.type.description,
        grouped(parameterCounts[id] ?? 0), grouped(multiplyAccumulates(of: id)),
      ])
    }
    let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
    let rightAligned: Set<Int> = [4, 5]
    func render(_ row: [String]) -> String {
      row.enumerated().map { column, cell in
        let padding = String(repeating: " ", count: widths[column] - cell.count)
        return rightAligned.contains(column) ? padding + cell : cell + padding
      }.joined(separator: "  ").trimmingSuffix()
    }
    var out = headline + "\n\n" + rows.map(render).joined(separator: "\n") + "\n"
    let all = parameters
    let trainable = all.filter(\.role.isTrainable).reduce(0) { $0 + $1.elementCount }
    let macs = totalMultiplyAccumulates
    out += "\n"
    out += "nodes:              \(nodes.count)\n"
    out += "parameter tensors:  \(all.count) (\(all.filter(\.role.isTrainable).count) trainable, \(all.filter { !$0.role.isTrainable }.count) running statistics)\n"
    out += "parameters:         \(grouped(trainable)) trainable (\(megabytes(all.reduce(0) { $0 + $1.elementCount } * 4)) as f32 with running statistics)\n"
    out += "multiply-accumulates per sample: \(grouped(macs)) (\(scaled(macs))MAC)\n"
    return out
  }
}

extension Graph {
  /// `model tiny(input: f32[N,3,64,64] in [0.0, 1.0]) -> 3 classes, softmax`.
  var headline: String {
    let inputs = inputIDs.map { id -> String in
      let node = self[id]
      var text = "\(node.name ?? id.description): \(node.type)"
      if case .input(let range) = node.op { text += " in [\(range.low), \(range.high)]" }
      return text
    }
    if outputKind == .segmentation {
      return "model \(name)(\(inputs.joined(separator: ", "))) -> \(outputs.map { self[$0].type.description }.joined(separator: ", ")) segmentation logits"
    }
    let classes = outputs.map { self[$0].type.dims.last ?? 0 }.map(String.init).joined(separator: ", ")
    let head = segmentation.map { ", segmentation \(self[$0].type)" } ?? ""
    return "model \(name)(\(inputs.joined(separator: ", "))) -> \(classes) classes, \(outputKind.rawValue)\(head)"
  }
}

/// `7978856` → `7,978,856`.
func grouped(_ value: Int) -> String {
  let digits = String(value.magnitude)
  var out = ""
  for (i, ch) in digits.enumerated() {
    if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
    out.append(ch)
  }
  return (value < 0 ? "-" : "") + out
}

/// `2850581760` → `2.85 G`, `3648120` → `3.65 M`: three significant digits.
func scaled(_ value: Int) -> String {
  let units: [(Double, String)] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
  let v = Double(value)
  guard let (size, unit) = units.first(where: { v >= $0.0 }) else { return "\(value)" }
  let hundredths = Int((v / size * 100).rounded())
  let fraction = hundredths % 100
  return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) \(unit)"
}

func megabytes(_ bytes: Int) -> String {
  let tenths = Int((Double(bytes) / 104857.6).rounded())
  return "\(tenths / 10).\(tenths % 10) MiB"
}

extension String {
  func trimmingSuffix() -> String {
    var copy = self
    while copy.last == " " { copy.removeLast() }
    return copy
  }
}
