/// Source positions of graph nodes, for messages about a node that other stages write
/// (the ONNX export names the op call a refused node came from).

import GraphIR

extension Compilation {
  /// `FILE:LINE:COL` of the op call that made node `id` of the compiled graph, or nil.
  public func position(of id: NodeID) -> String? {
    guard id.index >= 0, id.index < nodeLocations.count, let location = nodeLocations[id.index],
      location.file >= 0, location.file < files.count
    else { return nil }
    let file = files[location.file]
    let (line, column) = file.lineAndColumn(location.offset)
    return "\(file.path):\(line):\(column)"
  }
}
