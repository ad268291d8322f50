/// `isnetc init`: fresh weights the way torchvision initialises its DenseNet (and, for
/// the layers they share, ResNet and VGG): convolutions Kaiming-normal with fan-in and ReLU
/// gain (std = sqrt(2 / fan_in)); batch norm γ = 1, β = 0, running mean 0 and variance 1;
/// linear layers PyTorch's default U(−1/sqrt(fan_in), 1/sqrt(fan_in)) for weights, with
/// bias 0 as DenseNet sets it; convolution biases PyTorch's default, the same uniform.
///
/// The random numbers come from a seeded SplitMix64 stream, consumed parameter by
/// parameter in the graph's order, so a seed always gives the same file.

import Foundation
import GraphIR
import SeededRandom

public enum Initialization {
  public static func weights(for graph: Graph, seed: UInt64) -> WeightTable {
    var random = SplitMix64(seed: seed)
    var table: WeightTable = [:]
    for parameter in graph.parameters {
      let count = parameter.elementCount
      let node = graph[parameter.owner]
      let fanIn = parameter.shape.count > 1 ? parameter.shape.dropFirst().reduce(1, *) : 1
      var values: [Float]
      switch (node.op, parameter.role) {
      case (.batchNorm, .weight), (_, .runningVar): values = Array(repeating: 1, count: count)
      case (.batchNorm, .bias), (_, .runningMean): values = Array(repeating: 0, count: count)
      case (.conv2d, .weight):
        let std = (2.0 / Double(fanIn)).squareRoot()
        values = (0..<count).map { _ in Float(random.normal() * std) }
      case (.linear, .weight):
        values = uniform(count, bound: 1 / Double(fanIn).squareRoot(), &random)
      case (.linear, .bias):
        values = Array(repeating: 0, count: count)
      case (.conv2d, .bias):
        let weightFanIn = graph.parameters.first { $0.owner == parameter.owner && $0.role == .weight }
          .map { $0.shape.dropFirst().reduce(1, *) } ?? 1
        values = uniform(count, bound: 1 / Double(weightFanIn).squareRoot(), &random)
      default:
        values = Array(repeating: 0, count: count)
      }
      table[parameter.name] = HostTensor(shape: parameter.shape, values: values)
    }
    return table
  }

  private static func uniform(_ count: Int, bound: Double, _ random: inout SplitMix64) -> [Float] {
    (0..<count).map { _ in Float((random.unit() * 2 - 1) * bound) }
  }
}
