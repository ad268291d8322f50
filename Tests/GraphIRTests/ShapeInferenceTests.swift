import Testing

@testable import GraphIR

@Suite struct ShapeInferenceTests {
  let image = TensorType(dims: [16, 32, 30])

  @Test func convolutionFollowsPyTorchFormula() throws {
    // (H + 2p − d(k−1) − 1) / s + 1 for H = 32: (32 + 2 − 2·2 − 1) / 2 + 1 = 15.
    let op = Op.conv2d(Conv2DAttributes(outChannels: 4, kernel: Pair(3, 1), stride: Pair(2, 3), padding: Pair(1, 0), dilation: Pair(2, 1)))
    #expect(try op.inferType([image]).dims == [4, 15, 10])
    #expect(op.parameterSlots(input: image).map(\.shape) == [[4, 16, 3, 1], [4]])
  }

  @Test func groupedConvolutionNeedsDivisibleChannels() {
    let op = Op.conv2d(Conv2DAttributes(outChannels: 6, kernel: Pair(square: 1), groups: 4))
    #expect(throws: ShapeError("conv groups (4) must divide input channels (16) and output channels (6)")) {
      try op.inferType([image])
    }
  }

  @Test func poolingAndAdaptivePooling() throws {
    let max = Op.pool(.max(Pool2DAttributes(kernel: Pair(square: 3), stride: Pair(square: 2), padding: Pair(square: 1))))
    #expect(try max.inferType([image]).dims == [16, 16, 15])
    let avg = Op.pool(.average(Pool2DAttributes(kernel: Pair(square: 2))))
    #expect(try avg.inferType([image]).dims == [16, 16, 15])
    let adaptive = Op.pool(.adaptiveAverage(AdaptivePoolAttributes(outputSize: Pair(7, 7))))
    #expect(try adaptive.inferType([image]).dims == [16, 7, 7])
    #expect(throws: ShapeError("maxpool padding [2,2] must be at most half the kernel [3,3]")) {
      try Op.pool(.max(Pool2DAttributes(kernel: Pair(square: 3), padding: Pair(square: 2)))).inferType([image])
    }
  }

  @Test func concatNeedsEqualSpatialSizes() throws {
    #expect(try Op.concat.inferType([image, TensorType(dims: [8, 32, 30])]).dims == [24, 32, 30])
    #expect(throws: ShapeError("concat inputs differ in size: input 1 is [16, 32, 30], input 2 is [8, 16, 15] (only channels may differ)")) {
      try Op.concat.inferType([image, TensorType(dims: [8, 16, 15])])
    }
  }

  @Test func linearNeedsFlatInput() throws {
    let linear = Op.linear(LinearAttributes(outFeatures: 10))
    #expect(throws: ShapeError("linear needs a flat input [features], got [16, 32, 30]; flatten it first")) {
      try linear.inferType([image])
    }
    let flat = try Op.flatten.inferType([image])
    #expect(flat.dims == [15360])
    #expect(try linear.inferType([flat]).dims == [10])
  }

  @Test func arityAndAttributeChecks() {
    #expect(throws: ShapeError("add takes at least 2 inputs, got 1")) { try Op.add.inferType([image]) }
    #expect(throws: ShapeError("dropout p must be in [0, 1), got 1.0")) {
      try Op.dropout(DropoutAttributes(probability: 1)).inferType([image])
    }
    #expect(throws: ShapeError("conv stride must be between 1 and 16777216, got 0")) {
      try Op.conv2d(Conv2DAttributes(outChannels: 1, kernel: Pair(square: 1), stride: Pair(1, 0))).inferType([image])
    }
  }

  @Test func costCountsMultiplyAccumulates() throws {
    let graph = try everyOpGraph()
    // stem.conv: 8·9·11 outputs × 3 input channels × 3·5 kernel.
    #expect(graph.multiplyAccumulates(of: NodeID(1)) == 8 * 9 * 11 * 3 * 15)
    // grouped conv: 8·9·11 outputs × (8/4) channels × 3·3.
    #expect(graph.multiplyAccumulates(of: NodeID(4)) == 8 * 9 * 11 * 2 * 9)
    #expect(graph.multiplyAccumulates(of: NodeID(3)) == 0)
    // Bilinear upsampling: four per output; nearest: none; a product: one per output.
    #expect(graph.multiplyAccumulates(of: NodeID(8)) == 4 * 9 * 11)
    #expect(graph.multiplyAccumulates(of: NodeID(9)) == 0)
    #expect(graph.multiplyAccumulates(of: NodeID(10)) == 8 * 9 * 11)
    #expect(graph.multiplyAccumulates(of: NodeID(19)) == 5 * 64)
  }
}
