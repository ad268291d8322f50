/// The zip format of `torch.save` (torch 1.6 and later): one folder, named after the file,
/// holding `data.pkl` (the pickled object, whose persistent ids
/// `('storage', storage_type, key, location, numel)` name storages), `data/KEY` (each
/// storage's bytes), and `byteorder` (absent in older files, which are little-endian).

import TensorFiles

enum ZipCheckpoint {
  /// Unpickles `data.pkl` and reads the storages it refers to.
  static func read(path: String, fileSize: Int) throws(TensorFileError) -> UnpickledCheckpoint {
    let archive = try ZipArchive(path: path, fileSize: fileSize)
    let pickles = archive.names.filter { name in
      name.hasSuffix("/data.pkl") && name.dropLast("/data.pkl".count).allSatisfy { $0 != "/" }
    }
    guard pickles.count == 1, let record = pickles.first else {
      throw TensorFileError(
        file: path, pickles.isEmpty ? "a zip archive without data.pkl: not a PyTorch checkpoint" : "a zip archive with \(pickles.count) data.pkl records")
    }
    let folder = String(record.dropLast("data.pkl".count))
    // torch.jit.save writes data.pkl too, beside the model's code and constants.
    if archive.names.contains(folder + "constants.pkl") {
      throw TensorFileError(file: path, "a TorchScript archive (torch.jit.save), not a checkpoint: save the model's state_dict() with torch.save")
    }
    if archive.names.contains(folder + "byteorder") {
      let order = try archive.contents(of: folder + "byteorder")
      guard order == Array("little".utf8) else {
        throw TensorFileError(file: path, "the storages are stored \(String(decoding: order, as: UTF8.self))-endian; only little-endian checkpoints are read")
      }
    }

    var referenced: [String: Int] = [:]  // storage key → the most bytes any reference needs
    var machine = PickleMachine(bytes: try archive.contents(of: record), file: path, record: record) {
      (id) throws(PickleFailure) -> PickleValue in
      let storage = try storageReference(id)
      referenced[storage.key] = max(referenced[storage.key] ?? 0, storage.byteCount)
      return .storage(storage)
    }
    let root = try machine.run()

    var storages: [String: ArraySlice<UInt8>] = [:]
    for (key, needed) in referenced {
      let bytes = try archive.contents(of: "\(folder)data/\(key)")
      guard bytes.count >= needed else {
        throw TensorFileError(file: path, "storage '\(key)' holds \(bytes.count) bytes, the pickle says \(needed)")
      }
      storages[key] = bytes[...]
    }
    return UnpickledCheckpoint(root: root, storages: storages, arena: machine.arena)
  }

  /// `('storage', storage_type, key, location, numel)`.
  static func storageReference(_ id: PickleValue) throws(PickleFailure) -> StorageReference {
    guard case .tuple(let fields, _) = id, fields.count == 5, fields[0].string == "storage" else {
      throw PickleFailure("expected a persistent id ('storage', type, key, location, size), got a \(id.typeName)")
    }
    guard case .global(.storageType(let dtype, _, _)) = fields[1] else {
      throw PickleFailure("the storage type is a \(fields[1].typeName), not a torch storage class")
    }
    guard let key = fields[2].string, !key.isEmpty, !key.contains("/") else {
      throw PickleFailure("the storage key must be a plain string")
    }
    guard let count = fields[4].int, count >= 0 else {
      throw PickleFailure("storage '\(key)' has no valid element count")
    }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
    guard !overflow else { throw PickleFailure("storage '\(key)' claims \(count) elements") }
    return StorageReference(key: key, dtype: dtype, byteCount: bytes, byteOffset: 0)
  }
}

/// What a checkpoint format hands on: the unpickled object, the bytes of each storage key,
/// and the arena holding the object's lists and dicts (it must live as long as `root`).
struct UnpickledCheckpoint {
  let root: PickleValue
  let storages: [String: ArraySlice<UInt8>]
  let arena: PickleArena
}
