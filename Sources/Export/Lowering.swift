/// GraphIR → ONNX nodes, one GraphIR node at a time (see ONNXExport.swift for the layout).

import GraphIR

struct Lowering {
  let graph: Graph
  let weights: [String: ExportTensor]
  /// K': the classes each sample's relevance carries.
  let explained: Int
  let explain: ExplainedClasses
  var onnx: ONNXGraph

  /// Each node's value: forward [N, dims…]; relevance [N, K', dims.dropFirst()…].
  private var values: [String?]
  private var isRelevance: [Bool]
  /// Max pools' arg-max: within-plane indices [N, 1, C, Ho·Wo] (int64).
  private var argmax: [Int: String] = [:]
  private var needsArgmax: Set<Int> = []
  private var unsqueezed: [String: String] = [:]
  private var stabilized: [String: String] = [:]
  private var constants: [String: String] = [:]
  private var initializerNames: Set<String> = []
  /// Zᴮ constants by layer name: W'⁺, W'⁻ and the bound images' term.
  private var zBeta: [String: (positive: String, negative: String, bounds: String)] = [:]
  private var usedNames: Set<String> = []
  private var counter = 0

  init(graph: Graph, weights: [String: ExportTensor], explained: Int, explain: ExplainedClasses) {
    self.graph = graph
    self.weights = weights
    self.explained = explained
    self.explain = explain
    onnx = ONNXGraph(name: graph.name)
    values = Array(repeating: nil, count: graph.nodes.count)
    isRelevance = Array(repeating: false, count: graph.nodes.count)
    for node in graph.nodes {
      if case .poolTranspose(let a) = node.op, a.forward.lrpRule == .winnerTakesAll { needsArgmax.insert(node.inputs[1].index) }
    }
  }

  mutating func lower() throws(ExportError) {
    guard graph.inputIDs.count == 1 else { throw ExportError("the export needs a model with one input") }
    for index in graph.nodes.indices { try lower(index) }
    let logits = graph.outputs[0]
    if graph.outputKind == .segmentation {
      emit("Identity", [value(logits.index)], outputs: ["segmentation"])
      onnx.outputs.append(
        ONNXValueInfo(
          name: "segmentation", dims: [.symbol("N")] + graph[logits].type.dims.map { ONNXDimension.value($0) },
          docString: "the logit per pixel [N, 1, H, W] (foreground where positive)"))
      return
    }
    let k = graph[logits].type.dims[0]
    emit("Identity", [value(logits.index)], outputs: ["logits"])
    onnx.outputs.append(ONNXValueInfo(name: "logits", dims: [.symbol("N"), .value(k)], docString: "the classifier's logits [N, K]"))
    if graph.outputs.count > 1 {
      let maps = graph.outputs[1]
      emit("Identity", [value(maps.index)], outputs: ["heatmaps"])
      let dims = graph[maps].type.dims.dropFirst().map { ONNXDimension.value($0) }
      onnx.outputs.append(
        ONNXValueInfo(
          name: "heatmaps", dims: [.symbol("N"), .value(explained)] + dims,
          docString: "per sample and explained class, the LRP heatmap over the input [N, K', C, H, W]"))
    }
    if let head = graph.segmentation {
      emit("Identity", [value(head.index)], outputs: ["segmentation"])
      onnx.outputs.append(
        ONNXValueInfo(
          name: "segmentation", dims: [.symbol("N")] + graph[head].type.dims.map { ONNXDimension.value($0) },
          docString: "the segmentation head's logit per pixel [N, 1, H, W] (foreground where positive)"))
    }
  }

  // MARK: Names, nodes and constants

  private mutating func fresh(_ hint: String) -> String {
    var name = hint
    while usedNames.contains(name) {
      counter += 1
      name = "\(hint)_\(counter)"
    }
    usedNames.insert(name)
    return name
  }

