/// Elaboration: runs a model's body at compile time — binding block parameters, unrolling
/// `repeat`, evaluating integer arithmetic and labels — and appends one GraphIR node per
/// op call, with shapes inferred as it goes. Errors are reported at the call that caused
/// them, with a note per enclosing block call; the failed value becomes poison so the
/// rest of the model is still checked.

import GraphIR

/// Elaboration cannot go on (a limit was hit); already reported.
struct Abort: Error {}

struct Elaborator {
  static let maximumCallDepth = 64
  static let maximumNodes = 1_000_000
  /// Statements and expressions evaluated; bounds the time a hostile `repeat` can take.
  static let maximumSteps = 20_000_000

  private(set) var builder: GraphBuilder
  private(set) var log: DiagnosticLog
  private let blocks: [String: BlockDecl]
  private var scopePath: [String] = []
  private var callStack: [(block: String, location: SourceLocation)] = []
  /// Where each parameter-owning node name was first defined.
  private var owners: [String: (location: SourceLocation, callStack: [(block: String, location: SourceLocation)])] = [:]
  /// The call that made each op node (by node index; nil for the input), for the check that
  /// every op contributes to the logits.
  private(set) var nodeCalls: [(op: String, location: SourceLocation, callStack: [(block: String, location: SourceLocation)])?] = []
  private var steps = 0

  /// Variables of one block (or the model) body.
  struct Frame {
    var variables: [String: Value] = [:]
    var returned: (value: Value, location: SourceLocation)?
    /// A multi-task model's segmentation, returned after its logits.
    var segmentation: (value: Value, location: SourceLocation)?
    /// Variables of the `repeat` loops being run, which the body may not assign.
    var loopVariables: Set<String> = []
  }

  init(program: Program) {
    blocks = program.blocks
    log = program.log
    builder = GraphBuilder(name: program.model?.name ?? "model")
  }

  // MARK: Diagnostics

  private mutating func error(
    at location: SourceLocation, _ message: String,
    callStack: [(block: String, location: SourceLocation)]? = nil
  ) {
    let notes = (callStack ?? self.callStack).reversed().map { Diagnostic(.note, at: $0.location, "in block '\($0.block)' called from here") }
    log.report(Diagnostic(at: location, message, notes: notes))
  }

  private mutating func step(_ location: SourceLocation) throws(Abort) {
    steps += 1
    guard steps <= Self.maximumSteps else {
      error(at: location, "elaboration takes more than \(Self.maximumSteps) steps; is a repeat range too large?")
      throw Abort()
    }
    guard !log.isFull else { throw Abort() }
  }

  // MARK: Model

  mutating func elaborate(_ model: ModelDecl, options: CompileOptions) -> Graph? {
    do {
      try elaborateModel(model, options: options)
    } catch {}
    guard !log.hasErrors else { return nil }
    let graph = builder.graph
    for problem in graph.verify() {
      log.error(at: model.location, "internal error: the elaborated graph is invalid: \(problem)")
    }
    return log.hasErrors ? nil : graph
  }

