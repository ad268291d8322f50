/// A pickle interpreter for checkpoints: runs the opcodes `torch.save` emits over a stack, a
/// mark stack and a memo, and builds `PickleValue`s. It never executes anything: GLOBAL and
/// STACK_GLOBAL resolve only against `TorchGlobal`'s allow-list (anything else is refused on
/// the spot, naming the global), REDUCE and NEWOBJ apply only those globals, natively, and
/// BINPERSID hands the id to the checkpoint format's own storage lookup. Every length is
/// checked against the bytes that remain, so truncated or corrupt input gives an error naming
/// the file and the byte offset, never a crash.

import TensorFiles

/// A failure that the machine reports with the file and the offset it was at.
struct PickleFailure: Error {
  let message: String
  init(_ message: String) { self.message = message }
}

struct PickleMachine {
  private let bytes: [UInt8]
  private let file: String
  /// Where the pickle lives, for messages: "data.pkl" in a zip checkpoint, nil when offsets
  /// are the file's own (legacy checkpoints).
  private let record: String?
  /// The position after the last opcode read; after `run()`, just past STOP.
  private(set) var position: Int
  private var stack: [PickleValue] = []
  private var marks: [Int] = []
  private var memo: [Int: PickleValue] = [:]
  /// Holds the lists and dicts built here; the values returned must not outlive it.
  let arena = PickleArena()
  private let persistentLoad: (PickleValue) throws(PickleFailure) -> PickleValue

  init(
    bytes: [UInt8], start: Int = 0, file: String, record: String?,
    persistentLoad: @escaping (PickleValue) throws(PickleFailure) -> PickleValue
  ) {
    self.bytes = bytes
    self.position = start
    self.file = file
    self.record = record
    self.persistentLoad = persistentLoad
  }

  /// Runs until STOP and returns the pickled object.
  mutating func run() throws(TensorFileError) -> PickleValue {
    while true {
      let at = position
      guard position < bytes.count else {
        throw error(at: at, "the pickle ends without STOP (truncated file?)")
      }
      let byte = bytes[position]
      position += 1
      guard let opcode = PickleOpcode(rawValue: byte) else {
        let hex = String(byte, radix: 16, uppercase: true)
        throw error(at: at, "unknown pickle opcode 0x\(hex.count == 1 ? "0" : "")\(hex)")
      }
      do {
        if let result = try step(opcode) { return result }
      } catch let failure {
        throw error(at: at, "(\(opcode.name)): \(failure.message)")
      }
    }
  }

