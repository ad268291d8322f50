/// Atomic file replacement: write into a temporary file in the destination's directory, fsync it,
/// rename it over the destination, fsync the directory. A killed run leaves either the old file
/// or the new one, never a half-written one (at worst a stray `.name.tmp-*` file).

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

struct AtomicFileWriter: ~Copyable {
  let destination: String
  private let temporaryPath: String
  private var fd: Int32
  private var committed = false

  /// Creates the temporary file next to `destination`.
  init(destination: String) throws {
    self.destination = destination
    let slash = destination.lastIndex(of: "/")
    let directory = slash.map { String(destination[...$0]) } ?? ""
    let base = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
    var suffix = ""
    var fd: Int32 = -1
    for _ in 0..<16 {
      suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
      let candidate = "\(directory).\(base).tmp-\(getpid())-\(suffix)"
      fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
      if fd >= 0 {
        self.temporaryPath = candidate
        self.fd = fd
        return
      }
      if errno != EEXIST { break }
    }
    throw TensorFileError(file: destination, "cannot create a temporary file next to it: \(String(cString: strerror(errno)))")
  }

  /// Appends bytes, retrying short writes and EINTR.
  mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
    var offset = 0
    while offset < bytes.count {
      let n = posixWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        let reason = String(cString: strerror(errno))
        abandon()
        throw TensorFileError(file: destination, "write failed: \(reason)")
      }
      offset += n
    }
  }

  mutating func write(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { (raw) in try write(raw) }
  }

  /// Flushes to disk and renames over the destination.
  mutating func commit() throws {
    if fsync(fd) != 0 {
      let reason = String(cString: strerror(errno))
      abandon()
      throw TensorFileError(file: destination, "fsync failed: \(reason)")
    }
    if close(fd) != 0 {
      let reason = String(cString: strerror(errno))
      fd = -1
      abandon()
      throw TensorFileError(file: destination, "close failed: \(reason)")
    }
    fd = -1
    if rename(temporaryPath, destination) != 0 {
      let reason = String(cString: strerror(errno))
      abandon()
      throw TensorFileError(file: destination, "cannot rename the temporary file over it: \(reason)")
    }
    // Make the rename itself durable (best effort: some file systems refuse to fsync directories).
    let slash = destination.lastIndex(of: "/")
    let directory = slash.map { String(destination[...$0]) } ?? "."
    let dirFD = open(directory, O_RDONLY | O_CLOEXEC)
    if dirFD >= 0 {
      _ = fsync(dirFD)
      close(dirFD)
    }
    committed = true
  }

  /// Closes and removes the temporary file; the destination is untouched.
  private mutating func abandon() {
    if fd >= 0 { close(fd) }
    fd = -1
    unlink(temporaryPath)
  }

  deinit {
    if fd >= 0 { close(fd) }
    if !committed { unlink(temporaryPath) }
  }
}

/// Creates `path` atomically with the bytes that `fill` writes; on any error the destination is untouched.
func writeFileAtomically(_ path: String, _ fill: (inout AtomicFileWriter) throws -> Void) throws {
  var writer = try AtomicFileWriter(destination: path)
  try fill(&writer)
  try writer.commit()
}

@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
  #if canImport(Darwin)
    Darwin.write(fd, buffer, count)
  #elseif canImport(Musl)
    Musl.write(fd, buffer, count)
  #else
    Glibc.write(fd, buffer, count)
  #endif
}
