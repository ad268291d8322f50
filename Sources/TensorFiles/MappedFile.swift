/// A read-only memory mapping of a whole file (mmap, MAP_PRIVATE, PROT_READ), unmapped when the
/// last reference goes. Tensor data is read straight from the page cache, never copied whole.

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The mapping is immutable after `init` (read-only pages, no mutable state), so sharing it
/// between threads is safe; `@unchecked` only because it holds a raw pointer.
final class MappedFile: @unchecked Sendable {
  let path: String
  /// The mapped bytes; empty (and unmapped) for an empty file.
  let bytes: UnsafeRawBufferPointer

  init(path: String) throws {
    self.path = path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
      throw TensorFileError(file: path, "cannot open: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var info = stat()
    if fstat(fd, &info) != 0 {
      throw TensorFileError(file: path, "cannot stat: \(String(cString: strerror(errno)))")
    }
    if (info.st_mode & S_IFMT) != S_IFREG {
      throw TensorFileError(file: path, "not a regular file")
    }
    let size = Int(info.st_size)
    if size == 0 {
      bytes = UnsafeRawBufferPointer(start: nil, count: 0)
      return
    }
    guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
      throw TensorFileError(file: path, "cannot memory-map: \(String(cString: strerror(errno)))")
    }
    bytes = UnsafeRawBufferPointer(start: base, count: size)
  }

  deinit {
    if let base = bytes.baseAddress {
      munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
    }
  }
}
