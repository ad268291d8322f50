/// Graphviz DOT output: one box per node (name, op, output shape), edges along data flow.
/// Parameter-owning ops are filled so the weights' places stand out.

extension Graph {
  public var dot: String {
    var out = "digraph \"\(name)\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
    for (index, node) in nodes.enumerated() {
      var label = node.op.mnemonic
      if let name = node.name { label = "\(name)\\n\(label)" }
      label += "\\n\(node.type)"
      let style = node.op.ownsParameters ? ", style=filled, fillcolor=\"#dde8f6\"" : ""
      out += "  n\(index) [label=\"\(label)\"\(style)];\n"
    }
    for (index, node) in nodes.enumerated() {
      for input in node.inputs { out += "  n\(input.index) -> n\(index);\n" }
    }
    for output in outputs {
      out += "  out\(output.index) [label=\"logits (\(outputKind.rawValue))\", shape=ellipse];\n"
      out += "  n\(output.index) -> out\(output.index);\n"
    }
    return out + "}\n"
  }
}
