import GraphIR
import ModelLang
@testable import Runtime
import Testing
import TestSupport

@Suite struct MemoryPlanTests {
  /// A buffer dead between two spans (a value the reverse recomputes) lends its bytes to
  /// one that lives in the gap, and to none that overlaps either span.
  @Test func buffersShareTheGapBetweenSpans() {
    let (offsets, arena) = MemoryPlan.pack(lifetimes: [
      (floats: 100, spans: [0...2, 8...9]),  // kept in the forward, recomputed in the reverse
      (floats: 100, spans: [3...7]),  // lives in the gap: the same bytes
      (floats: 50, spans: [7...8]),  // overlaps the second span and the gap's buffer
    ])
    #expect(offsets[0] == offsets[1])
    #expect(offsets[2] >= 112 && arena == offsets[2] + 50, "\(offsets), arena \(arena)")
  }

  /// An arena larger than the machine's memory is refused with its size before anything is
  /// allocated (the allocator would abort the process).
  @Test func aBatchLargerThanMemoryIsRefused() throws {
    // 1024² images, 100 000 to a batch: hundreds of terabytes.
    let graph = try compileModel("tiny", options: CompileOptions(inputSize: Pair(square: 1024))).deploymentGraph()
    #expect {
      _ = try InferenceSession(graph: graph, weights: Initialization.weights(for: graph, seed: 0), weightsSource: "w", batchSize: 100_000, threads: 1)
    } throws: { error in
      "\(error)".contains("running tiny at batch 100000 needs") && "\(error)".contains("of memory; use a smaller batch")
    }
  }

  /// Buffers alive at the same step never share arena bytes.
  static func assertNoOverlap(_ plan: MemoryPlan) {
    for (i, a) in plan.buffers.enumerated() {
      for b in plan.buffers[(i + 1)...] where a.firstStep <= b.lastStep && b.firstStep <= a.lastStep {
        let disjoint = a.arenaOffset + a.floats <= b.arenaOffset || b.arenaOffset + b.floats <= a.arenaOffset
        #expect(disjoint, "buffers alive together overlap: \(a) and \(b)")
      }
      #expect(a.arenaOffset % 16 == 0 && a.arenaOffset + a.floats <= plan.arenaFloats)
    }
  }

  @Test(arguments: ["densenet121", "resnet18", "vgg_small", "tiny"])
  func plansAreSoundAndSmall(_ model: String) throws {
    let graph = try compileModel(model).deploymentGraph()
    for batch in [1, 3] {
      let plan = MemoryPlan(graph: graph, batchSize: batch)
      Self.assertNoOverlap(plan)
      // No plan can use less than the most floats alive at one step; greedy by size
      // should come close to that bound.
      let steps = plan.buffers.map(\.lastStep).max() ?? 0
      let bound = (0...steps).map { step in
        plan.buffers.filter { $0.firstStep <= step && step <= $0.lastStep }.reduce(0) { $0 + $1.floats }
      }.max() ?? 0
      #expect(plan.arenaFloats >= bound)
      #expect(Double(plan.arenaFloats) <= 1.25 * Double(bound), "\(model): arena \(plan.arenaFloats) floats, bound \(bound)")
    }
  }

  /// DenseNet's concatenations copy nothing: every producer writes into its slice of the
  /// block's buffer, and every layer's input is a prefix of that buffer.
  @Test func denseNetConcatenationsAreInPlace() throws {
    let graph = try compileModel("densenet121").deploymentGraph()
    let plan = MemoryPlan(graph: graph, batchSize: 2)
    #expect(plan.concatCopies.isEmpty)
    for (index, node) in graph.nodes.enumerated() where node.op == .concat {
      let output = plan.location(of: NodeID(index))
      var channel = 0
      for input in node.inputs {
        let location = plan.location(of: input)
        let plane = node.type.dims[1] * node.type.dims[2]
        #expect(location.buffer == output.buffer && location.offset == output.offset + channel * plane)
        #expect(location.sampleStride == output.sampleStride)
        channel += graph[input].type.dims[0]
      }
    }
    // Four dense blocks: the largest buffer holds block 1's 256 channels at 56×56.
    #expect(plan.buffers.map(\.sampleFloats).max() == 256 * 56 * 56)
  }

  @Test func aValueInTwoConcatenationsIsCopiedOnce() throws {
    var b = GraphBuilder(name: "g")
    let x = try b.addInput(dims: [2, 4, 4], range: InputAttributes(), name: "x")
    let r = try b.add(.relu, [x])
    let c1 = try b.add(.concat, [r, x])
    let c2 = try b.add(.concat, [x, r])
    let s = try b.add(.add, [c1, c2])
    let f = try b.add(.flatten, [s])
    b.setOutputs([f])
    let plan = MemoryPlan(graph: b.graph, batchSize: 1)
    Self.assertNoOverlap(plan)
    // c2 (planned first) takes x and r in place; c1 must copy both.
    #expect(plan.concatCopies == [c1.index: [r.index, x.index]])
    #expect(plan.location(of: f) == plan.location(of: s))
  }
}
