import Testing

@testable import GraphIR

@Suite struct DeploymentPassTests {
  /// conv → bn → relu folds and fuses into one node; a conv read twice keeps its norm
  /// separate; dropout disappears; a ReLU that is the output fuses into its producer,
  /// which becomes the output.
  @Test func foldsOnlyWhereExact() throws {
    var b = GraphBuilder(name: "g")
    let x = try b.addInput(dims: [3, 8, 8], range: InputAttributes(), name: "x")
    let c1 = try b.add(.conv2d(Conv2DAttributes(outChannels: 4, kernel: Pair(square: 3), padding: Pair(square: 1), hasBias: false)), [x], name: "c1")
    let n1 = try b.add(.batchNorm(BatchNormAttributes(epsilon: 1e-3)), [c1], name: "n1")
    let r1 = try b.add(.relu, [n1])
    let c2 = try b.add(.conv2d(Conv2DAttributes(outChannels: 4, kernel: Pair(square: 1))), [r1], name: "c2")
    let n2 = try b.add(.batchNorm(BatchNormAttributes()), [c2], name: "n2")
    let sum = try b.add(.add, [n2, c2])  // c2 read twice: n2 cannot fold into it
    let r2 = try b.add(.relu, [sum])
    let d = try b.add(.dropout(DropoutAttributes()), [r2])
    let f = try b.add(.flatten, [d])
    let l = try b.add(.linear(LinearAttributes(outFeatures: 2)), [f], name: "fc")
    let r3 = try b.add(.relu, [l])
    b.setOutputs([r3])
    let deployed = b.graph.deploymentGraph()
    #expect(deployed.verify().isEmpty)
    #expect(deployed.text == """
      graph g -> softmax {
        %0 = input() @x {range=[0.0,1.0]} : f32[N,3,8,8]
        %1 = conv(%0) @c1 {out=4, kernel=[3,3], stride=[1,1], pad=[1,1], dilation=[1,1], groups=1, bias=false, fold=n1, fold_eps=0.001, relu=true} : f32[N,4,8,8]
        %2 = conv(%1) @c2 {out=4, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true} : f32[N,4,8,8]
        %3 = bn(%2) @n2 {eps=1e-05, momentum=0.1} : f32[N,4,8,8]
        %4 = add(%3, %2) : f32[N,4,8,8]
        %5 = relu(%4) : f32[N,4,8,8]
        %6 = flatten(%5) : f32[N,256]
        %7 = linear(%6) @fc {out=2, bias=true, relu=true} : f32[N,2]
        return %7
      }

      """)
    // The folded norm's parameters are still read, under its own name.
    #expect(deployed.parameters.map(\.name).prefix(5) == ["c1.weight", "n1.weight", "n1.bias", "n1.running_mean", "n1.running_var"])
  }
}