  @discardableResult
  private mutating func emit(_ op: String, _ inputs: [String], _ attributes: [ONNXAttribute] = [], outputs: [String]) -> [String] {
    for output in outputs { usedNames.insert(output) }
    onnx.nodes.append(ONNXNode(opType: op, inputs: inputs, outputs: outputs, name: outputs[0], attributes: attributes))
    return outputs
  }

  /// One node with one fresh output named after `hint`.
  private mutating func op(_ op: String, _ inputs: [String], _ attributes: [ONNXAttribute] = [], hint: String) -> String {
    emit(op, inputs, attributes, outputs: [fresh(hint)])[0]
  }

  private mutating func constant(_ key: String, _ tensor: () -> ONNXTensor) -> String {
    if let name = constants[key] { return name }
    let name = fresh("const.\(key)")
    var t = tensor()
    t.name = name
    emit("Constant", [], [ONNXAttribute("value", .tensor(t))], outputs: [name])
    constants[key] = name
    return name
  }

  private mutating func ints(_ values: [Int]) -> String {
    constant("i64[\(values.map(String.init).joined(separator: ","))]") {
      ONNXTensor(name: "", dims: [values.count], values: .int64(values.map(Int64.init)))
    }
  }

  private mutating func scalar(_ value: Float) -> String {
    constant("f32(\(value.bitPattern))") { ONNXTensor(name: "", dims: [], values: .float([value])) }
  }

  private mutating func floats(_ key: String, dims: [Int], _ values: @autoclosure () -> [Float]) -> String {
    constant(key) { ONNXTensor(name: "", dims: dims, values: .float(values())) }
  }

  /// A parameter by its torchvision name, added as an initializer the first time.
  private mutating func parameter(_ name: String) -> String {
    if !initializerNames.contains(name) {
      let tensor = weights[name]!
      onnx.initializers.append(ONNXTensor(name: name, dims: tensor.shape, values: .float(tensor.values)))
      initializerNames.insert(name)
      usedNames.insert(name)
    }
    return name
  }

  private mutating func derived(_ name: String, dims: [Int], values: [Float], doc: String) -> String {
    if !initializerNames.contains(name) {
      onnx.initializers.append(ONNXTensor(name: name, dims: dims, values: .float(values), docString: doc))
      initializerNames.insert(name)
      usedNames.insert(name)
    }
    return name
  }

  private func value(_ index: Int) -> String { values[index]! }

  private func valueName(_ index: Int) -> String {
    let node = graph.nodes[index]
    let base = node.op.isLRPBlockOp || (node.op == .add && isRelevance[index]) ? "lrp.\(node.op.name)" : (node.name ?? node.op.name)
    return "\(base)#\(index)"
  }

  // MARK: Layout helpers

  /// Per-class dims of a relevance node (its GraphIR dims without the class axis).
  private func perClass(_ index: Int) -> [Int] { Array(graph.nodes[index].type.dims.dropFirst()) }

  /// [N, K', dims…] → [N·K', dims…].
  private mutating func foldClasses(_ r: String, _ dims: [Int]) -> String {
    op("Reshape", [r, ints([-1] + dims)], hint: r + ".rows")
  }

  /// [N·K', dims…] → [N, K', dims…].
  private mutating func unfoldClasses(_ r: String, _ dims: [Int], hint: String) -> String {
    op("Reshape", [r, ints([-1, explained] + dims)], hint: hint)
  }

  /// A forward value [N, …] as [N, 1, …], to broadcast over the classes.
  private mutating func broadcast(_ index: Int) -> String {
    let v = value(index)
    if let u = unsqueezed[v] { return u }
    let u = op("Unsqueeze", [v, ints([1])], hint: v + ".per_class")
    unsqueezed[v] = u
    return u
  }

  private func convAttributes(_ a: Conv2DAttributes) -> [ONNXAttribute] {
    [
      ONNXAttribute("kernel_shape", .ints([a.kernel.h, a.kernel.w])),
      ONNXAttribute("strides", .ints([a.stride.h, a.stride.w])),
      ONNXAttribute("pads", .ints([a.padding.h, a.padding.w, a.padding.h, a.padding.w])),
      ONNXAttribute("dilations", .ints([a.dilation.h, a.dilation.w])),
      ONNXAttribute("group", .int(a.groups)),
    ]
  }