  /// Executes one opcode; returns the result at STOP.
  private mutating func step(_ opcode: PickleOpcode) throws(PickleFailure) -> PickleValue? {
    switch opcode {
    case .proto:
      let version = try littleEndian(1)
      guard version <= 5 else { throw PickleFailure("unsupported pickle protocol \(version)") }
    case .frame:
      _ = try take(8)
    case .stop:
      return try pop()
    case .mark:
      marks.append(stack.count)
    case .pop:
      if let mark = marks.last, mark == stack.count { marks.removeLast() } else { _ = try pop() }
    case .popMark:
      _ = try popToMark()
    case .dup:
      stack.append(try top())

    case .none: stack.append(.none)
    case .newTrue: stack.append(.bool(true))
    case .newFalse: stack.append(.bool(false))
    case .binInt: stack.append(.int(Int(Int32(bitPattern: UInt32(try littleEndian(4))))))
    case .binInt1: stack.append(.int(Int(try littleEndian(1))))
    case .binInt2: stack.append(.int(Int(try littleEndian(2))))
    case .long1: stack.append(integer(try take(Int(try littleEndian(1)))))
    case .long4: stack.append(integer(try take(try length(4))))
    case .binFloat: stack.append(.float(Double(bitPattern: try bigEndian64())))

    case .binUnicode: stack.append(.string(try utf8(try take(try length(4)))))
    case .shortBinUnicode: stack.append(.string(try utf8(try take(try length(1)))))
    case .binUnicode8: stack.append(.string(try utf8(try take(try length(8)))))
    case .binString: stack.append(.string(text(try take(try length(4)))))
    case .shortBinString: stack.append(.string(text(try take(try length(1)))))
    case .binBytes: stack.append(.bytes(Array(try take(try length(4)))))
    case .shortBinBytes: stack.append(.bytes(Array(try take(try length(1)))))
    case .binBytes8: stack.append(.bytes(Array(try take(try length(8)))))

    case .emptyTuple: stack.append(try tuple([]))
    case .tuple: stack.append(try tuple(try popToMark()))
    case .tuple1, .tuple2, .tuple3:
      let count = Int(opcode.rawValue - PickleOpcode.tuple1.rawValue) + 1
      var items = [PickleValue]()
      for _ in 0..<count { items.append(try pop()) }
      stack.append(try tuple(items.reversed()))
    case .emptyList: create(.list(PickleList()))
    case .list: create(.list(PickleList(try popToMark())))
    case .append:
      let item = try pop()
      try targetList().items.append(item)
    case .appends:
      let items = try popToMark()
      try targetList().items.append(contentsOf: items)
    case .emptyDict: create(.dict(PickleDict(ordered: false)))
    case .dict:
      let dict = PickleDict(ordered: false)
      create(.dict(dict))
      try setItems(try popToMark(), into: dict)
    case .setItem:
      let value = try pop()
      let key = try pop()
      try targetDict().set(key, value)
    case .setItems:
      let items = try popToMark()
      try setItems(items, into: try targetDict())

    case .binPut: memo[Int(try littleEndian(1))] = try top()
    case .longBinPut: memo[Int(try littleEndian(4))] = try top()
    case .memoize: memo[memo.count] = try top()
    case .binGet: stack.append(try recall(Int(try littleEndian(1))))
    case .longBinGet: stack.append(try recall(Int(try littleEndian(4))))

    case .global:
      let module = try line()
      let name = try line()
      stack.append(try resolve(module: module, name: name))
    case .stackGlobal:
      let name = try pop()
      let module = try pop()
      guard let module = module.string, let name = name.string else {
        throw PickleFailure("expects two strings, got \(module.typeName) and \(name.typeName)")
      }
      stack.append(try resolve(module: module, name: name))
    case .reduce, .newObj:
      let arguments = try pop()
      let callable = try pop()
      guard case .tuple(let items, _) = arguments else {
        throw PickleFailure("expects a tuple of arguments, got \(arguments.typeName)")
      }
      guard case .global(let global) = callable else {
        throw PickleFailure("can only apply an allowed global, not a \(callable.typeName)")
      }
      if opcode == .newObj, global != .orderedDict {
        throw PickleFailure("cannot create an instance of \(global.pythonName)")
      }
      switch global.apply(opcode == .newObj ? [] : items) {
      case .success(let value): create(value)
      case .failure(let failure): throw PickleFailure(failure.message)
      }
    case .build:
      // The state of an OrderedDict is its attributes (a state_dict's `_metadata`), which a
      // weights file does not need. Nothing else may be built.
      let state = try pop()
      let target = try top()
      guard case .dict = target else {
        throw PickleFailure("cannot set the state (\(state.typeName)) of a \(target.typeName)")
      }
    case .binPersId:
      stack.append(try persistentLoad(try pop()))

    case .int, .long, .float, .string, .unicode, .put, .get, .persId, .inst, .obj, .newObjEx, .emptySet,
      .addItems, .frozenSet, .ext1, .ext2, .ext4, .byteArray8, .nextBuffer, .readonlyBuffer:
      throw PickleFailure("opcode not supported in a checkpoint (torch.save does not write it)")
    }
    return nil
  }

  // MARK: Reading bytes

  /// The next `count` bytes; fails when fewer remain.
  private mutating func take(_ count: Int) throws(PickleFailure) -> ArraySlice<UInt8> {
    let remaining = bytes.count - position
    guard count >= 0, count <= remaining else {
      throw PickleFailure("needs \(count) more bytes, only \(remaining) remain (truncated file?)")
    }
    defer { position += count }
    return bytes[position..<(position + count)]
  }

  /// An unsigned little-endian integer of `width` bytes (at most 8).
  private mutating func littleEndian(_ width: Int) throws(PickleFailure) -> UInt64 {
    try take(width).reversed().reduce(0) { $0 << 8 | UInt64($1) }
  }

  /// A length field of `width` bytes, which must fit in the remaining input.
  private mutating func length(_ width: Int) throws(PickleFailure) -> Int {
    let value = try littleEndian(width)
    guard value <= UInt64(bytes.count - position) else {
      throw PickleFailure("a length of \(value) bytes exceeds the \(bytes.count - position) that remain (truncated file?)")
    }
    return Int(value)
  }

  private mutating func bigEndian64() throws(PickleFailure) -> UInt64 {
    try take(8).reduce(0) { $0 << 8 | UInt64($1) }
  }

  /// A newline-terminated line (GLOBAL's module and name).
  private mutating func line() throws(PickleFailure) -> String {
    guard let end = bytes[position...].firstIndex(of: 0x0A) else {
      throw PickleFailure("the line starting at byte \(position) has no end (truncated file?)")
    }
    let text = try utf8(bytes[position..<end])
    position = end + 1
    return text
  }