  private mutating func elaborateModel(_ model: ModelDecl, options: CompileOptions) throws(Abort) {
    builder.setOutputKind(model.outputKind)
    var frame = Frame()
    var seen: Set<String> = []
    for param in model.params where !seen.insert(param.name).inserted {
      error(at: param.location, "duplicate parameter '\(param.name)' in model '\(model.name)'")
    }
    if let classes = options.classes {
      if let param = model.params.first(where: { $0.name == "classes" }) {
        if case .int = param.type {} else {
          error(at: param.location, "--classes \(classes) given, but parameter 'classes' of model '\(model.name)' is \(param.type.name), not int")
        }
      } else {
        error(at: model.location, "--classes \(classes) given, but model '\(model.name)' has no 'classes' parameter")
      }
    }
    // Scalars first: the input's shape may use them.
    for param in model.params {
      switch param.type {
      case .tensor, .shaped: continue
      case .int, .float, .bool: break
      }
      var value: Value
      if param.name == "classes", case .int = param.type, let classes = options.classes {
        value = .int(classes)
      } else if let defaultValue = param.defaultValue {
        value = try eval(defaultValue, &frame)
      } else {
        error(at: param.location, "model parameter '\(param.name)' needs a default value")
        value = .poison
      }
      if let checked = value.conforms(to: param.type) {
        value = checked
      } else {
        error(at: param.defaultValue?.location ?? param.location, "parameter '\(param.name)' is declared \(param.type.name) but its value is \(value.typeName)")
        value = .poison
      }
      frame.variables[param.name] = value
    }
    let inputs = model.params.filter { if case .int = $0.type { false } else if case .float = $0.type { false } else if case .bool = $0.type { false } else { true } }
    guard inputs.count == 1, let input = inputs.first, case .shaped(let dimExprs, let rangeExprs) = input.type else {
      let at = inputs.dropFirst().first?.location ?? inputs.first?.location ?? model.location
      error(at: at, "model '\(model.name)' needs exactly one input declared with its shape, like 'input: f32[3, 224, 224] in [0, 1]'")
      return
    }
    guard input.defaultValue == nil else {
      error(at: input.location, "the input '\(input.name)' cannot have a default value")
      return
    }
    var dims: [Int] = []
    for expr in dimExprs {
      switch try eval(expr, &frame) {
      case .int(let n): dims.append(n)
      case .poison: return
      case let other:
        error(at: expr.location, "an input dimension must be an int, got \(other.typeName)")
        return
      }
    }
    var range = InputAttributes()
    if let (lowExpr, highExpr) = rangeExprs {
      guard let low = try number(lowExpr, &frame), let high = try number(highExpr, &frame) else { return }
      range = InputAttributes(low: low, high: high)
    }
    if let size = options.inputSize {
      guard dims.count == 3 else {
        error(at: input.location, "--input-size needs an image input [C, H, W], but '\(input.name)' is \(shapeText(dims))")
        return
      }
      dims[1] = size.h
      dims[2] = size.w
    }
    do {
      frame.variables[input.name] = .tensor(try builder.addInput(dims: dims, range: range, name: input.name))
      nodeCalls.append(nil)
    } catch {
      self.error(at: input.location, error.message)
      return
    }
    try run(model.body, &frame)
    guard let (result, location) = frame.returned else {
      error(at: model.location, "model '\(model.name)' does not return its logits (add 'return x;')")
      return
    }
    let inputDims = builder.graph.inputIDs.first.map { builder.graph[$0].type.dims } ?? []
    switch result {
    case .tensor where model.outputKind == .segmentation && frame.segmentation != nil:
      error(at: location, "a segmentation model returns one value, its per-pixel logits")
    case .tensor(let id) where model.outputKind == .segmentation:
      let dims = builder.type(of: id).dims
      guard inputDims.count == 3, dims == [1, inputDims[1], inputDims[2]] else {
        error(at: location, "a segmentation model must return one logit per pixel [1, \(inputDims.count == 3 ? "\(inputDims[1]), \(inputDims[2])" : "H, W")], got \(shapeText(dims))")
        return
      }
      builder.setOutputs([id])
      if !log.hasErrors { reportUnusedNodes(outputs: [id]) }
    case .tensor(let id) where builder.type(of: id).rank == 1:
      builder.setOutputs([id])
      var outputs = [id]
      if let (second, secondLocation) = frame.segmentation {
        guard case .tensor(let mask) = second, inputDims.count == 3, builder.type(of: mask).dims == [1, inputDims[1], inputDims[2]] else {
          if case .poison = second { return }
          let got = if case .tensor(let other) = second { shapeText(builder.type(of: other).dims) } else { second.typeName }
          error(at: secondLocation, "a model's second returned value is its segmentation, one logit per pixel [1, \(inputDims.count == 3 ? "\(inputDims[1]), \(inputDims[2])" : "H, W")]; got \(got)")
          return
        }
        builder.setSegmentation(mask)
        outputs.append(mask)
      }
      if !log.hasErrors { reportUnusedNodes(outputs: outputs) }
    case .tensor(let id):
      error(at: location, "the model must return logits [classes], got \(shapeText(builder.type(of: id).dims)); add global_avgpool or flatten and a linear layer")
    case .poison:
      break
    case let other:
      error(at: location, "the model must return a tensor of logits, got \(other.typeName)")
    }
  }

