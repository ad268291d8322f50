/// The legacy format of `torch.save` (before torch 1.6, or `_use_new_zipfile_serialization=False`):
/// five pickles back to back — the magic number 0x1950A86A20F9469CFC6C, the protocol version
/// 1001, a dict of system information (byte order), the object itself (persistent ids
/// `('storage', storage_type, key, location, numel, view)`), the list of storage keys — then
/// each listed storage as an 8-byte little-endian element count followed by its bytes.

import TensorFiles

enum LegacyCheckpoint {
  /// 0x1950A86A20F9469CFC6C as LONG1 writes it: little-endian two's complement.
  private static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

  static func read(path: String, bytes: [UInt8]) throws(TensorFileError) -> UnpickledCheckpoint {
    func plain(_ position: Int) -> PickleMachine {
      PickleMachine(bytes: bytes, start: position, file: path, record: nil) { (_) throws(PickleFailure) -> PickleValue in
        throw PickleFailure("a persistent id outside the checkpoint's object")
      }
    }
    var header = plain(0)
    guard case .bigInt(let number) = try header.run(), number == magic else {
      throw TensorFileError(file: path, "a pickle, but not a PyTorch checkpoint: it does not start with torch.save's magic number")
    }
    header = plain(header.position)
    guard case .int(let version) = try header.run(), version == 1001 else {
      throw TensorFileError(file: path, "a legacy PyTorch checkpoint of an unknown protocol version (1001 is read)")
    }
    header = plain(header.position)
    let system = try header.run()
    if case .dict(let info) = system, case .bool(false) = info["little_endian"] {
      throw TensorFileError(file: path, "saved on a big-endian machine; only little-endian checkpoints are read")
    }

    // The object; its storages are recorded by key with their element type and count.
    var saved: [String: (dtype: TensorDType, count: Int)] = [:]
    var body = PickleMachine(bytes: bytes, start: header.position, file: path, record: nil) {
      (id) throws(PickleFailure) -> PickleValue in
      let (storage, count) = try storageReference(id)
      if saved[storage.key] == nil { saved[storage.key] = (storage.dtype, count) }
      return .storage(storage)
    }
    let root = try body.run()
    var keysPickle = plain(body.position)
    let keysAt = body.position
    guard let keys = try keysPickle.run().sequence?.compactMap(\.string) else {
      throw TensorFileError(file: path, "byte \(keysAt): expected the list of storage keys")
    }

    var storages: [String: ArraySlice<UInt8>] = [:]
    var position = keysPickle.position
    for key in keys {
      guard let (dtype, count) = saved[key] else {
        throw TensorFileError(file: path, "byte \(position): storage '\(key)' is listed but no tensor uses it")
      }
      guard bytes.count - position >= 8 else {
        throw TensorFileError(file: path, "byte \(position): the file ends before storage '\(key)' (truncated file?)")
      }
      let stored = bytes[position..<(position + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
      guard stored == UInt64(count) else {
        throw TensorFileError(file: path, "byte \(position): storage '\(key)' says \(stored) elements, the pickle said \(count)")
      }
      let length = count * dtype.byteSize
      position += 8
      guard bytes.count - position >= length else {
        throw TensorFileError(
          file: path, "byte \(position): storage '\(key)' needs \(length) bytes, only \(bytes.count - position) remain (truncated file?)")
      }
      storages[key] = bytes[position..<(position + length)]
      position += length
    }
    return UnpickledCheckpoint(root: root, storages: storages, arena: body.arena)
  }

  /// `('storage', storage_type, root_key, location, numel, view_metadata)`, where a view is
  /// `(view_key, offset, size)` in elements of the root storage. Returns the reference and
  /// the root storage's element count.
  private static func storageReference(_ id: PickleValue) throws(PickleFailure) -> (StorageReference, Int) {
    guard case .tuple(let fields, _) = id, fields.count == 6, fields[0].string == "storage" else {
      if case .tuple(let fields, _) = id, fields.first?.string == "module" {
        throw PickleFailure("the checkpoint holds a whole nn.Module; save its state_dict() instead")
      }
      throw PickleFailure("expected a persistent id ('storage', type, key, location, size, view), got a \(id.typeName)")
    }
    guard case .global(.storageType(let dtype, _, _)) = fields[1] else {
      throw PickleFailure("the storage type is a \(fields[1].typeName), not a torch storage class")
    }
    guard let key = fields[2].string, let count = fields[4].int, count >= 0 else {
      throw PickleFailure("the storage has no valid key and element count")
    }
    let (total, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
    guard !overflow else { throw PickleFailure("storage '\(key)' claims \(count) elements") }
    guard case .tuple(let view, _) = fields[5] else {
      return (StorageReference(key: key, dtype: dtype, byteCount: total, byteOffset: 0), count)
    }
    guard view.count == 3, let offset = view[1].int, let size = view[2].int, offset >= 0, size >= 0, offset <= count,
      size <= count - offset
    else {
      throw PickleFailure("storage '\(key)' has a view outside it")
    }
    let reference = StorageReference(key: key, dtype: dtype, byteCount: size * dtype.byteSize, byteOffset: offset * dtype.byteSize)
    return (reference, count)
  }
}
