// What the pickle machine refuses: malicious checkpoints (their pickle calls os.system),
// globals outside the allow-list, opcodes torch.save does not write, malformed pickles and
// tensors that reach outside their storage. Each gives an error naming the file; nothing runs.

import Foundation
import TensorFiles
import Testing

@testable import TorchCheckpoint

@Suite struct RefusalTests {
  /// The file the fixtures' payload (`touch isnetc-pickle-payload-ran`) would create.
  let marker = FileManager.default.currentDirectoryPath + "/isnetc-pickle-payload-ran"

  @Test(arguments: [
    ("malicious.pth", "malicious/data.pkl byte 22 (GLOBAL)"), ("malicious.legacy.pth", "byte 159 (GLOBAL)"),
    ("malicious.protocol4.pth", "byte 28 (STACK_GLOBAL)"),
  ])
  func maliciousCheckpointIsRefusedAndNothingRuns(_ file: String, place: String) throws {
    let path = fixture(file)
    // The fixture is armed: its pickle names os.system and carries the command.
    let bytes = try readBytes(path)
    #expect(bytes.firstRange(of: Array("touch isnetc-pickle-payload-ran".utf8)) != nil)
    #expect(bytes.firstRange(of: Array("posix".utf8)) != nil)
    #expect(!FileManager.default.fileExists(atPath: marker))
    expectTensorFileError(["\(place): refuses global 'posix.system'", "runs nothing"], file: path) {
      _ = try TorchCheckpoint(path: path)
    }
    #expect(!FileManager.default.fileExists(atPath: marker))
  }

  @Test func wholeModelsAndTorchScriptAreRefusedWithAHint() {
    let whole = fixture("whole-model.pth")
    expectTensorFileError(
      ["(GLOBAL): refuses global 'torch.nn.modules.linear.Linear'", "save model.state_dict() instead"], file: whole
    ) { _ = try TorchCheckpoint(path: whole) }
    let script = fixture("torchscript.pt")
    expectTensorFileError(["a TorchScript archive (torch.jit.save), not a checkpoint"], file: script) {
      _ = try TorchCheckpoint(path: script)
    }
  }

  @Test(arguments: [
    ("builtins", "eval"), ("os", "system"), ("subprocess", "Popen"), ("torch", "load"), ("torch.nn.modules.linear", "Linear"),
    ("numpy.core.multiarray", "_reconstruct"), ("torch._utils", "_rebuild_device_tensor_from_numpy"), ("collections", "Counter"),
  ])
  func globalsOutsideTheAllowListAreRefusedByName(_ module: String, _ name: String) {
    var pickle = PickleWriter()
    pickle.global(module, name)
    pickle.string("payload")
    pickle.op(.tuple1)
    pickle.op(.reduce)
    pickle.op(.stop)
    let error = expectTensorFileError(["data.pkl byte 2 (GLOBAL): refuses global '\(module).\(name)'"], file: "hand.pth") {
      _ = try checkpoint(pickle: pickle.bytes)
    }
    #expect(error?.message.contains("save model.state_dict() instead") == module.hasPrefix("torch.nn."))
  }

