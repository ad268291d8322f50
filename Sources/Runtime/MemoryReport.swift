/// `isnetc compile --emit memory`: what the static memory plan decides, against the
/// memory a plan without reuse or in-place concatenation would take.

import GraphIR

extension MemoryPlan {
  public func report(for graph: Graph) -> String {
    let naive = graph.nodes.reduce(0) { $0 + ($1.type.elementCount ?? 0) } * batchSize * 4
    let weights = graph.parameters.reduce(0) { $0 + $1.elementCount } * 4
    let copied = concatCopies.values.reduce(0) { $0 + $1.count }
    let inPlace = graph.nodes.filter { $0.op == .concat }.reduce(0) { $0 + $1.inputs.count } - copied
    return """
      memory plan for \(graph.name), batch \(batchSize):
        activation arena:        \(mebibytes(arenaBytes)) (\(arenaBytes) bytes, \(buffers.count) buffers)
        without reuse:           \(mebibytes(naive)) (every value its own buffer)
        parameters:              \(mebibytes(weights))
        concatenation inputs:    \(inPlace) written in place, \(copied) copied

      """
  }
}

func mebibytes(_ bytes: Int) -> String {
  let tenths = Int((Double(bytes) / 104_857.6).rounded())
  return "\(tenths / 10).\(tenths % 10) MiB"
}
