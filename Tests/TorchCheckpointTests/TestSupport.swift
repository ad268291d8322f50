// Helpers for the checkpoint tests: fixture paths, error assertions, hand-written pickles run
// through the same machinery as a zip checkpoint's data.pkl.

import Foundation
import TensorFiles
import Testing
import TestSupport

@testable import TorchCheckpoint

/// `Tests/Fixtures/torch/NAME` (made by scripts/make_torch_fixtures.py).
func fixture(_ name: String) -> String { Repository.path("Tests/Fixtures/torch/\(name)") }

func readBytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

/// A fresh empty directory, removed by the caller with `FileManager.removeItem`.
func makeTemporaryDirectory() throws -> String {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent("isnetc-torch-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url.path
}

/// Runs `body`, expecting a TensorFileError for `file` whose text contains every one of `texts`.
@discardableResult
func expectTensorFileError(
  _ texts: [String], file: String, tensor: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws -> Void
) -> TensorFileError? {
  do {
    try body()
    Issue.record("expected an error containing \(texts)", sourceLocation: sourceLocation)
  } catch let error as TensorFileError {
    #expect(error.file == file, "\(error)", sourceLocation: sourceLocation)
    #expect(error.description.hasPrefix("\(file): "), "\(error)", sourceLocation: sourceLocation)
    if let tensor { #expect(error.tensor == tensor, "\(error)", sourceLocation: sourceLocation) }
    for text in texts { #expect(error.description.contains(text), "\(error)", sourceLocation: sourceLocation) }
    return error
  } catch {
    Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
  }
  return nil
}

/// The state_dict of a pickle written by hand, with `storages` as the zip records `data/KEY`.
func checkpoint(pickle: [UInt8], storages: [String: [UInt8]] = [:]) throws -> TorchCheckpoint {
  var machine = PickleMachine(bytes: pickle, file: "hand.pth", record: "data.pkl") { (id) throws(PickleFailure) -> PickleValue in
    .storage(try ZipCheckpoint.storageReference(id))
  }
  let root = try machine.run()
  return try TorchCheckpoint(
    path: "hand.pth", format: .zip, unpickled: UnpickledCheckpoint(root: root, storages: storages.mapValues { $0[...] }, arena: machine.arena))
}

/// Writes pickles opcode by opcode (protocol 2, as torch.save does).
struct PickleWriter {
  var bytes: [UInt8] = [PickleOpcode.proto.rawValue, 2]

  mutating func op(_ opcode: PickleOpcode) { bytes.append(opcode.rawValue) }

  mutating func global(_ module: String, _ name: String) {
    op(.global)
    bytes += Array("\(module)\n\(name)\n".utf8)
  }

  mutating func string(_ text: String) {
    op(.binUnicode)
    bytes += withUnsafeBytes(of: UInt32(text.utf8.count).littleEndian, Array.init) + Array(text.utf8)
  }

  mutating func int(_ value: Int32) {
    op(.binInt)
    bytes += withUnsafeBytes(of: value.littleEndian, Array.init)
  }

  mutating func tuple(_ items: [Int32]) {
    op(.mark)
    for item in items { int(item) }
    op(.tuple)
  }

  /// `collections.OrderedDict()`.
  mutating func orderedDict() {
    global("collections", "OrderedDict")
    op(.emptyTuple)
    op(.reduce)
  }

  /// `_rebuild_tensor_v2(storage KEY (COUNT floats), offset, size, stride, False, OrderedDict())`.
  mutating func tensor(key: String, count: Int32, offset: Int32, size: [Int32], stride: [Int32], storageType: String = "FloatStorage") {
    global("torch._utils", "_rebuild_tensor_v2")
    op(.mark)
    op(.mark)
    string("storage")
    global("torch", storageType)
    string(key)
    string("cpu")
    int(count)
    op(.tuple)
    op(.binPersId)
    int(offset)
    tuple(size)
    tuple(stride)
    op(.newFalse)
    orderedDict()
    op(.tuple)
    op(.reduce)
  }

  /// An OrderedDict of the entries that `entries` writes (key, value pairs), then STOP.
  mutating func stateDict(_ entries: (inout PickleWriter) -> Void) {
    orderedDict()
    op(.mark)
    entries(&self)
    op(.setItems)
    op(.stop)
  }
}

func f32Bytes(_ values: [Float]) -> [UInt8] {
  values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
}

/// Float → bfloat16 → Float, rounding to nearest even as torch does (finite values).
func bfloat16Rounded(_ x: Float) -> Float {
  let bits = x.bitPattern
  return Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000)
}