  /// Reports each op whose result the logits do not depend on and that no other op reads
  /// (the end of a dead chain, usually a value assigned and never used).
  private mutating func reportUnusedNodes(outputs: [NodeID]) {
    let nodes = builder.graph.nodes
    var live = [Bool](repeating: false, count: nodes.count)
    var read = [Bool](repeating: false, count: nodes.count)
    for output in outputs { live[output.index] = true }
    for index in nodes.indices.reversed() {
      for input in nodes[index].inputs {
        read[input.index] = true
        if live[index] { live[input.index] = true }
      }
    }
    for index in nodes.indices where !live[index] && !read[index] {
      guard index < nodeCalls.count, let call = nodeCalls[index] else { continue }
      error(at: call.location, "the result of '\(call.op)' is never used: the logits do not depend on it", callStack: call.callStack)
    }
  }

  private mutating func number(_ expr: Expr, _ frame: inout Frame) throws(Abort) -> Double? {
    switch try eval(expr, &frame) {
    case .int(let v): return Double(v)
    case .float(let v): return v
    case .poison: return nil
    case let other:
      error(at: expr.location, "expected a number, got \(other.typeName)")
      return nil
    }
  }

  // MARK: Statements

  private mutating func run(_ statements: [Stmt], _ frame: inout Frame) throws(Abort) {
    for statement in statements {
      guard frame.returned == nil else { return }
      try execute(statement, &frame)
    }
  }

  private mutating func execute(_ statement: Stmt, _ frame: inout Frame) throws(Abort) {
    switch statement {
    case .assign(let name, let location, let value):
      try step(location)
      let result = try eval(value, &frame)
      guard !frame.loopVariables.contains(name) else {
        error(at: location, "cannot assign to the loop variable '\(name)'")
        return
      }
      frame.variables[name] = result
    case .return(let value, let second, let location):
      try step(location)
      frame.returned = (try eval(value, &frame), value.location)
      if let second { frame.segmentation = (try eval(second, &frame), second.location) }
      _ = location
    case .repeat(let variable, let location, let fromExpr, let toExpr, let inclusive, let body):
      try step(location)
      let from = try eval(fromExpr, &frame)
      let to = try eval(toExpr, &frame)
      guard case .int(let low) = from, case .int(let high) = to else {
        for (value, expr) in [(from, fromExpr), (to, toExpr)] where !value.isPoison {
          if case .int = value { continue }
          error(at: expr.location, "a repeat bound must be an int, got \(value.typeName)")
        }
        Self.poisonAssignments(in: body, &frame)
        return
      }
      let shadowed = frame.variables[variable]
      // Each iteration is a step, charged up front: a huge range fails here, even with an
      // empty body, instead of running until the limit.
      var (iterations, overflow) = high.subtractingReportingOverflow(low)
      if high < low {
        (iterations, overflow) = (0, false)
      } else if inclusive && !overflow {
        (iterations, overflow) = iterations.addingReportingOverflow(1)
      }
      guard !overflow, iterations <= Self.maximumSteps - steps else {
        error(at: location, "elaboration takes more than \(Self.maximumSteps) steps; is a repeat range too large?")
        throw Abort()
      }
      steps += iterations
      let enclosingLoopVariable = !frame.loopVariables.insert(variable).inserted
      var i = low
      while inclusive ? i <= high : i < high {
        frame.variables[variable] = .int(i)
        try run(body, &frame)
        if frame.returned != nil { break }
        guard i < Int.max else { break }
        i += 1
      }
      if !enclosingLoopVariable { frame.loopVariables.remove(variable) }
      frame.variables[variable] = shadowed
    case .scope(let label, let body):
      try step(label.location)
      guard let segments = try evaluateLabel(label, &frame) else {
        Self.poisonAssignments(in: body, &frame)
        return
      }
      scopePath += segments
      defer { scopePath.removeLast(segments.count) }
      try run(body, &frame)
    }
  }