  @Test func unknownAndUnsupportedOpcodesAreErrors() {
    expectTensorFileError(["data.pkl byte 2: unknown pickle opcode 0xFF"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02, 0xFF])
    }
    // INST names a class and instantiates it: never supported.
    expectTensorFileError(["byte 2 (INST): opcode not supported"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02] + Array("ios\nsystem\n".utf8) + [0x2E])
    }
    expectTensorFileError(["byte 0 (PROTO): unsupported pickle protocol 9"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x09, 0x2E])
    }
  }

  @Test func malformedPicklesAreErrors() {
    expectTensorFileError(["byte 2 (STOP): the stack is empty"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02, 0x2E])
    }
    expectTensorFileError(["byte 2 (BINGET): memo entry 7 was never stored"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02, 0x68, 7, 0x2E])
    }
    expectTensorFileError(["byte 2 (BINUNICODE): a length of 65535 bytes exceeds the 1 that remain"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02, 0x58, 0xFF, 0xFF, 0, 0, 0x61])
    }
    expectTensorFileError(["byte 3: the pickle ends without STOP"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02, 0x4E])
    }
    expectTensorFileError(["byte 2 (SETITEMS): no MARK precedes it"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02, 0x75])
    }
    // REDUCE may only apply an allowed function: not a storage class, not a string.
    var pickle = PickleWriter()
    pickle.global("torch", "FloatStorage")
    pickle.op(.emptyTuple)
    pickle.op(.reduce)
    pickle.op(.stop)
    expectTensorFileError(["(REDUCE): torch.FloatStorage is not a function that isnetc applies"], file: "hand.pth") {
      _ = try checkpoint(pickle: pickle.bytes)
    }
    expectTensorFileError(["(REDUCE): can only apply an allowed global, not a str"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02, 0x8C, 1, 0x61, 0x29, 0x52, 0x2E])
    }
  }

  /// A few bytes per level nest containers arbitrarily deep; releasing them must not recurse.
  @Test func deeplyNestedContainersAreNoCrash() {
    let levels = 300_000
    expectTensorFileError(["byte 102 (TUPLE1): tuples nested more than 100 deep"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02, 0x29] + Array(repeating: 0x85, count: levels) + [0x2E])
    }
    // Lists: push `levels` empty lists, then APPEND each into the one below it.
    expectTensorFileError(["the checkpoint holds a list, not a state_dict"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02] + Array(repeating: 0x5D, count: levels) + Array(repeating: 0x61, count: levels - 1) + [0x2E])
    }
    // Dicts built outside in: {"k": {"k": ...}}, each memoized, filled after it is nested.
    var pickle: [UInt8] = [0x80, 0x02]
    for level in 0..<levels {
      pickle += [0x7D, 0x72] + withUnsafeBytes(of: UInt32(level).littleEndian, Array.init) + [0x30]
    }
    for level in 0..<(levels - 1) {
      pickle += [0x6A] + withUnsafeBytes(of: UInt32(level).littleEndian, Array.init) + [0x8C, 1, 0x6B, 0x6A]
      pickle += withUnsafeBytes(of: UInt32(level + 1).littleEndian, Array.init) + [0x73, 0x30]
    }
    pickle += [0x6A, 0, 0, 0, 0, 0x2E]
    expectTensorFileError(["no state_dict in the checkpoint: its dict (keys 'k') holds no tensors"], file: "hand.pth") {
      _ = try checkpoint(pickle: pickle)
    }
  }

  @Test func stridedTensorsAreGatheredFromHandWrittenPickles() throws {
    // A [3, 2] view with stride [1, 3] at offset 1 of a 7-element storage: elements 1, 4, 2, 5, 3, 6.
    var pickle = PickleWriter()
    pickle.stateDict { p in
      p.string("w")
      p.tensor(key: "0", count: 7, offset: 1, size: [3, 2], stride: [1, 3])
      p.string("e")
      p.tensor(key: "0", count: 7, offset: 6, size: [2, 2], stride: [0, 0])
    }
    let storage = f32Bytes([0, 1, 2, 3, 4, 5, 6])
    let result = try checkpoint(pickle: pickle.bytes, storages: ["0": storage])
    #expect(result.tensors.map(\.name) == ["w", "e"])
    #expect(result.tensors[0].values == [1, 4, 2, 5, 3, 6])
    #expect(result.tensors[1].values == [6, 6, 6, 6])
  }

  @Test func tensorsOutsideTheirStorageAreErrors() {
    var pickle = PickleWriter()
    pickle.stateDict { p in
      p.string("w")
      p.tensor(key: "0", count: 10, offset: 0, size: [3, 4], stride: [4, 1])
    }
    expectTensorFileError(["reach element 11, but its storage holds 10 F32 elements"], file: "hand.pth", tensor: "w") {
      _ = try checkpoint(pickle: pickle.bytes, storages: ["0": f32Bytes(Array(repeating: 0, count: 10))])
    }
    expectTensorFileError(["its storage '0' is missing from the file"], file: "hand.pth", tensor: "w") {
      _ = try checkpoint(pickle: pickle.bytes)
    }
    var rank = PickleWriter()
    rank.stateDict { p in
      p.string("w")
      p.tensor(key: "0", count: 10, offset: 0, size: [2, 5], stride: [5])
    }
    expectTensorFileError(["size [2, 5] and stride [5] differ in rank"], file: "hand.pth") {
      _ = try checkpoint(pickle: rank.bytes, storages: ["0": f32Bytes(Array(repeating: 0, count: 10))])
    }
  }

  @Test func objectsThatAreNotStateDictsAreErrors() {
    expectTensorFileError(["the checkpoint holds a list, not a state_dict"], file: "hand.pth") {
      _ = try checkpoint(pickle: [0x80, 0x02, 0x5D, 0x2E])
    }
    var training = PickleWriter()
    training.op(.emptyDict)
    training.op(.mark)
    training.string("epoch")
    training.int(3)
    training.string("optimizer")
    training.op(.emptyDict)
    training.op(.setItems)
    training.op(.stop)
    expectTensorFileError(["no state_dict in the checkpoint: its dict (keys 'epoch', 'optimizer') holds no tensors"], file: "hand.pth") {
      _ = try checkpoint(pickle: training.bytes)
    }
    var mixed = PickleWriter()
    mixed.stateDict { p in
      p.string("w")
      p.tensor(key: "0", count: 1, offset: 0, size: [1], stride: [1])
      p.string("note")
      p.string("not a tensor")
    }
    expectTensorFileError(["entry is a str, not a tensor"], file: "hand.pth", tensor: "note") {
      _ = try checkpoint(pickle: mixed.bytes, storages: ["0": f32Bytes([1])])
    }
  }
}