  private func utf8(_ slice: ArraySlice<UInt8>) throws(PickleFailure) -> String {
    guard let text = String(validating: slice, as: UTF8.self) else {
      throw PickleFailure("string is not valid UTF-8")
    }
    return text
  }

  /// Protocol 1 strings (Python 2's str): UTF-8 when valid, else Latin-1.
  private func text(_ slice: ArraySlice<UInt8>) -> String {
    String(validating: slice, as: UTF8.self) ?? String(String.UnicodeScalarView(slice.map { Unicode.Scalar($0) }))
  }

  /// LONG1 and LONG4's little-endian two's complement.
  private func integer(_ slice: ArraySlice<UInt8>) -> PickleValue {
    guard slice.count <= 8 else { return .bigInt(Array(slice)) }
    guard let last = slice.last else { return .int(0) }
    var value: UInt64 = last >= 0x80 ? .max : 0
    for byte in slice.reversed() { value = value << 8 | UInt64(byte) }
    return .int(Int(Int64(bitPattern: value)))
  }

  // MARK: The stack, marks and memo

  /// Tuples deeper than this are refused: torch writes depth 3 at most, and releasing a
  /// deeper structure recurses (lists and dicts need no bound: the arena releases them).
  static let maxTupleDepth = 100

  private func tuple(_ items: [PickleValue]) throws(PickleFailure) -> PickleValue {
    var depth = 1
    for case .tuple(_, let inner) in items { depth = max(depth, inner + 1) }
    guard depth <= Self.maxTupleDepth else {
      throw PickleFailure("tuples nested more than \(Self.maxTupleDepth) deep")
    }
    return .tuple(items, depth: depth)
  }

  /// Pushes a value just built; lists and dicts are handed to the arena.
  private mutating func create(_ value: PickleValue) {
    arena.hold(value)
    stack.append(value)
  }

  private var floor: Int { marks.last ?? 0 }

  private mutating func pop() throws(PickleFailure) -> PickleValue {
    guard stack.count > floor else { throw PickleFailure("the stack is empty") }
    return stack.removeLast()
  }

  private func top() throws(PickleFailure) -> PickleValue {
    guard stack.count > floor, let value = stack.last else { throw PickleFailure("the stack is empty") }
    return value
  }

  private mutating func popToMark() throws(PickleFailure) -> [PickleValue] {
    guard let mark = marks.popLast() else { throw PickleFailure("no MARK precedes it") }
    let items = Array(stack[mark...])
    stack.removeSubrange(mark...)
    return items
  }

  private func recall(_ index: Int) throws(PickleFailure) -> PickleValue {
    guard let value = memo[index] else { throw PickleFailure("memo entry \(index) was never stored") }
    return value
  }

  private func targetList() throws(PickleFailure) -> PickleList {
    let target = try top()
    guard case .list(let list) = target else { throw PickleFailure("appends to a \(target.typeName), not a list") }
    return list
  }

  private func targetDict() throws(PickleFailure) -> PickleDict {
    let target = try top()
    guard case .dict(let dict) = target else { throw PickleFailure("sets items of a \(target.typeName), not a dict") }
    return dict
  }

  private func setItems(_ items: [PickleValue], into dict: PickleDict) throws(PickleFailure) {
    guard items.count % 2 == 0 else { throw PickleFailure("an odd number of keys and values") }
    for i in stride(from: 0, to: items.count, by: 2) { dict.set(items[i], items[i + 1]) }
  }

  private func resolve(module: String, name: String) throws(PickleFailure) -> PickleValue {
    guard let global = TorchGlobal(module: module, name: name) else {
      // A class of torch.nn or of the saving script: `torch.save(model)` rather than its state_dict.
      let wholeModel = module.hasPrefix("torch.nn.") || module == "__main__"
      throw PickleFailure(
        "refuses global '\(module).\(name)': a weights checkpoint needs only collections.OrderedDict, "
          + "torch's tensor rebuild functions, storage types and dtypes, and isnetc runs nothing from the file"
          + (wholeModel ? " (this one seems to hold a whole model: save model.state_dict() instead)" : ""))
    }
    return .global(global)
  }

  private func error(at offset: Int, _ message: String) -> TensorFileError {
    let place = "\(record.map { "\($0) " } ?? "")byte \(offset)"
    return TensorFileError(file: file, message.hasPrefix("(") ? "\(place) \(message)" : "\(place): \(message)")
  }
}