  /// After an error that keeps a body from running, the variables it would have assigned
  /// are poison, so their later uses report nothing more.
  private static func poisonAssignments(in body: [Stmt], _ frame: inout Frame) {
    for statement in body {
      switch statement {
      case .assign(let name, _, _) where !frame.loopVariables.contains(name): frame.variables[name] = .poison
      case .repeat(_, _, _, _, _, let inner), .scope(_, let inner): poisonAssignments(in: inner, &frame)
      case .assign, .return: break
      }
    }
  }

  // MARK: Expressions

  private mutating func eval(_ expr: Expr, _ frame: inout Frame) throws(Abort) -> Value {
    try step(expr.location)
    switch expr.kind {
    case .integer(let v): return .int(v)
    case .float(let v): return .float(v)
    case .bool(let v): return .bool(v)
    case .identifier(let name):
      if let value = frame.variables[name] { return value }
      let known = frame.variables.keys.sorted()
      let hint = closest(to: name, in: known).map { "; did you mean '\($0)'?" } ?? ""
      error(at: expr.location, "unknown name '\(shown(name))'\(hint)")
      return .poison
    case .list(let items):
      var values: [Value] = []
      for item in items { values.append(try eval(item, &frame)) }
      return values.contains(where: \.isPoison) ? .poison : .list(values)
    case .negate(let operand):
      switch try eval(operand, &frame) {
      case .int(let v):
        guard v != Int.min else {
          error(at: expr.location, "integer overflow in '-'")
          return .poison
        }
        return .int(-v)
      case .float(let v): return .float(-v)
      case .poison: return .poison
      case let other:
        error(at: expr.location, "'-' needs a number, got \(other.typeName)")
        return .poison
      }
    case .binary(let op, let lhs, let rhs):
      let l = try eval(lhs, &frame)
      let r = try eval(rhs, &frame)
      return arithmetic(op, l, r, at: expr.location)
    case .call(let call):
      if let block = blocks[call.callee] {
        return try callBlock(block, call, at: expr.location, &frame)
      }
      if let signature = OpCatalog.signatures[call.callee] {
        return try callOp(signature, call, at: expr.location, &frame)
      }
      let names = Array(blocks.keys) + OpCatalog.all.map(\.name)
      let hint = closest(to: call.callee, in: names.sorted()).map { "; did you mean '\($0)'?" } ?? ""
      error(at: expr.location, "unknown op or block '\(shown(call.callee))'\(hint)")
      for argument in call.arguments { _ = try eval(argument.value, &frame) }
      return .poison
    }
  }

  private mutating func arithmetic(_ op: BinaryOperator, _ l: Value, _ r: Value, at location: SourceLocation) -> Value {
    switch (l, r) {
    case (.poison, _), (_, .poison):
      return .poison
    case (.int(let a), .int(let b)):
      let result: (Int, Bool)
      switch op {
      case .add: result = a.addingReportingOverflow(b)
      case .subtract: result = a.subtractingReportingOverflow(b)
      case .multiply: result = a.multipliedReportingOverflow(by: b)
      case .divide, .remainder:
        guard b != 0 else {
          error(at: location, op == .divide ? "division by zero" : "remainder by zero")
          return .poison
        }
        result = op == .divide ? a.dividedReportingOverflow(by: b) : a.remainderReportingOverflow(dividingBy: b)
      }
      guard !result.1 else {
        error(at: location, "integer overflow in '\(op.rawValue)'")
        return .poison
      }
      return .int(result.0)
    case (.int, .float), (.float, .int), (.float, .float):
      let a = Self.double(l)
      let b = Self.double(r)
      let value: Double
      switch op {
      case .add: value = a + b
      case .subtract: value = a - b
      case .multiply: value = a * b
      case .divide:
        guard b != 0 else {
          error(at: location, "division by zero")
          return .poison
        }
        value = a / b
      case .remainder:
        error(at: location, "'%' needs ints, got \(l.typeName) and \(r.typeName)")
        return .poison
      }
      guard value.isFinite else {
        error(at: location, "float overflow in '\(op.rawValue)'")
        return .poison
      }
      return .float(value)
    case (.tensor, _), (_, .tensor):
      error(at: location, "'\(op.rawValue)' does not apply to tensors\(op == .add ? "; use add(a, b) to sum tensors" : "")")
      return .poison
    default:
      error(at: location, "'\(op.rawValue)' needs numbers, got \(l.typeName) and \(r.typeName)")
      return .poison
    }
  }

