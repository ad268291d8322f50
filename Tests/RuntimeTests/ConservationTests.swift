import GraphIR
import LRPTransform
import ModelLang
import Runtime
import Testing
import TestSupport

/// LRP conserves relevance: with ε → 0 and no biases anywhere (conv and linear biases,
/// batch-norm shifts and running means zero; γ and the running variances random), every
/// step redistributes exactly what it receives, so each class's heatmap sums to its logit.
/// Checked on generated DenseNets and ResNets of random depth and width, and on VGG-style
/// nets with max and average pooling.
@Suite struct ConservationTests {
  typealias Random = SplitMix64

  static func denseNet(_ r: inout Random) -> String {
    let growth = r.int(2...6), bnSize = r.int(1...3), blocks = r.int(1...3), size = 8 * r.int(3...5)
    var c = r.int(4...12)
    var body = "x = conv(input, out: \(c), k: 7, stride: 2, pad: 3, bias: false) @ \"conv0\"; x = bn(x) @ \"norm0\"; x = relu(x);\n"
    body += "x = maxpool(x, k: 3, stride: 2, pad: 1);\n"
    for block in 1...blocks {
      let layers = r.int(1...4)
      body += "x = dense_block(x, layers: \(layers), growth: \(growth), bn_size: \(bnSize)) @ \"denseblock\(block)\";\n"
      c += layers * growth
      if block < blocks {
        c /= 2
        body += "x = transition(x, out: \(c)) @ \"transition\(block)\";\n"
      }
    }
    body += "x = bn(x) @ \"norm5\"; x = relu(x); x = global_avgpool(x); x = dropout(x, p: 0.5);\n"
    return """
      isnet 1;
      import "densenet_blocks.isnet";
      model generated(input: f32[3, \(size), \(size)] in [0, 1], classes: int = \(r.int(2...5))) {
        \(body)  return linear(x, out: classes) @ "classifier";
      }
      """
  }

  static func resNet(_ r: inout Random) -> String {
    var width = r.int(4...10)
    let size = 8 * r.int(3...5)
    var body = "x = conv(input, out: \(width), k: 3, stride: 1, pad: 1, bias: false) @ \"conv1\"; x = bn(x) @ \"bn1\"; x = relu(x);\n"
    body += "x = maxpool(x, k: 3, stride: 2, pad: 1);\n"
    for stage in 1...r.int(1...3) {
      if stage > 1 {
        width += r.int(2...6)
        body += "x = down(x, planes: \(width)) @ \"down\(stage)\";\n"
      }
      for block in 0..<r.int(1...2) { body += "x = same(x, planes: \(width)) @ \"block\(stage).\(block)\";\n" }
    }
    body += "x = adaptive_avgpool(x, out: 1); x = flatten(x);\n"
    return """
      isnet 1;
      block same(x, planes: int) {
        h = conv(x, out: planes, k: 3, pad: 1, bias: false) @ "conv1"; h = bn(h) @ "bn1"; h = relu(h);
        h = conv(h, out: planes, k: 3, pad: 1, bias: false) @ "conv2"; h = bn(h) @ "bn2";
        return relu(add(h, x));
      }
      block down(x, planes: int) {
        h = conv(x, out: planes, k: 3, stride: 2, pad: 1, bias: false) @ "conv1"; h = bn(h) @ "bn1"; h = relu(h);
        h = conv(h, out: planes, k: 3, pad: 1, bias: false) @ "conv2"; h = bn(h) @ "bn2";
        s = conv(x, out: planes, k: 1, stride: 2, bias: false) @ "sc"; s = bn(s) @ "scbn";
        return relu(add(h, s));
      }
      model generated(input: f32[3, \(size), \(size)] in [0, 1], classes: int = \(r.int(2...5))) {
        \(body)  return linear(x, out: classes) @ "fc";
      }
      """
  }

  static func vgg(_ r: inout Random) -> String {
    var body = ""
    for stage in 0..<r.int(2...3) {
      body += "x = conv(x, out: \(r.int(3...9)), k: 3, pad: 1) @ \"conv\(stage)\"; x = relu(x);\n"
      body += stage % 2 == 0 ? "x = maxpool(x, k: 2);\n" : "x = avgpool(x, k: 2);\n"
    }
    return """
      isnet 1;
      model generated(input: f32[3, 32, 32] in [-1, 1], classes: int = \(r.int(2...5))) {
        x = input;
        \(body)  x = flatten(x); x = linear(x, out: \(r.int(4...12))) @ "fc1"; x = relu(x);
        return linear(x, out: classes) @ "fc2";
      }
      """
  }

