@testable import GraphIR

/// A small graph that uses every op kind, built through the builder.
func everyOpGraph() throws -> Graph {
  var b = GraphBuilder(name: "every_op", outputKind: .sigmoid)
  let x = try b.addInput(dims: [3, 17, 15], range: InputAttributes(low: -1, high: 2.5), name: "image")
  let c = try b.add(
    .conv2d(Conv2DAttributes(outChannels: 8, kernel: Pair(3, 5), stride: Pair(2, 1), padding: Pair(1, 2), dilation: Pair(1, 2), groups: 1, hasBias: true)),
    [x], name: "stem.conv")
  let n = try b.add(.batchNorm(BatchNormAttributes(epsilon: 1e-3, momentum: 0.01)), [c], name: "stem.bn")
  let r = try b.add(.relu, [n])
  let g = try b.add(.conv2d(Conv2DAttributes(outChannels: 8, kernel: Pair(square: 3), padding: Pair(square: 1), groups: 4, hasBias: false)), [r], name: "grouped")
  let added = try b.add(.add, [r, g])
  // Gates: a one-channel bilinear one and a full nearest one ([8, 9, 11] from [.., 3, 11]).
  let coarse = try b.add(.pool(.average(Pool2DAttributes(kernel: Pair(3, 1)))), [added])
  let gate = try b.add(.conv2d(Conv2DAttributes(outChannels: 1, kernel: Pair(square: 1))), [coarse], name: "gate")
  let smooth = try b.add(.upsample(UpsampleAttributes(scale: Pair(3, 1), mode: .bilinear)), [gate])
  let blocky = try b.add(.upsample(UpsampleAttributes(scale: Pair(3, 1), mode: .nearest)), [coarse])
  let sum = try b.add(.mul, [try b.add(.mul, [added, smooth]), blocky])
  let m = try b.add(.pool(.max(Pool2DAttributes(kernel: Pair(square: 3), stride: Pair(square: 2), padding: Pair(square: 1)))), [sum])
  let a = try b.add(.pool(.average(Pool2DAttributes(kernel: Pair(square: 2)))), [sum])
  let ap = try b.add(.pool(.adaptiveAverage(AdaptivePoolAttributes(outputSize: Pair(2, 2)))), [a])
  let mp = try b.add(.pool(.adaptiveAverage(AdaptivePoolAttributes(outputSize: Pair(2, 2)))), [m])
  let cat = try b.add(.concat, [ap, mp])
  let f = try b.add(.flatten, [cat])
  let d = try b.add(.dropout(DropoutAttributes(probability: 0.25)), [f])
  let l = try b.add(.linear(LinearAttributes(outFeatures: 5, hasBias: true)), [d], name: "head")
  b.setOutputs([l])
  return b.graph
}

/// A small classifier followed by nodes of every LRP-block op kind, shapes consistent.
func everyLRPOpGraph() throws -> Graph {
  var b = GraphBuilder(name: "every_lrp_op")
  let x = try b.addInput(dims: [3, 8, 8], range: InputAttributes(low: 0, high: 1), name: "image")
  let convAttributes = Conv2DAttributes(outChannels: 4, kernel: Pair(square: 3), padding: Pair(square: 1), hasBias: false)
  let norm = BatchNormAttributes()
  let c = try b.add(.conv2d(convAttributes), [x], name: "conv")
  let n = try b.add(.batchNorm(norm), [c], name: "bn")
  let r = try b.add(.relu, [n])
  let maxPool = Pool2DAttributes(kernel: Pair(square: 2))
  let m = try b.add(.pool(.max(maxPool)), [r])
  let avgPool = Pool2DAttributes(kernel: Pair(square: 2))
  let a = try b.add(.pool(.average(avgPool)), [m])
  let adaptive = AdaptivePoolAttributes(outputSize: Pair(1, 1))
  let ap = try b.add(.pool(.adaptiveAverage(adaptive)), [a])
  let f = try b.add(.flatten, [ap])
  let logits = try b.add(.linear(LinearAttributes(outFeatures: 3)), [f], name: "fc")

  let seed = try b.add(.lrpSeed(LRPSeedAttributes()), [logits])
  let s = try b.add(.lrpEpsilonDivide(EpsilonAttributes(epsilon: 0.01)), [seed, logits])
  let lt = try b.add(.linearTranspose(LinearTransposeAttributes(inFeatures: 4, outFeatures: 3)), [s], name: "fc")
  let u = try b.add(.unflatten(UnflattenAttributes(dims: [4, 1, 1])), [lt])
  let apt = try b.add(.poolTranspose(PoolTransposeAttributes(forward: .adaptiveAverage(adaptive), inputDims: [4, 2, 2])), [u])
  let avt = try b.add(.poolTranspose(PoolTransposeAttributes(forward: .average(avgPool), inputDims: [4, 4, 4])), [apt])
  let mu = try b.add(.poolTranspose(PoolTransposeAttributes(forward: .max(maxPool), inputDims: [4, 8, 8])), [avt, m])
  let rm = try b.add(.lrpMultiply, [r, mu])
  let bnt = try b.add(.batchNormTranspose(norm), [rm], name: "bn")
  let ct = try b.add(.conv2dTranspose(ConvTransposeAttributes(forward: convAttributes, inputDims: [3, 8, 8])), [bnt], name: "conv")
  let slice = try b.add(.sliceChannels(SliceAttributes(start: 1, count: 2)), [ct])
  var folded = convAttributes
  folded.epilogue.foldedNorm = FoldedNorm(name: "bn", epsilon: norm.epsilon)
  let zb = ZBetaAttributes(conv: folded, inputDims: [3, 8, 8], low: 0, high: 1)
  let zp = try b.add(.zbPreactivation(zb), [x], name: "conv")
  let zs = try b.add(.lrpEpsilonDivide(EpsilonAttributes(epsilon: 0.01)), [rm, zp])
  let zr = try b.add(.zbRelevance(zb), [x, zs], name: "conv")
  b.setOutputs([logits, zr, slice])
  return b.graph
}