  private static func double(_ value: Value) -> Double {
    switch value {
    case .int(let v): Double(v)
    case .float(let v): v
    default: 0
    }
  }

  // MARK: Labels

  /// The label's dot-separated segments after interpolation, or nil after an error.
  private mutating func evaluateLabel(_ label: Label, _ frame: inout Frame) throws(Abort) -> [String]? {
    var text = ""
    for part in label.parts {
      switch part {
      case .text(let piece): text += piece
      case .hole(let expr):
        switch try eval(expr, &frame) {
        case .int(let v): text += String(v)
        case .poison: return nil
        case let other:
          error(at: expr.location, "a label can only interpolate ints, got \(other.typeName)")
          return nil
        }
      }
    }
    guard isValidScopedName(text) else {
      error(at: label.location, "label '\(text.prefix(80))' must be dot-separated names of letters, digits and '_'")
      return nil
    }
    return text.split(separator: ".").map(String.init)
  }

  // MARK: Calls

  private mutating func callOp(_ signature: OpSignature, _ call: Call, at location: SourceLocation, _ frame: inout Frame) throws(Abort) -> Value {
    var inputs: [NodeID] = []
    var attributes: [String: (value: Value, location: SourceLocation)] = [:]
    var failed = false
    var misplaced = false
    for argument in call.arguments {
      let value = try eval(argument.value, &frame)
      guard let name = argument.name else {
        switch value {
        case .tensor(let id): inputs.append(id)
        case .poison: failed = true
        case let other:
          // Once per call: the other positional values are the same mistake.
          if !misplaced {
            let hint = signature.attributes.first.map { "; name attributes, like '\($0.name): ...'" } ?? ""
            error(at: argument.valueLocation, "\(signature.name) takes tensors as positional arguments, got \(other.typeName)\(hint)")
          }
          misplaced = true
          failed = true
        }
        continue
      }
      guard let spec = signature.attributes.first(where: { $0.name == name }) else {
        let names = signature.attributes.map(\.name)
        let known =
          if let close = closest(to: name, in: names) { "did you mean '\(close)'?" }
          else if names.isEmpty { "it has none" }
          else { "it has " + names.map { "'\($0)'" }.joined(separator: ", ") }
        error(at: argument.nameLocation, "\(signature.name) has no attribute '\(shown(name))'; \(known)")
        failed = true
        continue
      }
      guard attributes[name] == nil else {
        error(at: argument.nameLocation, "attribute '\(name)' is given twice")
        failed = true
        continue
      }
      if value.isPoison {
        failed = true
      } else if !Self.matches(value, spec.type) {
        error(at: argument.valueLocation, "attribute '\(name)' of \(signature.name) must be \(spec.type.name), got \(Self.describe(value))")
        failed = true
      }
      attributes[name] = (value, argument.value.location)
    }
    guard signature.inputs.admits(inputs.count) || failed else {
      error(at: location, "\(signature.name) takes \(signature.inputs.description), got \(inputs.count)")
      return .poison
    }
    var resolved: [String: Value] = [:]
    for spec in signature.attributes {
      if let given = attributes[spec.name] {
        resolved[spec.name] = given.value
        continue
      }
      switch spec.defaultValue {
      case .value(let v): resolved[spec.name] = v
      case .sameAs(let other): resolved[spec.name] = resolved[other]
      case .required:
        // After a bad argument, a missing attribute is likely its consequence (a misspelt name).
        if !failed { error(at: location, "\(signature.name) needs attribute '\(spec.name)' (\(spec.type.name))") }
        failed = true
      }
    }
    var name: String? = nil
    if let label = call.label {
      guard let segments = try evaluateLabel(label, &frame) else { return .poison }
      name = (scopePath + segments).joined(separator: ".")
    }
    guard !failed else { return .poison }
    let ops = signature.build(AttributeValues(values: resolved))
    if ops.contains(where: \.ownsParameters) {
      guard let name else {
        error(at: location, "\(signature.name) owns parameters and needs a label naming them, like \(signature.name)(...) @ \"\(signature.name)1\"")
        return .poison
      }
      if let first = owners[name] {
        // Both definitions with their call chains: in a block, the label alone says little.
        func chain(_ stack: [(block: String, location: SourceLocation)]) -> [Diagnostic] {
          stack.reversed().map { Diagnostic(.note, at: $0.location, "in block '\($0.block)' called from here") }
        }
        log.report(
          Diagnostic(
            at: call.label?.location ?? location, "parameters '\(name).*' are already defined",
            notes: chain(callStack) + [Diagnostic(.note, at: first.location, "first defined here")] + chain(first.callStack)))
        return .poison
      }
      owners[name] = (call.label?.location ?? location, callStack)
    }
    var current = inputs
    defer {
      while nodeCalls.count < builder.nodeCount { nodeCalls.append((signature.name, location, callStack)) }
    }
    for (index, op) in ops.enumerated() {
      guard builder.nodeCount < Self.maximumNodes else {
        error(at: location, "the model has more than \(Self.maximumNodes) nodes")
        throw Abort()
      }
      do {
        current = [try builder.add(op, current, name: index == 0 ? name : nil)]
      } catch {
        // A sugar op (global_avgpool) builds ops of other names; say what was written.
        var message = error.message
        if message.hasPrefix(op.name + " ") { message = signature.name + message.dropFirst(op.name.count) }
        self.error(at: location, message)
        return .poison
      }
    }
    return .tensor(current[0])
  }

