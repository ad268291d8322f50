/// The static memory plan: where every value of a graph lives for a given batch size,
/// decided once before running, so execution allocates nothing.
///
/// 1. Views: flatten and (inference) dropout produce no data; their value is their input's.
/// 2. Concatenation in place: each input of a concatenation is written by its producer
///    straight into its channel slice of the concatenation's buffer, so a DenseNet block's
///    chain of concatenations shares one buffer and copies nothing. A value can sit in one
///    concatenation only; an input that cannot (already placed elsewhere, or a view) is
///    copied by the concatenation.
/// 3. Channel-slice views: a relevance slice listed in `sliceViews` ([K, count, H, W] out of
///    [K, C, H, W]) is its input's storage from channel `start` on, with its input's class
///    and sample strides; its readers read it in place (LRPSteps.swift, SliceView).
/// 4. Liveness: a buffer lives from the first write of any value in it to the last read.
/// 5. Allocation: buffers are placed in one arena, largest first, each at the lowest offset
///    that overlaps no buffer alive at the same time (greedy by size).

import GraphIR

public struct ValueLocation: Sendable, Hashable {
  /// Index into `MemoryPlan.buffers`.
  public var buffer: Int
  /// Floats from the buffer's start to the value's first element of sample 0.
  public var offset: Int
  /// Floats between consecutive samples.
  public var sampleStride: Int
}

public struct PlannedBuffer: Sendable, Hashable {
  /// Floats per sample and in all.
  public var sampleFloats: Int
  public var floats: Int
  /// Offset in the arena, in floats (a multiple of 16: 64-byte aligned).
  public var arenaOffset: Int
  /// Steps (node indices) during which the buffer must hold its data.
  public var firstStep: Int
  public var lastStep: Int
}

public struct MemoryPlan: Sendable {
  public let batchSize: Int
  public private(set) var locations: [ValueLocation?]
  public private(set) var buffers: [PlannedBuffer] = []
  /// For each concatenation node, the inputs it must copy (not written in place).
  public private(set) var concatCopies: [Int: [Int]] = [:]
  public private(set) var arenaFloats = 0

  public var arenaBytes: Int { arenaFloats * MemoryLayout<Float>.size }

  /// Plans `graph` for `batchSize` samples. `keepAlive` values stay live to the end
  /// (outputs always do). `extraReads[v]` lists steps that read value `v` besides its
  /// consumers in the graph (a fused kernel running at a later node). `sliceViews`: channel
  /// slices that are views of their input (3. above).
  public init(
    graph: Graph, batchSize: Int, keepAlive: Set<NodeID> = [], extraReads: [Int: [Int]] = [:],
    sliceViews: Set<Int> = []
  ) {
    self.batchSize = batchSize
    let nodes = graph.nodes
    let count = nodes.count
    var source = Array(0..<count)  // the value whose storage a view shares
    var slice: [(root: Int, channelOffset: Int)?] = Array(repeating: nil, count: count)

    for (index, node) in nodes.enumerated() {
      switch node.op {
      case .flatten, .dropout, .unflatten: source[index] = source[node.inputs[0].index]
      case .input, .conv2d, .batchNorm, .relu, .elementwise, .pool, .linear, .concat, .add, .mul, .upsample, .lrpSeed,
        .lrpEpsilonDivide, .lrpMultiply, .batchNormTranspose, .conv2dTranspose,
        .linearTranspose, .poolTranspose, .sliceChannels, .zbPreactivation, .zbRelevance:
        break
      }
    }
    // Later concatenations first, so a concatenation placed in a later one passes its
    // root on to its own inputs.
    var copies: [Int: [Int]] = [:]
    for index in stride(from: count - 1, through: 0, by: -1) {
      guard case .concat = nodes[index].op, source[index] == index else { continue }
      let root = slice[index]?.root ?? index
      var channel = slice[index]?.channelOffset ?? 0
      for input in nodes[index].inputs.map(\.index) {
        let channels = nodes[input].type.dims[0]
        if source[input] == input, slice[input] == nil, input != root {
          slice[input] = (root, channel)
        } else {
          copies[index, default: []].append(input)
        }
        channel += channels
      }
    }
    concatCopies = copies

    // One buffer per value that owns storage and is not a slice of another.
    var bufferOf: [Int: Int] = [:]
    var planned: [PlannedBuffer] = []
    for index in 0..<count where source[index] == index && slice[index] == nil && !sliceViews.contains(index) {
      let sampleFloats = nodes[index].type.elementCount ?? 0
      bufferOf[index] = planned.count
      planned.append(
        PlannedBuffer(
          sampleFloats: sampleFloats, floats: sampleFloats * batchSize, arenaOffset: 0,
          firstStep: index, lastStep: index))
    }
    var locations: [ValueLocation?] = Array(repeating: nil, count: count)
    func locate(_ index: Int) -> ValueLocation {
      if let existing = locations[index] { return existing }
      let location: ValueLocation
      if source[index] != index {
        location = locate(source[index])
      } else if sliceViews.contains(index), case .sliceChannels(let a) = nodes[index].op {
        let inputLocation = locate(nodes[index].inputs[0].index)
        let plane = nodes[index].type.dims.dropFirst(2).reduce(1, *)
        location = ValueLocation(
          buffer: inputLocation.buffer, offset: inputLocation.offset + a.start * plane,
          sampleStride: inputLocation.sampleStride)
      } else if let (root, channel) = slice[index] {
        let rootLocation = locate(root)
        let plane = nodes[index].type.dims.dropFirst().reduce(1, *)
        location = ValueLocation(
          buffer: rootLocation.buffer, offset: rootLocation.offset + channel * plane,
          sampleStride: rootLocation.sampleStride)
      } else {
        let buffer = bufferOf[index]!
        location = ValueLocation(buffer: buffer, offset: 0, sampleStride: planned[buffer].sampleFloats)
      }
      locations[index] = location
      return location
    }
    for index in 0..<count { _ = locate(index) }
    self.locations = locations

    // Liveness: from the first write into a buffer to its last read.
    let consumers = graph.consumers
    let pinned = Set(graph.outputs + (graph.segmentation.map { [$0] } ?? [])).union(keepAlive)
    for index in 0..<count {
      let buffer = locations[index]!.buffer
      planned[buffer].firstStep = min(planned[buffer].firstStep, index)
      let readers = consumers[index].map(\.index) + (extraReads[index] ?? [])
      let lastRead = pinned.contains(NodeID(index)) ? count : (readers.max() ?? index)
      planned[buffer].lastStep = max(planned[buffer].lastStep, lastRead)
    }
    buffers = planned
    allocate()
  }

