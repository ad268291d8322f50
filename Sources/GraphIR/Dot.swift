/// Graphviz DOT output: one box per node (name, op, output shape), edges along data flow.
/// Parameter-owning ops are filled so the weights' places stand out. A graph carrying an
/// LRP block is drawn as the paper's Figure 6: the classifier and the LRP block side by
/// side in two clusters, the block's reads of forward values (activations, pre-activations,
/// arg-max routing: the skip connections) as dashed edges between them.

extension Graph {
  public var dot: String {
    var inBlock = [Bool](repeating: false, count: nodes.count)
    for (index, node) in nodes.enumerated() {
      inBlock[index] = node.op.isLRPBlockOp || node.inputs.contains { inBlock[$0.index] }
    }
    let hasBlock = inBlock.contains(true)
    var out = "digraph \"\(name)\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
    func box(_ index: Int) -> String {
      let node = nodes[index]
      var label = node.op.name
      if let name = node.name { label = "\(name)\\n\(label)" }
      label += "\\n\(node.type)"
      let fill = inBlock[index] ? "#fbe3d6" : "#dde8f6"
      let style = node.op.ownsParameters || node.op.parameterUse == .reads ? ", style=filled, fillcolor=\"\(fill)\"" : ""
      return "n\(index) [label=\"\(label)\"\(style)];\n"
    }
    if hasBlock {
      for (cluster, title, member) in [("classifier", "classifier", false), ("lrp", "LRP block", true)] {
        out += "  subgraph cluster_\(cluster) {\n    label=\"\(title)\";\n"
        for index in nodes.indices where inBlock[index] == member { out += "    " + box(index) }
        out += "  }\n"
      }
    } else {
      for index in nodes.indices { out += "  " + box(index) }
    }
    for (index, node) in nodes.enumerated() {
      for input in node.inputs {
        let skip = inBlock[index] && !inBlock[input.index]
        out += "  n\(input.index) -> n\(index)\(skip ? " [style=dashed, color=\"#888888\", constraint=false]" : "");\n"
      }
    }
    let names = hasBlock ? ["logits (\(outputKind.rawValue))", "heatmaps"] : ["logits (\(outputKind.rawValue))"]
    for (position, output) in outputs.enumerated() {
      let label = position < names.count ? names[position] : "output \(position)"
      out += "  out\(position) [label=\"\(label)\", shape=ellipse];\n"
      out += "  n\(output.index) -> out\(position);\n"
    }
    return out + "}\n"
  }
}