  private static func matches(_ value: Value, _ type: OpSignature.AttributeType) -> Bool {
    switch (type, value) {
    case (.int, .int), (.float, .float), (.float, .int), (.bool, .bool), (.pair, .int): true
    case (.pair, .list(let items)):
      items.count == 2 && items.allSatisfy { if case .int = $0 { true } else { false } }
    default: false
    }
  }

  private static func describe(_ value: Value) -> String {
    if case .list(let items) = value { return "a list of \(items.count) (\(items.map(\.typeName).joined(separator: ", ")))" }
    return value.typeName
  }

  private mutating func callBlock(_ block: BlockDecl, _ call: Call, at location: SourceLocation, _ frame: inout Frame) throws(Abort) -> Value {
    if callStack.contains(where: { $0.block == block.name }) {
      let chain = callStack.drop(while: { $0.block != block.name }).map(\.block) + [block.name]
      error(at: location, "block '\(block.name)' calls itself (\(chain.joined(separator: " -> "))); recursion is not allowed")
      return .poison
    }
    guard callStack.count < Self.maximumCallDepth else {
      error(at: location, "blocks are nested more than \(Self.maximumCallDepth) calls deep")
      return .poison
    }
    // Bind arguments to parameters: positional in order, then by name.
    var bound: [String: (value: Value, location: SourceLocation)] = [:]
    var failed = false
    var position = 0
    let positional = call.arguments.count(where: { $0.name == nil })
    for argument in call.arguments {
      let value = try eval(argument.value, &frame)
      let param: ParamDecl
      if let name = argument.name {
        guard let found = block.params.first(where: { $0.name == name }) else {
          let hint = closest(to: name, in: block.params.map(\.name)).map { "; did you mean '\($0)'?" } ?? ""
          error(at: argument.nameLocation, "block '\(block.name)' has no parameter '\(shown(name))'\(hint)")
          failed = true
          continue
        }
        param = found
      } else {
        guard position < block.params.count else {
          // Reported once, at the first argument too many.
          if position == block.params.count {
            let count = block.params.count
            error(at: argument.valueLocation, "block '\(block.name)' takes \(count) parameter\(count == 1 ? "" : "s"), got \(positional) positional arguments")
          }
          position += 1
          failed = true
          continue
        }
        param = block.params[position]
        position += 1
      }
      guard bound[param.name] == nil else {
        error(at: argument.nameLocation, "parameter '\(param.name)' of block '\(block.name)' is given twice")
        failed = true
        continue
      }
      guard let checked = value.conforms(to: param.type) else {
        error(at: argument.valueLocation, "parameter '\(param.name)' of block '\(block.name)' is \(param.type.name), got \(value.typeName)")
        failed = true
        continue
      }
      if checked.isPoison { failed = true }
      bound[param.name] = (checked, argument.value.location)
    }
    for param in block.params where bound[param.name] == nil && param.defaultValue == nil && !failed {
      error(at: location, "block '\(block.name)' needs parameter '\(param.name)' (\(param.type.name))")
      failed = true
    }
    var segments: [String] = []
    if let label = call.label {
      guard let evaluated = try evaluateLabel(label, &frame) else { return .poison }
      segments = evaluated
    }
    guard !failed else { return .poison }

    var inner = Frame()
    callStack.append((block.name, location))
    scopePath += segments
    defer {
      scopePath.removeLast(segments.count)
      callStack.removeLast()
    }
    // Duplicate and shaped parameters were reported with the declaration (Program).
    for param in block.params {
      if let given = bound[param.name] {
        inner.variables[param.name] = given.value
      } else if let defaultValue = param.defaultValue {
        // Defaults see the parameters before them: `stride: int = k` works.
        let value = try eval(defaultValue, &inner)
        guard let checked = value.conforms(to: param.type) else {
          error(at: defaultValue.location, "default of '\(param.name)' is \(value.typeName), but the parameter is \(param.type.name)")
          return .poison
        }
        inner.variables[param.name] = checked
      } else {
        error(at: location, "block '\(block.name)' needs parameter '\(param.name)' (\(param.type.name))")
        return .poison
      }
    }
    try run(block.body, &inner)
    guard let result = inner.returned else {
      error(at: block.location, "block '\(block.name)' ends without 'return'")
      return .poison
    }
    if let second = inner.segmentation {
      error(at: second.location, "block '\(block.name)' returns two values; only a model returns a segmentation beside its logits")
      return .poison
    }
    return result.value
  }
}