  /// Attention-gated: a one-channel gate (2x2 stride-2 convolution, sigmoid, bilinear x2)
  /// and a coarser one (4x4 stride 4, nearest x4) weighing a batch norm's output before its
  /// ReLU. Gates are constants to LRP, so each product is one more linear map of the step
  /// and relevance is conserved.
  static func gated(_ r: inout Random) -> String {
    """
      isnet 1;
      model generated(input: f32[3, 16, 16] in [0, 1], classes: int = \(r.int(2...5))) {
        x = conv(input, out: \(r.int(3...8)), k: 3, pad: 1) @ "conv0"; x = relu(x);
        g = conv(x, out: 1, k: 2, stride: 2) @ "psi"; g = upsample_bilinear(sigmoid(g), scale: 2);
        q = conv(x, out: 1, k: 4, stride: 4) @ "theta"; q = upsample_nearest(sigmoid(q), scale: 4);
        x = conv(x, out: \(r.int(3...8)), k: 3, pad: 1, bias: false) @ "conv1"; x = bn(x) @ "bn1";
        x = relu(mul(mul(x, g), q));
        x = maxpool(x, k: 2);
        return linear(global_avgpool(x), out: classes) @ "fc";
      }
      """
  }

  /// Seeded weights with every bias and shift zero: the network is linear between ReLUs.
  static func biasFreeWeights(_ graph: Graph, _ r: inout Random) -> WeightTable {
    var weights = Initialization.weights(for: graph, seed: r.next())
    for parameter in graph.parameters {
      let isNorm = graph[parameter.owner].op.name == "bn"
      let count = parameter.elementCount
      switch parameter.role {
      case .bias, .runningMean: weights[parameter.name]!.values = Array(repeating: 0, count: count)
      case .runningVar: weights[parameter.name]!.values = (0..<count).map { _ in r.float(0.5, 2) }
      case .weight where isNorm: weights[parameter.name]!.values = (0..<count).map { _ in r.float(0.5, 1.5) }
      case .weight: break
      }
    }
    return weights
  }

  @Test(arguments: [
    (0, "densenet"), (1, "densenet"), (2, "densenet"), (3, "resnet"), (4, "resnet"), (5, "resnet"), (6, "vgg"), (7, "vgg"),
    (8, "gated"), (9, "gated"),
  ])
  func heatmapsSumToLogits(seed: UInt64, kind: String) throws {
    var r = Random(seed: seed)
    let source = switch kind {
    case "densenet": Self.denseNet(&r)
    case "resnet": Self.resNet(&r)
    case "gated": Self.gated(&r)
    default: Self.vgg(&r)
    }
    let blocks = try Repository.read("models/densenet_blocks.isnet")
    let compilation = compileSources(["m.isnet": source, "densenet_blocks.isnet": blocks])
    guard let classifier = compilation.graph else {
      Issue.record("generated model does not compile:\n\(compilation.renderedDiagnostics)\n\(source)")
      return
    }
    let graph = try classifier.withLRPBlock(LRPOptions(epsilon: 1e-9))
    let batch = 2
    let session = try InferenceSession(graph: graph, weights: Self.biasFreeWeights(classifier, &r), weightsSource: "generated", batchSize: batch, threads: testThreads)
    let input = graph[graph.inputIDs[0]]
    guard case .input(let range) = input.op else { return }
    let perSample = input.type.elementCount!
    let x = (0..<(batch * perSample)).map { _ in r.float(Float(range.low), Float(range.high)) }
    let logits = try session.run(x, samples: batch)
    let heatmaps = session.values(of: graph.outputs[1], samples: batch)
    let classes = logits.count / batch
    let largest = logits.map { abs(Double($0)) }.max() ?? 1
    // Exact conservation; the float32 LRP pass rounds along its longest chain of sums, an
    // error relative to the magnitude of what it sums: the larger of the largest logit and
    // the map's Σ|R| (positive and negative relevance cancel in the sum).
    let bound = Float32Bound.network(graph)
    var worst = 0.0
    var magnitude = largest
    for b in 0..<batch {
      for k in 0..<classes {
        let start = (b * classes + k) * perSample
        let map = heatmaps[start..<(start + perSample)]
        let sum = map.reduce(0.0) { $0 + Double($1) }
        let error = abs(sum - Double(logits[b * classes + k]))
        let scale = max(largest, map.reduce(0.0) { $0 + abs(Double($1)) })
        if error / scale > worst / magnitude { (worst, magnitude) = (error, scale) }
      }
    }
    print("\(kind) \(seed): conservation error \(worst / magnitude) of the magnitude summed, bound \(bound)")
    #expect(worst <= bound * magnitude, "\(kind) \(seed): heatmap sums differ from the logits by \(worst) (magnitude summed \(magnitude))\n\(source)")
  }
}