  private mutating func allocate() {
    let (offsets, arena) = Self.pack(buffers.map { (floats: $0.floats, first: $0.firstStep, last: $0.lastStep) })
    for index in buffers.indices { buffers[index].arenaOffset = offsets[index] }
    arenaFloats = arena
  }

  /// Greedy by size: largest intervals first, each at the lowest 64-byte-aligned offset
  /// clear of every placed one whose lifetime (first...last step) overlaps. Returns each
  /// interval's offset and the arena's size, in floats.
  static func pack(_ intervals: [(floats: Int, first: Int, last: Int)]) -> (offsets: [Int], arenaFloats: Int) {
    pack(lifetimes: intervals.map { (floats: $0.floats, spans: [$0.first...$0.last]) })
  }

  /// `pack` for buffers alive over several disjoint spans of steps (a value recomputed in
  /// the reverse is dead between its forward's last read and its recomputation): two
  /// buffers conflict when any of their spans overlap.
  static func pack(lifetimes: [(floats: Int, spans: [ClosedRange<Int>])]) -> (offsets: [Int], arenaFloats: Int) {
    let order = lifetimes.indices.sorted { (lifetimes[$0].floats, -$0) > (lifetimes[$1].floats, -$1) }
    var offsets = [Int](repeating: 0, count: lifetimes.count)
    var placed: [Int] = []
    var arena = 0
    for index in order {
      let lifetime = lifetimes[index]
      let overlapping = placed.filter { other in
        lifetimes[other].spans.contains { a in lifetime.spans.contains { a.overlaps($0) } }
      }
      .map { (start: offsets[$0], end: offsets[$0] + lifetimes[$0].floats) }
      .sorted { $0.start < $1.start }
      var offset = 0
      for range in overlapping {
        if offset + lifetime.floats <= range.start { break }
        offset = max(offset, aligned(range.end))
      }
      offsets[index] = offset
      arena = max(arena, offset + lifetime.floats)
      placed.append(index)
    }
    return (offsets, arena)
  }

  static func aligned(_ floats: Int) -> Int { (floats + 15) / 16 * 16 }

  /// The arena offset, in floats, of `node`'s value for sample 0.
  public func arenaOffset(of node: NodeID) -> Int {
    let location = locations[node.index]!
    return buffers[location.buffer].arenaOffset + location.offset
  }

  public func location(of node: NodeID) -> ValueLocation { locations[node.index]! }
}
