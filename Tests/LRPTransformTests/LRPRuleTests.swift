import GraphIR
import LRPTransform
import Testing
import TestSupport

/// One small graph per LRP rule, with the LRP block it derives written out: what each rule
/// emits, readable without a whole model (paper sections 4.1, 4.4).
@Suite struct LRPRuleTests {
  static func block(_ body: String, input: String = "f32[2, 4, 4] in [0, 1]", options: LRPOptions = LRPOptions()) throws -> String {
    let graph = try compileSource("isnet 1;\nmodel m(input: \(input)) {\n\(body)\n}\n")
    let lrp = try graph.withLRPBlock(options)
    #expect(lrp.verify().isEmpty)
    // Only the LRP block: the nodes after the classifier's.
    return lrp.text.split(separator: "\n").filter { line in
      guard let number = line.split(separator: " ").first?.dropFirst(), let index = Int(number) else { return false }
      return index >= graph.nodes.count
    }.joined(separator: "\n")
  }

  /// The first convolution, read by a ReLU, takes the Zᴮ rule with the input's range
  /// (section 4.4.3): its pre-activation recomputed with the bounds, the ε-division, then
  /// the three transposed convolutions.
  @Test func zBetaWithoutBatchNorm() throws {
    let text = try Self.block(#"x = relu(conv(input, out: 3, k: 3, pad: 1) @ "c"); return linear(flatten(x), out: 2) @ "fc";"#)
    #expect(text == #"""
        %5 = lrp_seed(%4) : f32[N,2,2]
        %6 = lrp_epsilon_divide(%5, %4) {eps=0.01} : f32[N,2,2]
        %7 = linear_transpose(%6) @fc {in=48, out=2} : f32[N,2,48]
        %8 = unflatten(%7) {dims=[3,4,4]} : f32[N,2,3,4,4]
        %9 = lrp_multiply(%2, %8) : f32[N,2,3,4,4]
        %10 = zb_preactivation(%0) @c {out=3, kernel=[3,3], stride=[1,1], pad=[1,1], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,3,4,4]
        %11 = lrp_epsilon_divide(%9, %10) {eps=0.01} : f32[N,2,3,4,4]
        %12 = zb_relevance(%0, %11) @c {out=3, kernel=[3,3], stride=[1,1], pad=[1,1], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,2,4,4]
      """#)
  }

  /// With a batch norm between the first convolution and its ReLU, the norm is folded into
  /// the Zᴮ layer (`fold=n`) and has no step of its own.
  @Test func zBetaWithBatchNorm() throws {
    let text = try Self.block(#"x = relu(bn(conv(input, out: 3, k: 3, pad: 1, bias: false) @ "c") @ "n"); return linear(flatten(x), out: 2) @ "fc";"#)
    #expect(text == #"""
        %6 = lrp_seed(%5) : f32[N,2,2]
        %7 = lrp_epsilon_divide(%6, %5) {eps=0.01} : f32[N,2,2]
        %8 = linear_transpose(%7) @fc {in=48, out=2} : f32[N,2,48]
        %9 = unflatten(%8) {dims=[3,4,4]} : f32[N,2,3,4,4]
        %10 = lrp_multiply(%3, %9) : f32[N,2,3,4,4]
        %11 = zb_preactivation(%0) @c {out=3, kernel=[3,3], stride=[1,1], pad=[1,1], dilation=[1,1], groups=1, bias=false, fold=n, fold_eps=1e-05, in=[2,4,4], range=[0.0,1.0]} : f32[N,3,4,4]
        %12 = lrp_epsilon_divide(%10, %11) {eps=0.01} : f32[N,2,3,4,4]
        %13 = zb_relevance(%0, %12) @c {out=3, kernel=[3,3], stride=[1,1], pad=[1,1], dilation=[1,1], groups=1, bias=false, fold=n, fold_eps=1e-05, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,2,4,4]
      """#)
  }

  /// A concatenation sends each input its channel slice of the adjoint; both branches'
  /// relevance meets at `x` as a sum (eq. 21).
  @Test func concatenationSplitsByChannels() throws {
    let text = try Self.block(#"x = relu(conv(input, out: 2, k: 1) @ "c0"); a = relu(conv(x, out: 2, k: 1) @ "a"); b = relu(conv(x, out: 3, k: 1) @ "b"); return linear(flatten(concat(a, b)), out: 2) @ "fc";"#)
    #expect(text == #"""
        %10 = lrp_seed(%9) : f32[N,2,2]
        %11 = lrp_epsilon_divide(%10, %9) {eps=0.01} : f32[N,2,2]
        %12 = linear_transpose(%11) @fc {in=80, out=2} : f32[N,2,80]
        %13 = unflatten(%12) {dims=[5,4,4]} : f32[N,2,5,4,4]
        %14 = slice_channels(%13) {start=0, count=2} : f32[N,2,2,4,4]
        %15 = lrp_multiply(%4, %14) : f32[N,2,2,4,4]
        %16 = slice_channels(%13) {start=2, count=3} : f32[N,2,3,4,4]
        %17 = lrp_multiply(%6, %16) : f32[N,2,3,4,4]
        %18 = lrp_epsilon_divide(%17, %5) {eps=0.01} : f32[N,2,3,4,4]
        %19 = conv2d_transpose(%18) @b {out=3, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4]} : f32[N,2,2,4,4]
        %20 = lrp_multiply(%2, %19) : f32[N,2,2,4,4]
        %21 = lrp_epsilon_divide(%15, %3) {eps=0.01} : f32[N,2,2,4,4]
        %22 = conv2d_transpose(%21) @a {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4]} : f32[N,2,2,4,4]
        %23 = lrp_multiply(%2, %22) : f32[N,2,2,4,4]
        %24 = add(%20, %23) : f32[N,2,2,4,4]
        %25 = zb_preactivation(%0) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,4,4]
        %26 = lrp_epsilon_divide(%24, %25) {eps=0.01} : f32[N,2,2,4,4]
        %27 = zb_relevance(%0, %26) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,2,4,4]
      """#)
  }

  /// A residual addition: one ε-division by the sum's z, the adjoint sent unchanged to both
  /// inputs, so relevance splits in proportion to each input's share of z. The skip's
  /// contribution and the convolution's meet at `x` as a sum.
  @Test func residualAdditionSharesOneDivision() throws {
    let text = try Self.block(#"x = relu(conv(input, out: 2, k: 1) @ "c0"); h = conv(x, out: 2, k: 1) @ "c1"; return linear(flatten(relu(add(h, x))), out: 2) @ "fc";"#)
    #expect(text == #"""
        %8 = lrp_seed(%7) : f32[N,2,2]
        %9 = lrp_epsilon_divide(%8, %7) {eps=0.01} : f32[N,2,2]
        %10 = linear_transpose(%9) @fc {in=32, out=2} : f32[N,2,32]
        %11 = unflatten(%10) {dims=[2,4,4]} : f32[N,2,2,4,4]
        %12 = lrp_multiply(%5, %11) : f32[N,2,2,4,4]
        %13 = lrp_epsilon_divide(%12, %4) {eps=0.01} : f32[N,2,2,4,4]
        %14 = lrp_multiply(%2, %13) : f32[N,2,2,4,4]
        %15 = conv2d_transpose(%13) @c1 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4]} : f32[N,2,2,4,4]
        %16 = lrp_multiply(%2, %15) : f32[N,2,2,4,4]
        %17 = add(%14, %16) : f32[N,2,2,4,4]
        %18 = zb_preactivation(%0) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,4,4]
        %19 = lrp_epsilon_divide(%17, %18) {eps=0.01} : f32[N,2,2,4,4]
        %20 = zb_relevance(%0, %19) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,2,4,4]
      """#)
  }

  /// Max pooling with its arg-max fixed is a selection: `max_unpool2d` routes each value to
  /// its window's winner (summing where windows share one, section 4.4.1).
  @Test func maxPoolingRoutesToTheWinner() throws {
    let text = try Self.block(#"x = relu(conv(input, out: 2, k: 1) @ "c0"); return linear(flatten(maxpool(x, k: 2)), out: 2) @ "fc";"#)
    #expect(text == #"""
        %6 = lrp_seed(%5) : f32[N,2,2]
        %7 = lrp_epsilon_divide(%6, %5) {eps=0.01} : f32[N,2,2]
        %8 = linear_transpose(%7) @fc {in=8, out=2} : f32[N,2,8]
        %9 = unflatten(%8) {dims=[2,2,2]} : f32[N,2,2,2,2]
        %10 = max_unpool2d(%9, %3) {kernel=[2,2], stride=[2,2], pad=[0,0], in=[2,4,4]} : f32[N,2,2,4,4]
        %11 = lrp_multiply(%2, %10) : f32[N,2,2,4,4]
        %12 = zb_preactivation(%0) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,4,4]
        %13 = lrp_epsilon_divide(%11, %12) {eps=0.01} : f32[N,2,2,4,4]
        %14 = zb_relevance(%0, %13) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,2,4,4]
      """#)
  }

  /// An ε-layer feeding another directly (the global pool before the classifier) is an
  /// activation point: two ε steps, one at the logits and one at the pool's output.
  @Test func epsilonLayerFeedingAnotherIsAnActivationPoint() throws {
    let text = try Self.block(#"x = relu(conv(input, out: 2, k: 1) @ "c0"); return linear(global_avgpool(x), out: 2) @ "fc";"#)
    #expect(text == #"""
        %6 = lrp_seed(%5) : f32[N,2,2]
        %7 = lrp_epsilon_divide(%6, %5) {eps=0.01} : f32[N,2,2]
        %8 = linear_transpose(%7) @fc {in=2, out=2} : f32[N,2,2]
        %9 = unflatten(%8) {dims=[2,1,1]} : f32[N,2,2,1,1]
        %10 = lrp_multiply(%3, %9) : f32[N,2,2,1,1]
        %11 = lrp_epsilon_divide(%10, %3) {eps=0.01} : f32[N,2,2,1,1]
        %12 = adaptive_avg_pool2d_transpose(%11) {out=[1,1], in=[2,4,4]} : f32[N,2,2,4,4]
        %13 = lrp_multiply(%2, %12) : f32[N,2,2,4,4]
        %14 = zb_preactivation(%0) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,4,4]
        %15 = lrp_epsilon_divide(%13, %14) {eps=0.01} : f32[N,2,2,4,4]
        %16 = zb_relevance(%0, %15) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,2,4,4]
      """#)
  }

  /// An element-wise function is an activation like ReLU: relevance at its output is the
  /// relevance of its input z, where the ε-rule applies; after the first layer, Zᴮ.
  @Test func sigmoidPassesRelevanceLikeReLU() throws {
    let text = try Self.block(#"x = sigmoid(conv(input, out: 2, k: 1) @ "c0"); y = sigmoid(conv(x, out: 2, k: 1) @ "c1"); return linear(flatten(y), out: 2) @ "fc";"#)
    #expect(text == #"""
        %7 = lrp_seed(%6) : f32[N,2,2]
        %8 = lrp_epsilon_divide(%7, %6) {eps=0.01} : f32[N,2,2]
        %9 = linear_transpose(%8) @fc {in=32, out=2} : f32[N,2,32]
        %10 = unflatten(%9) {dims=[2,4,4]} : f32[N,2,2,4,4]
        %11 = lrp_multiply(%4, %10) : f32[N,2,2,4,4]
        %12 = lrp_epsilon_divide(%11, %3) {eps=0.01} : f32[N,2,2,4,4]
        %13 = conv2d_transpose(%12) @c1 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4]} : f32[N,2,2,4,4]
        %14 = lrp_multiply(%2, %13) : f32[N,2,2,4,4]
        %15 = zb_preactivation(%0) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,4,4]
        %16 = lrp_epsilon_divide(%14, %15) {eps=0.01} : f32[N,2,2,4,4]
        %17 = zb_relevance(%0, %16) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,2,4,4]
      """#)
  }

  /// A gate is a constant: the product's transpose multiplies the adjoint by the gate
  /// (`mul` in the block, the gate broadcast over classes and channels) and sends it to the
  /// features alone; nothing of the block reads the gate's own convolution `g`.
  @Test func gatedProductSendsRelevanceToTheFeaturesAlone() throws {
    let text = try Self.block(#"x = relu(conv(input, out: 2, k: 1) @ "c0"); g = sigmoid(conv(x, out: 1, k: 2, stride: 2) @ "g"); y = relu(mul(conv(x, out: 2, k: 1) @ "c1", upsample_nearest(g, scale: 2))); return linear(flatten(y), out: 2) @ "fc";"#)
    #expect(text == #"""
        %11 = lrp_seed(%10) : f32[N,2,2]
        %12 = lrp_epsilon_divide(%11, %10) {eps=0.01} : f32[N,2,2]
        %13 = linear_transpose(%12) @fc {in=32, out=2} : f32[N,2,32]
        %14 = unflatten(%13) {dims=[2,4,4]} : f32[N,2,2,4,4]
        %15 = lrp_multiply(%8, %14) : f32[N,2,2,4,4]
        %16 = lrp_epsilon_divide(%15, %7) {eps=0.01} : f32[N,2,2,4,4]
        %17 = mul(%16, %6) : f32[N,2,2,4,4]
        %18 = conv2d_transpose(%17) @c1 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4]} : f32[N,2,2,4,4]
        %19 = lrp_multiply(%2, %18) : f32[N,2,2,4,4]
        %20 = zb_preactivation(%0) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,4,4]
        %21 = lrp_epsilon_divide(%19, %20) {eps=0.01} : f32[N,2,2,4,4]
        %22 = zb_relevance(%0, %21) @c0 {out=2, kernel=[1,1], stride=[1,1], pad=[0,0], dilation=[1,1], groups=1, bias=true, in=[2,4,4], range=[0.0,1.0]} : f32[N,2,2,4,4]
      """#)
  }

  /// Relevance reaching an upsampling (outside a gate) has no rule: refused, naming it.
  @Test func relevanceThroughUpsamplingIsRefused() throws {
    let graph = try compileSource(#"isnet 1; model m(input: f32[2, 4, 4] in [0, 1]) { x = relu(conv(input, out: 2, k: 1) @ "c0"); x = upsample_bilinear(x); return linear(flatten(x), out: 2) @ "fc"; }"#)
    #expect(throws: LRPError.self) { try graph.withLRPBlock() }
    do { _ = try graph.withLRPBlock() } catch { #expect(error.message.contains("upsample_bilinear")) }
  }

  /// With the ε input rule the first layer takes the ε-rule like the others (its batch norm
  /// transposed, not folded) and the input is an activation point: R = x ⊙ c.
  @Test func epsilonInputRuleTreatsTheInputAsAnActivation() throws {
    let body = #"x = relu(bn(conv(input, out: 3, k: 3, pad: 1, bias: false) @ "c") @ "n"); return linear(flatten(x), out: 2) @ "fc";"#
    let text = try Self.block(body, options: LRPOptions(inputRule: .epsilon))
    #expect(text == #"""
        %6 = lrp_seed(%5) : f32[N,2,2]
        %7 = lrp_epsilon_divide(%6, %5) {eps=0.01} : f32[N,2,2]
        %8 = linear_transpose(%7) @fc {in=48, out=2} : f32[N,2,48]
        %9 = unflatten(%8) {dims=[3,4,4]} : f32[N,2,3,4,4]
        %10 = lrp_multiply(%3, %9) : f32[N,2,3,4,4]
        %11 = lrp_epsilon_divide(%10, %2) {eps=0.01} : f32[N,2,3,4,4]
        %12 = batch_norm_transpose(%11) @n {eps=1e-05, momentum=0.1} : f32[N,2,3,4,4]
        %13 = conv2d_transpose(%12) @c {out=3, kernel=[3,3], stride=[1,1], pad=[1,1], dilation=[1,1], groups=1, bias=false, in=[2,4,4]} : f32[N,2,2,4,4]
        %14 = lrp_multiply(%0, %13) : f32[N,2,2,4,4]
      """#)
  }

  /// What the Zᴮ rule refuses (a first convolution read beyond its batch norm, an input
  /// read beyond the first convolution) is an ordinary graph for the ε input rule: the
  /// input's relevance is the sum of what reaches it.
  @Test func epsilonInputRuleAcceptsWhatZBetaRefuses() throws {
    let bodies = [
      #"c = conv(input, out: 2, k: 1, bias: false) @ "c"; x = relu(bn(c) @ "n"); return linear(flatten(add(x, c)), out: 2) @ "fc";"#,
      #"x = relu(conv(input, out: 2, k: 1) @ "c"); return linear(flatten(concat(x, input)), out: 2) @ "fc";"#,
    ]
    for body in bodies {
      let graph = try compileSource("isnet 1;\nmodel m(input: f32[2, 4, 4] in [0, 1]) {\n\(body)\n}\n")
      #expect(throws: LRPError.self) { try graph.withLRPBlock() }
      let lrp = try graph.withLRPBlock(LRPOptions(inputRule: .epsilon))
      #expect(lrp.verify().isEmpty)
      #expect(!lrp.nodes.contains { ["zb_relevance", "zb_preactivation"].contains($0.op.name) })
    }
  }
}
