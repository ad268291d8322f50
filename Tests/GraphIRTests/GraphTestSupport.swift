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
  let sum = try b.add(.add, [r, g])
  let m = try b.add(.maxPool2d(Pool2DAttributes(kernel: Pair(square: 3), stride: Pair(square: 2), padding: Pair(square: 1))), [sum])
  let a = try b.add(.avgPool2d(Pool2DAttributes(kernel: Pair(square: 2))), [sum])
  let ap = try b.add(.adaptiveAvgPool2d(AdaptivePoolAttributes(outputSize: Pair(2, 2))), [a])
  let mp = try b.add(.adaptiveAvgPool2d(AdaptivePoolAttributes(outputSize: Pair(2, 2))), [m])
  let cat = try b.add(.concat, [ap, mp])
  let f = try b.add(.flatten, [cat])
  let d = try b.add(.dropout(DropoutAttributes(probability: 0.25)), [f])
  let l = try b.add(.linear(LinearAttributes(outFeatures: 5, hasBias: true)), [d], name: "head")
  b.setOutputs([l])
  return b.graph
}
