/// A session allocates its buffers once, and a buffer larger than the machine's memory
/// aborts the process inside the allocator. Sessions check their plan first and refuse it
/// with its size and what to change.

import Foundation
import GraphIR

enum MemoryLimit {
  /// Throws when `floats` exceed the physical memory. `what`: "running M" or "a training
  /// step of M"; `advice`: the options that shrink it, after "use a smaller batch".
  static func check(floats: Int, _ what: String, batch: Int, graph: Graph, advice: [String] = []) throws(RuntimeError) {
    let bytes = UInt64(floats) * 4, physical = ProcessInfo.processInfo.physicalMemory
    guard bytes > physical else { return }
    let gib = { (bytes: UInt64) in String(format: "%.1f GiB", Double(bytes) / 1_073_741_824) }
    let heatmaps = graph.relevanceRowsPerSample
    let options = ["a smaller batch"] + advice
    let list = options.count == 1 ? options[0] : options.dropLast().joined(separator: ", ") + " or " + options.last!
    throw RuntimeError(
      "\(what) at batch \(batch)\(heatmaps > 1 ? " with \(heatmaps) heatmaps per image" : "") needs \(gib(bytes)) of buffers, more than this machine's \(gib(physical)) of memory; use \(list)")
  }
}