/// The candidate closest to `name` by edit distance (a swap of two adjacent characters
/// counting as one edit), if close enough to be a likely typo.
func closest(to name: String, in candidates: [String]) -> String? {
  let target = Array(name.utf8.prefix(64))
  var best: (String, Int)? = nil
  for candidate in candidates {
    let other = Array(candidate.utf8.prefix(64))
    var beforePrevious: [Int] = []
    var previous = Array(0...other.count)
    for (i, a) in target.enumerated() {
      var row = [i + 1]
      for (j, b) in other.enumerated() {
        var distance = min(previous[j + 1] + 1, row[j] + 1, previous[j] + (a == b ? 0 : 1))
        if i > 0, j > 0, a == other[j - 1], target[i - 1] == b { distance = min(distance, beforePrevious[j - 1] + 1) }
        row.append(distance)
      }
      beforePrevious = previous
      previous = row
    }
    let distance = previous[other.count]
    // Names of one or two characters are too short for a guess to mean anything.
    if target.count > 2, distance <= max(1, target.count / 3), distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
  }
  return best?.0
}

/// A name from the source as messages show it: long ones are cut.
func shown(_ name: String) -> String {
  name.utf8.count <= 40 ? name : String(decoding: name.utf8.prefix(40), as: UTF8.self) + "..."
}
