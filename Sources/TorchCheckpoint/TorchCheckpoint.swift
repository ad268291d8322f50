/// PyTorch checkpoints (`torch.save` files, `.pth`/`.pt`), read natively: the zip format
/// (torch 1.6 and later) and the legacy single-stream format, told apart by their first bytes.
/// The pickle inside is interpreted by `PickleMachine`, which runs nothing from the file and
/// refuses every global a state_dict does not need. The state_dict is found (also under
/// `state_dict`, with DDP's `module.` prefix removed) and each tensor read as Float32.

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif
import TensorFiles

public struct TorchCheckpoint: Sendable {
  public enum Format: String, Sendable {
    case zip = "PyTorch zip checkpoint"
    case legacy = "PyTorch legacy checkpoint"
  }

  /// One tensor of the state_dict.
  public struct Tensor: Sendable, Equatable {
    public let name: String
    /// The element type stored in the file.
    public let dtype: TensorDType
    public let shape: [Int]
    /// Row-major values converted to Float32; nil for integer and boolean tensors (such as
    /// batch norm's `num_batches_tracked`) and other types that do not convert.
    public let values: [Float]?
  }

  public let path: String
  public let format: Format
  /// The state_dict's tensors in the file's order, named without the removed prefix.
  public let tensors: [Tensor]
  /// The key the state_dict was found under (`state_dict`), nil when it is the whole file.
  public let container: String?
  /// The prefix removed from every name (`module.`), nil when none was.
  public let strippedPrefix: String?

  /// Reads the checkpoint at `path`; throws `TensorFileError` naming the file (and the tensor
  /// or byte offset) for anything malformed, truncated or refused.
  public init(path: String) throws(TensorFileError) {
    let (prefix, size) = try Self.peek(path)
    if prefix.starts(with: Self.zipMagic) {
      try self.init(path: path, format: .zip, unpickled: try ZipCheckpoint.read(path: path, fileSize: size))
    } else if prefix.first == 0x80 {
      try self.init(path: path, format: .legacy, unpickled: try LegacyCheckpoint.read(path: path, bytes: try Self.contents(path)))
    } else {
      throw TensorFileError(file: path, "not a PyTorch checkpoint: it starts with neither a zip header nor a pickle")
    }
  }

  /// Finds the state_dict in an unpickled checkpoint and reads its tensors.
  init(path: String, format: Format, unpickled: UnpickledCheckpoint) throws(TensorFileError) {
    let stateDict = try StateDict(root: unpickled.root, file: path)
    self.path = path
    self.format = format
    container = stateDict.container
    strippedPrefix = stateDict.strippedPrefix
    tensors = try stateDict.entries.map { (name, reference) throws(TensorFileError) in
      Tensor(
        name: name, dtype: reference.dtype, shape: reference.shape,
        values: try TensorAssembly.values(of: reference, name: name, storages: unpickled.storages, file: path))
    }
  }

  /// Whether the file starts like a checkpoint: a zip archive, or a pickle (a safetensors file
  /// can start with 0x80 too, but has its JSON header's `{` at byte 8). Unreadable: false.
  public static func recognizes(path: String) -> Bool {
    guard let (prefix, _) = try? peek(path) else { return false }
    if prefix.starts(with: zipMagic) { return true }
    return prefix.first == 0x80 && !(prefix.count > 8 && prefix[8] == UInt8(ascii: "{"))
  }

  private static let zipMagic: [UInt8] = [0x50, 0x4B, 0x03, 0x04]

  /// The first bytes of the file and its size.
  private static func peek(_ path: String) throws(TensorFileError) -> ([UInt8], Int) {
    try withOpenFile(path) { (fd, size) throws(TensorFileError) in
      (try readFully(fd, count: min(size, 9), path: path), size)
    }
  }

  private static func contents(_ path: String) throws(TensorFileError) -> [UInt8] {
    try withOpenFile(path) { (fd, actual) throws(TensorFileError) in
      try readFully(fd, count: actual, path: path)
    }
  }

  private static func withOpenFile<R>(_ path: String, _ body: (Int32, Int) throws(TensorFileError) -> R) throws(TensorFileError) -> R {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw TensorFileError(file: path, "cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw TensorFileError(file: path, "cannot stat: \(String(cString: strerror(errno)))") }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw TensorFileError(file: path, "not a regular file") }
    return try body(fd, Int(info.st_size))
  }

  private static func readFully(_ fd: Int32, count: Int, path: String) throws(TensorFileError) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    var filled = 0
    while filled < count {
      let n = bytes.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress! + filled, count - filled) }
      if n < 0, errno == EINTR { continue }
      guard n > 0 else {
        throw TensorFileError(file: path, n < 0 ? "read failed: \(String(cString: strerror(errno)))" : "the file shrank while being read")
      }
      filled += n
    }
    return bytes
  }
}