  /// The attributes of the transpose of convolution `a` from `outputDims` [C, Ho, Wo] back
  /// to exactly `inputDims` [C, H, W]: output_padding adds the rows and columns the forward
  /// convolution's floor division dropped.
  private func transposeAttributes(_ a: Conv2DAttributes, inputDims: [Int], outputDims: [Int]) -> [ONNXAttribute] {
    func extra(_ size: Int, _ out: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int {
      size - ((out - 1) * s + (k - 1) * d + 1 - 2 * p)
    }
    let eh = extra(inputDims[1], outputDims[1], a.kernel.h, a.stride.h, a.padding.h, a.dilation.h)
    let ew = extra(inputDims[2], outputDims[2], a.kernel.w, a.stride.w, a.padding.w, a.dilation.w)
    return convAttributes(a) + [ONNXAttribute("output_padding", .ints([eh, ew]))]
  }

  /// convᵀ of relevance `r` [N, K', out, Ho, Wo] → [N, K', in, H, W].
  private mutating func transposedConvolution(
    _ r: String, _ a: Conv2DAttributes, weight: String, inputDims: [Int], outputDims: [Int], hint: String
  ) -> String {
    let rows = foldClasses(r, outputDims)
    let y = op("ConvTranspose", [rows, weight], transposeAttributes(a, inputDims: inputDims, outputDims: outputDims), hint: hint + ".rows")
    return unfoldClasses(y, inputDims, hint: hint)
  }

  /// A layer's weight and bias with its batch norm folded in, as isnetc binds them.
  private mutating func folded(layer: String, hasBias: Bool, outputs: Int, norm: FoldedNorm) -> (weight: String, bias: String) {
    let weightName = "\(layer).weight+\(norm.name)"
    let biasName = "\(layer).bias+\(norm.name)"
    if initializerNames.contains(weightName) { return (weightName, biasName) }
    let w = weights["\(layer).weight"]!
    let (scale, shift) = BatchNormFolding.scaleAndShift(
      gamma: weights["\(norm.name).weight"]!.values, beta: weights["\(norm.name).bias"]!.values,
      mean: weights["\(norm.name).running_mean"]!.values, variance: weights["\(norm.name).running_var"]!.values,
      epsilon: norm.epsilon)
    let (fw, fb) = BatchNormFolding.fold(weight: w.values, bias: hasBias ? weights["\(layer).bias"]!.values : nil, outputs: outputs, scale: scale, shift: shift)
    let doc = "\(layer).weight with batch norm \(norm.name) folded in: W·γ/sqrt(var + \(norm.epsilon))"
    return (
      derived(weightName, dims: w.shape, values: fw, doc: doc),
      derived(biasName, dims: [outputs], values: fb, doc: "\(hasBias ? "\(layer).bias" : "zero bias") with batch norm \(norm.name) folded in: b·γ/σ + β − μ·γ/σ")
    )
  }

  /// The weight and bias (nil: none) a convolution or linear layer runs with.
  private mutating func layerParameters(_ name: String, hasBias: Bool, outputs: Int, epilogue: Epilogue) -> (weight: String, bias: String?) {
    if let norm = epilogue.foldedNorm {
      let (w, b) = folded(layer: name, hasBias: hasBias, outputs: outputs, norm: norm)
      return (w, b)
    }
    return (parameter("\(name).weight"), hasBias ? parameter("\(name).bias") : nil)
  }

  // MARK: Ops

  private mutating func lower(_ index: Int) throws(ExportError) {
    let node = graph.nodes[index]
    let name = valueName(index)
    let inputs = node.inputs.map(\.index)
    func x(_ i: Int = 0) -> String { values[inputs[i]]! }
    switch node.op {
    case .input(let range):
      onnx.inputs.append(
        ONNXValueInfo(
          name: "input", dims: [.symbol("N")] + node.type.dims.map { .value($0) },
          docString: "images [N, C, H, W] with values in [\(range.low), \(range.high)]"))
      values[index] = "input"
      usedNames.insert("input")

    case .conv2d(let a):
      let (w, b) = layerParameters(node.name!, hasBias: a.hasBias, outputs: a.outChannels, epilogue: a.epilogue)
      var y = op("Conv", [x(), w] + (b.map { [$0] } ?? []), convAttributes(a), hint: name)
      if a.epilogue.relu { y = op("Relu", [y], hint: name + ".relu") }
      values[index] = y

    case .batchNorm(let a):
      let n = node.name!
      var y = op(
        "BatchNormalization",
        [x(), parameter("\(n).weight"), parameter("\(n).bias"), parameter("\(n).running_mean"), parameter("\(n).running_var")],
        [ONNXAttribute("epsilon", .float(Float(a.epsilon)))], hint: name)
      if a.fusedReLU { y = op("Relu", [y], hint: name + ".relu") }
      values[index] = y

    case .relu:
      values[index] = op("Relu", [x()], hint: name)

    case .elementwise(let function):
      values[index] = function.description.onnxOperators.reduce(x()) { y, operation in op(operation, [y], hint: name) }

    case .pool(let pooling):
      guard case .success(let form) = pooling.onnx(inputDims: graph.nodes[inputs[0]].type.dims) else {
        preconditionFailure("checked by ONNXExport.inexpressible")
      }
      var attributes: [ONNXAttribute] = []
      if let kernel = form.kernel { attributes.append(ONNXAttribute("kernel_shape", .ints(kernel))) }
      if let strides = form.strides { attributes.append(ONNXAttribute("strides", .ints(strides))) }
      if let pads = form.pads { attributes.append(ONNXAttribute("pads", .ints(pads))) }
      if let count = form.countIncludePad { attributes.append(ONNXAttribute("count_include_pad", .int(count))) }
      if needsArgmax.contains(index) {
        // A winner-take-all transpose reads the arg-max (ONNX: MaxPool's second output).
        let outputs = emit(form.operator, [x()], attributes, outputs: [fresh(name), fresh(name + ".argmax")])
        values[index] = outputs[0]
        // ONNX's indices run over the whole tensor (n·C·H·W + c·H·W + h·W + w): keep the
        // position in the plane, h·W + w, as isnetc's arg-max holds it.
        let inputDims = graph.nodes[inputs[0]].type.dims
        let plane = op("Mod", [outputs[1], ints([inputDims[1] * inputDims[2]])], hint: name + ".argmax_in_plane")
        let out = node.type.dims
        argmax[index] = op("Reshape", [plane, ints([-1, 1, out[0], out[1] * out[2]])], hint: name + ".argmax_rows")
      } else {
        values[index] = op(form.operator, [x()], attributes, hint: name)
      }

    case .linear(let a):
      let (w, b) = layerParameters(node.name!, hasBias: a.hasBias, outputs: a.outFeatures, epilogue: a.epilogue)
      var y = op("Gemm", [x(), w] + (b.map { [$0] } ?? []), [ONNXAttribute("transB", .int(1))], hint: name)
      if a.epilogue.relu { y = op("Relu", [y], hint: name + ".relu") }
      values[index] = y

    case .flatten:
      values[index] = op("Flatten", [x()], [ONNXAttribute("axis", .int(1))], hint: name)

    case .dropout:
      values[index] = x()

    case .concat:
      values[index] = inputs.count == 1 ? x() : op("Concat", inputs.map { values[$0]! }, [ONNXAttribute("axis", .int(1))], hint: name)

    case .add:
      isRelevance[index] = isRelevance[inputs[0]]
      var y = op("Add", [x(0), x(1)], hint: valueName(index))
      for i in 2..<max(2, inputs.count) { y = op("Add", [y, x(i)], hint: valueName(index)) }
      values[index] = y

    case .mul:
      // The gate [N, …] gains axes after N to align with x (ONNX broadcasts from the right).
      isRelevance[index] = isRelevance[inputs[0]]
      let extra = graph.nodes[inputs[0]].type.rank - graph.nodes[inputs[1]].type.rank
      let gate = extra == 0 ? x(1) : op("Unsqueeze", [x(1), ints(Array(1...extra))], hint: x(1) + ".aligned")
      values[index] = op("Mul", [x(0), gate], hint: valueName(index))

    case .upsample(let a):
      // Nearest: source pixel ⌊o/s⌋ (asymmetric, floor); bilinear: PyTorch's
      // align_corners=False (half_pixel, edges clamped).
      let attributes: [ONNXAttribute] = switch a.mode {
      case .nearest:
        [ONNXAttribute("mode", .string("nearest")), ONNXAttribute("coordinate_transformation_mode", .string("asymmetric")),
         ONNXAttribute("nearest_mode", .string("floor"))]
      case .bilinear:
        [ONNXAttribute("mode", .string("linear")), ONNXAttribute("coordinate_transformation_mode", .string("half_pixel"))]
      }
      let scales = floats("scales\(a.scale.h)x\(a.scale.w)", dims: [4], [1, 1, Float(a.scale.h), Float(a.scale.w)])
      values[index] = op("Resize", [x(), "", scales], attributes, hint: name)

    // The LRP block.
    case .lrpSeed(let a):
      // The exported graph picks its classes with --explain; a run-time choice per sample
      // is the training session's.
      guard !a.onePerSample else { throw ExportError("internal error: an LRP block with one class per sample chosen at run time is not exported; --explain top|LIST picks the classes") }
      isRelevance[index] = true
      let k = graph.nodes[inputs[0]].type.dims[0]
      let logits = broadcast(inputs[0])  // [N, 1, K]
      let selector: String
      switch explain {
      case .all:
        selector = floats("eye\(k)", dims: [k, k], (0..<k * k).map { $0 / k == $0 % k ? 1 : 0 })
      case .list(let list):
        var rows = [Float](repeating: 0, count: list.count * k)
        for (i, c) in list.enumerated() { rows[i * k + c] = 1 }
        selector = floats("select\(list.map(String.init).joined(separator: "_"))of\(k)", dims: [list.count, k], rows)
      case .top:
        let best = op("ArgMax", [value(inputs[0])], [ONNXAttribute("axis", .int(1)), ONNXAttribute("keepdims", .int(1))], hint: name + ".top")
        selector = op("OneHot", [best, ints([k]), floats("zero_one", dims: [2], [0, 1])], [ONNXAttribute("axis", .int(-1))], hint: name + ".one_hot")
      }
      values[index] = op("Mul", [logits, selector], hint: name)

    case .lrpEpsilonDivide(let a):
      isRelevance[index] = true
      values[index] = op("Div", [x(0), stabilizedDenominator(inputs[1], epsilon: a.epsilon)], hint: name)

    case .lrpMultiply:
      isRelevance[index] = true
      values[index] = op("Mul", [broadcast(inputs[0]), x(1)], hint: name)

    case .batchNormTranspose(let a):
      isRelevance[index] = true
      let n = node.name!
      // γ/σ per channel, computed in the graph from the shared parameters.
      let sigma = op("Sqrt", [op("Add", [parameter("\(n).running_var"), scalar(Float(a.epsilon))], hint: "\(n).var_eps")], hint: "\(n).sigma")
      let scale = op("Div", [parameter("\(n).weight"), sigma], hint: "\(n).gamma_over_sigma")
      let dims = perClass(index)
      let shaped = op("Reshape", [scale, ints([dims[0]] + Array(repeating: 1, count: dims.count - 1))], hint: "\(n).gamma_over_sigma.per_channel")
      values[index] = op("Mul", [x(), shaped], hint: name)

    case .conv2dTranspose(let a):
      isRelevance[index] = true
      values[index] = transposedConvolution(
        x(), a.forward, weight: parameter("\(node.name!).weight"), inputDims: a.inputDims, outputDims: perClass(inputs[0]), hint: name)

    case .linearTranspose:
      isRelevance[index] = true
      values[index] = op("MatMul", [x(), parameter("\(node.name!).weight")], hint: name)

    case .poolTranspose(let a) where a.forward.lrpRule == .epsilonLayer:
      isRelevance[index] = true
      let (conv, inputDims) = (a.forward.asConvolution(inputDims: a.inputDims)!, a.inputDims)
      let window = conv.kernel.h * conv.kernel.w
      let channels = inputDims[0]
      let kernel = floats(
        "mean\(channels)x\(conv.kernel.h)x\(conv.kernel.w)", dims: [channels, 1, conv.kernel.h, conv.kernel.w],
        [Float](repeating: 1 / Float(window), count: channels * window))
      values[index] = transposedConvolution(x(), conv, weight: kernel, inputDims: inputDims, outputDims: perClass(inputs[0]), hint: name)

    case .poolTranspose(let a):
      // Winner-take-all: each value to its window's arg-max.
      isRelevance[index] = true
      let out = perClass(inputs[0])
      let plane = a.inputDims[1] * a.inputDims[2]
      let rows = op("Reshape", [x(), ints([-1, explained, out[0], out[1] * out[2]])], hint: name + ".rows")
      let shape = op("Shape", [rows], hint: name + ".shape")
      let indices = op("Expand", [argmax[inputs[1]]!, shape], hint: name + ".indices")
      let outerDims = op("Slice", [shape, ints([0]), ints([3])], hint: name + ".outer")
      let target = op("Concat", [outerDims, ints([plane])], [ONNXAttribute("axis", .int(0))], hint: name + ".target_shape")
      let zeros = op("ConstantOfShape", [target], [ONNXAttribute("value", .tensor(ONNXTensor(name: "zero", dims: [1], values: .float([0]))))], hint: name + ".zeros")
      // Each value goes to its window's arg-max; values sharing one are summed, in the
      // order of the pooled positions, as isnetc sums them.
      let routed = op(
        "ScatterElements", [zeros, indices, rows], [ONNXAttribute("axis", .int(3)), ONNXAttribute("reduction", .string("add"))],
        hint: name + ".routed")
      values[index] = op("Reshape", [routed, ints([-1, explained] + a.inputDims)], hint: name)

    case .sliceChannels(let a):
      isRelevance[index] = true
      values[index] = op("Slice", [x(), ints([a.start]), ints([a.start + a.count]), ints([2])], hint: name)

    case .unflatten(let a):
      isRelevance[index] = true
      values[index] = op("Reshape", [x(), ints([-1, explained] + a.dims)], hint: name)

    case .zbPreactivation(let a):
      let c = zBetaConstants(node.name!, a)
      let (w, b) = zBetaFolded(node.name!, a)
      let z = op("Conv", [x(), w, b], convAttributes(a.conv), hint: name + ".conv")
      // z = conv(x, W', b') − [conv(L, W'⁺, l·b'⁺) + conv(H, W'⁻, h·b'⁻)]
      values[index] = op("Sub", [z, c.bounds], hint: name)

    case .zbRelevance(let a):
      isRelevance[index] = true
      let c = zBetaConstants(node.name!, a)
      let outDims = perClass(inputs[1])
      let positive = transposedConvolution(x(1), a.conv, weight: c.positive, inputDims: a.inputDims, outputDims: outDims, hint: name + ".positive")
      let negative = transposedConvolution(x(1), a.conv, weight: c.negative, inputDims: a.inputDims, outputDims: outDims, hint: name + ".negative")
      let image = broadcast(inputs[0])
      let low = op("Sub", [image, scalar(Float(a.low))], hint: name + ".x_minus_l")
      let high = op("Sub", [image, scalar(Float(a.high))], hint: name + ".x_minus_h")
      // (x − l) ⊙ convᵀ(s, W'⁺) + (x − h) ⊙ convᵀ(s, W'⁻)
      values[index] = op(
        "Add", [op("Mul", [low, positive], hint: name + ".low_term"), op("Mul", [high, negative], hint: name + ".high_term")],
        hint: name)
    }
  }

  /// z + ε·sign(z), sign(0) = +1, as [N, 1, …] (computed once per z and ε).
  private mutating func stabilizedDenominator(_ z: Int, epsilon: Double) -> String {
    let key = "\(z)/\(epsilon)"
    if let d = stabilized[key] { return d }
    let zb = broadcast(z)
    let e = Float(epsilon)
    let nonNegative = op("GreaterOrEqual", [zb, scalar(0)], hint: zb + ".nonnegative")
    let shift = op("Where", [nonNegative, scalar(e), scalar(-e)], hint: zb + ".eps_sign")
    let d = op("Add", [zb, shift], hint: zb + ".stabilized")
    stabilized[key] = d
    return d
  }

  /// The Zᴮ layer's W' and b' (batch norm folded in as isnetc folds it; a zero bias when
  /// the convolution has none).
  private mutating func zBetaFolded(_ layer: String, _ a: ZBetaAttributes) -> (weight: String, bias: String) {
    if let norm = a.conv.epilogue.foldedNorm {
      return folded(layer: layer, hasBias: a.conv.hasBias, outputs: a.conv.outChannels, norm: norm)
    }
    let w = parameter("\(layer).weight")
    let b = a.conv.hasBias ? parameter("\(layer).bias") : floats("zeros\(a.conv.outChannels)", dims: [a.conv.outChannels], [Float](repeating: 0, count: a.conv.outChannels))
    return (w, b)
  }

  /// W'⁺ = max(0, W'), W'⁻ = min(0, W') and conv(L, W'⁺, l·b'⁺) + conv(H, W'⁻, h·b'⁻)
  /// [1, out, Ho, Wo], with L and H constant images of the input's bounds (zero-padded by
  /// the convolution like x), all computed in the graph.
  private mutating func zBetaConstants(_ layer: String, _ a: ZBetaAttributes) -> (positive: String, negative: String, bounds: String) {
    if let c = zBeta[layer] { return c }
    let (w, b) = zBetaFolded(layer, a)
    let zero = scalar(0)
    let positive = op("Relu", [w], hint: "\(layer).zb_positive_weight")
    let negative = op("Min", [w, zero], hint: "\(layer).zb_negative_weight")
    let lowBias = op("Mul", [op("Relu", [b], hint: "\(layer).zb_positive_bias"), scalar(Float(a.low))], hint: "\(layer).zb_low_bias")
    let highBias = op("Mul", [op("Min", [b, zero], hint: "\(layer).zb_negative_bias"), scalar(Float(a.high))], hint: "\(layer).zb_high_bias")
    func image(_ v: Double, _ hint: String) -> ONNXAttribute {
      ONNXAttribute("value", .tensor(ONNXTensor(name: hint, dims: [1], values: .float([Float(v)]))))
    }
    let shape = ints([1] + a.inputDims)
    let lowImage = op("ConstantOfShape", [shape], [image(a.low, "low")], hint: "\(layer).zb_low_image")
    let highImage = op("ConstantOfShape", [shape], [image(a.high, "high")], hint: "\(layer).zb_high_image")
    let lowTerm = op("Conv", [lowImage, positive, lowBias], convAttributes(a.conv), hint: "\(layer).zb_low_term")
    let highTerm = op("Conv", [highImage, negative, highBias], convAttributes(a.conv), hint: "\(layer).zb_high_term")
    let bounds = op("Add", [lowTerm, highTerm], hint: "\(layer).zb_bounds_term")
    let c = (positive, negative, bounds)
    zBeta[layer] = c
    return c
  }
}
